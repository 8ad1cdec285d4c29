"""Load bpf/vnet_trace.bpf.c, attach the probes a command needs, read, detach."""

from __future__ import annotations

import ctypes
import socket
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from vnet_ebpf.errors import UserError
from vnet_ebpf.model import COUNTERS, ArpEvent, QueueSeen, Snapshot
from vnet_ebpf.probes import bccglue, bpfstats, btf, device

#: How the probes reach the driver.  "tracepoint": BPF raw-tracepoint programs on the
#: driver's trace events (kmod/vnet_trace.h), the default: far cheaper on the transmit
#: path than the others (docs/benchmarks.md).  "fentry": fentry/fexit programs (BPF
#: trampolines) on the driver's functions (docs/probe-points.md), which need the
#: module's BTF and BCC >= 0.28.  "kprobe": kprobes and kretprobes on the same
#: functions, which work everywhere.
PROBE_KINDS = ("tracepoint", "fentry", "kprobe")
#: --probes auto takes the first of these the kernel, BCC and vnet.ko offer: the
#: cheapest first, as measured by `make bench` (docs/benchmarks.md).
AUTO_ORDER = ("tracepoint", "fentry", "kprobe")
#: probe kind -> probe group -> (attach kind, driver event or function, BPF function)
PROBES: dict[str, dict[str, list[tuple[str, str, str]]]] = {
    "tracepoint": {
        # The transmits are accounted from the completion runs: no event per frame.
        "xmit": [("raw_tracepoint", "vnet_tx_complete", "tp_tx_complete")],
        "poll": [("raw_tracepoint", "vnet_napi_poll", "tp_napi_poll")],
        "txc": [("raw_tracepoint", "vnet_tx_complete", "tp_tx_complete")],
        "arp": [("raw_tracepoint", "vnet_arp_generated", "tp_arp")],
    },
    # BCC attaches these itself when it loads the programs (bpf/vnet_trace.bpf.c).
    "fentry": {
        "xmit": [("fentry", "vnet_start_xmit", "kfunc__vnet__vnet_start_xmit")],
        "poll": [("fentry", "vnet_napi_poll", "kfunc__vnet__vnet_napi_poll"),
                 ("fexit", "vnet_napi_poll", "kretfunc__vnet__vnet_napi_poll")],
        "txc": [("fentry", "vnet_tx_complete", "kfunc__vnet__vnet_tx_complete"),
                ("fexit", "vnet_tx_complete", "kretfunc__vnet__vnet_tx_complete")],
        "arp": [("fentry", "vnet_build_arp", "kfunc__vnet__vnet_build_arp")],
    },
    "kprobe": {
        "xmit": [("kprobe", "vnet_start_xmit", "on_xmit")],
        "poll": [("kprobe", "vnet_napi_poll", "on_poll"), ("kretprobe", "vnet_napi_poll", "on_poll_return")],
        "txc": [("kprobe", "vnet_tx_complete", "on_tx_complete"),
                ("kretprobe", "vnet_tx_complete", "on_tx_complete_return")],
        "arp": [("kprobe", "vnet_build_arp", "on_build_arp")],
    },
}
#: probe group -> the histograms (fields of struct cpu_stats) it fills.
HISTS: dict[str, tuple[str, ...]] = {
    "xmit": ("tx_hist",),
    "poll": ("work_hist", "poll_ns_hist", "rx_hist"),
    "txc": ("freed_hist",),
    "arp": (),
}
#: Present when the loaded vnet.ko defines trace events that BPF can attach to.
RAW_TP_SECTION = device.MODULE / "sections" / "__bpf_raw_tp_map"
#: Present when the loaded vnet.ko carries BTF, which fentry/fexit programs attach by.
MODULE_BTF = Path("/sys/kernel/btf/vnet")


def unavailable(kind: str) -> str | None:
    """Why probe KIND cannot be used here, or None when it can."""
    if kind == "tracepoint" and not RAW_TP_SECTION.exists():
        return "this vnet.ko has no trace events (built before kmod/vnet_trace.h): rebuild it"
    if kind == "fentry":
        if not MODULE_BTF.exists():
            return ("this vnet.ko has no BTF (/sys/kernel/btf/vnet): build it against headers "
                    "that ship vmlinux BTF (Debian 13's do) with pahole installed")
        if not bccglue.bcc_has_module_fentry():
            return "this BCC cannot attach fentry to module functions (needs BCC >= 0.28)"
    return None


def probe_kind(wanted: str) -> str:
    """The probe kind to use for WANTED ("auto" or one of PROBE_KINDS)."""
    if wanted == "auto":
        return next(kind for kind in AUTO_ORDER if unavailable(kind) is None)
    why = unavailable(wanted)
    if why:
        raise UserError(f"--probes {wanted}: {why}; or use --probes auto")
    return wanted


SOURCE = "vnet_trace.bpf.c"
#: The words of struct ring_seen in bpf/vnet_trace.bpf.c, in order.
RING_FIELDS = ("now", "max", "size", "ts_ns", "gen")
#: struct queue_seen: three counts (xmit, polls, packets), then its TX and RX ring_seen.
QUEUE_WORDS = 3 + 2 * len(RING_FIELDS)
#: Its array's length, QUEUES in bpf/vnet_trace.bpf.c (the driver's VNET_QUEUES_MAX).
QUEUES = 8


class _ArpEventC(ctypes.Structure):
    _fields_ = [
        ("ts_ns", ctypes.c_uint64),
        ("ifindex", ctypes.c_uint32),
        ("peer_ip", ctypes.c_uint32),
        ("target_ip", ctypes.c_uint32),
        ("peer_mac", ctypes.c_uint8 * 6),
        ("pad", ctypes.c_uint8 * 2),
    ]


def _ip(be32: int) -> str:
    return socket.inet_ntoa(be32.to_bytes(4, "little"))


def possible_cpus() -> int:
    """How many CPU slots the per-CPU state needs (CPU numbers are below this)."""
    text = Path("/sys/devices/system/cpu/possible").read_text().strip()  # e.g. "0-1" or "0,2-3"
    return 1 + max(int(part.split("-")[-1]) for part in text.split(","))


# The kernel fields the driver probes of bpf/vnet_trace.bpf.c read: macro -> (struct, member).
KERNEL_FIELDS = {
    "NETDEV_IFINDEX": ("net_device", "ifindex"),
    "NAPI_DEV": ("napi_struct", "dev"),
    "SKB_DATA": ("sk_buff", "data"),
    "SKB_QUEUE_MAPPING": ("sk_buff", "queue_mapping"),
}


def kernel_field_flags(kind: str) -> list[str]:
    """-D flags with where those fields are in the running kernel, from its BTF."""
    try:
        return btf.field_flags(KERNEL_FIELDS, netdev_priv=True)
    except btf.BTFError as err:
        raise UserError(f"--probes {kind} finds the kernel's fields in its BTF: {err} "
                        "(--probes tracepoint needs no BTF)") from None


class Tracer(bccglue.Loaded):
    """The probes of one device; use as a context manager so detach always happens."""

    def __init__(self, dev: device.Device, groups: Iterable[str], shows: Iterable[str] | None = None,
                 kind: str = "tracepoint") -> None:
        """GROUPS: the probes to attach, of KIND (one of PROBE_KINDS).  SHOWS: what a
        snapshot converts (histograms of HISTS, and "driver" for ethtool -S); by default
        all the groups fill.  Every read costs the tracer CPU once per interval, so
        commands ask only for what they display."""
        super().__init__()
        self.dev = dev
        self.groups = list(groups)
        self.kind = kind
        filled = {h for g in self.groups for h in HISTS[g]}
        if "xmit" in self.groups or "poll" in self.groups:
            filled.add("driver")
        self.shows = filled if shows is None else filled & set(shows)
        self.bpf: Any = None
        self.ncpu = possible_cpus()
        self.gen = 0  # the read generation the probes are in (bpf/vnet_trace.bpf.c)
        self.attached: list[str] = []
        self.cells: bccglue.MappedArray | None = None  # bpf/vnet_trace.bpf.c's stats, one row a CPU
        self.cells_fields: dict[str, tuple[int, int]] = {}
        self.read_gen: bccglue.MappedArray | None = None
        self.prog_infos: dict[str, bpfstats.ProgInfo] = {}

    # -- life cycle --------------------------------------------------------------

    def __enter__(self) -> Tracer:
        flags = [f"-DIFINDEX={self.dev.ifindex}", f"-DNCPU={self.ncpu}"]
        if self.kind != "tracepoint":  # probes that read the driver's structs
            flags += ["-DDRIVER_PROBES", *kernel_field_flags(self.kind)]
        if self.kind == "fentry":  # BCC attaches what is compiled in: only these groups
            flags += [f"-DFENTRY_{group.upper()}" for group in self.groups]
        self.bpf = bccglue.load(SOURCE, flags)
        self.cells = bccglue.MappedArray(self.bpf["stats"])
        self.cells_fields = {name: self.cells.field(name) for name, _ in self.cells.leaf._fields_}
        ring_type = dict(self.cells.leaf._fields_)["tx"]
        if tuple(name for name, _ in ring_type._fields_) != RING_FIELDS:
            raise UserError(f"bpf/{SOURCE}: struct ring_seen is not {RING_FIELDS}")
        if self.cells_fields["q"][1] != QUEUES * QUEUE_WORDS:
            raise UserError(f"bpf/{SOURCE}: q[] is not {QUEUES} struct queue_seen of {QUEUE_WORDS} words")
        self.read_gen = bccglue.MappedArray(self.bpf["read_gen"], writable=True)
        self.attach()
        self.stats_fd = bpfstats.enable_stats()
        self.prog_infos = {fn: bpfstats.ProgInfo(self.bpf.funcs[fn.encode()].fd) for fn in self.attached}
        self.files = device.DeviceFiles(self.dev)
        if "driver" in self.shows:
            self.ethtool = device.DriverStats(self.dev)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _probes(self) -> list[tuple[str, str, str]]:
        """(attach kind, event, BPF function) of every program the groups need, once each."""
        seen: dict[str, tuple[str, str, str]] = {}
        for group in self.groups:
            for how, event, fn in PROBES[self.kind][group]:
                seen.setdefault(fn, (how, event, fn))  # one program can serve two groups
        return list(seen.values())

    def attach(self) -> None:
        """Attach every probe not attached yet (BCC attached the fentry ones at load)."""
        for how, event, fn in self._probes():
            if fn in self.attached:
                continue
            try:
                if how in ("fentry", "fexit"):
                    fds = self.bpf.kfunc_entry_fds if how == "fentry" else self.bpf.kfunc_exit_fds
                    if fn.encode() not in fds:  # detached by detach(): attach again
                        attach = self.bpf.attach_kfunc if how == "fentry" else self.bpf.attach_kretfunc
                        attach(fn_name=fn.encode())
                elif how == "raw_tracepoint":
                    self.bpf.attach_raw_tracepoint(tp=event.encode(), fn_name=fn.encode())
                elif how == "kprobe":
                    self.bpf.attach_kprobe(event=event, fn_name=fn)
                else:
                    self.bpf.attach_kretprobe(event=event, fn_name=fn)
            except Exception as err:  # BCC raises a bare Exception (the verifier log is above)
                raise UserError(f"could not attach {fn} to {how} {event}: {err}") from err
            self.attached.append(fn)

    def detach(self) -> None:
        """Detach every probe, keeping the programs and maps loaded (attach() again)."""
        for how, event, fn in reversed(self._probes()):
            if fn not in self.attached:
                continue
            if how == "fentry":
                self.bpf.detach_kfunc(fn_name=fn.encode())
            elif how == "fexit":
                self.bpf.detach_kretfunc(fn_name=fn.encode())
            elif how == "raw_tracepoint":
                self.bpf.detach_raw_tracepoint(tp=event.encode())
            elif how == "kprobe":
                self.bpf.detach_kprobe(event=event.encode(), fn_name=fn.encode())
            else:
                self.bpf.detach_kretprobe(event=event.encode(), fn_name=fn.encode())
            self.attached.remove(fn)

    def close(self) -> None:
        for mapped in (self.cells, self.read_gen):
            if mapped is not None:
                mapped.close()
        self.cells = self.read_gen = None
        self.release()

    # -- reading -------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """A copy of every CPU's slot, then the next read generation: the ring maxima
        read here are those of the generation that just ended."""
        assert self.cells is not None and self.read_gen is not None
        rows = self.cells.rows()  # [cpu][word]
        gen, self.gen = self.gen, self.gen + 1
        self.read_gen.words[0] = self.gen

        def total(name: str) -> list[int]:
            """Field NAME summed over the CPUs."""
            return bccglue.column_sums(rows, *self.cells_fields[name])

        def hist(name: str) -> list[int]:
            return total(name) if name in self.shows else []

        def ring(name: str, off: int | None = None) -> tuple[int, int, int]:
            """Occupancy at the latest sample, the largest of this generation, the size
            (of ring NAME, or of the ring at word OFF)."""
            off = self.cells_fields[name][0] if off is None else off
            seen = [row[off:off + len(RING_FIELDS)] for row in rows]  # RING_FIELDS, per CPU
            latest = max(seen, key=lambda r: r[3])
            peak = max((r[1] for r in seen if r[4] == gen), default=0)
            return latest[0], peak, max(r[2] for r in seen)

        counters = total("c")
        i_polls, i_packets = COUNTERS.index("polls"), COUNTERS.index("poll_packets")
        c_off = self.cells_fields["c"][0]
        tx_now, tx_max, tx_size = ring("tx")
        rx_now, rx_max, rx_size = ring("rx")
        bql = self.files.bql_queues(QUEUES) if self.files is not None else {}
        inflight, limit = bql.get(0, (0, 0))

        def queue(i: int) -> QueueSeen:
            """Queue pair I: struct queue_seen's counts summed over the CPUs, its rings."""
            base = self.cells_fields["q"][0] + i * QUEUE_WORDS
            xmits, polls, packets = bccglue.column_sums(rows, base, 3)
            tx = ring("tx", base + 3)
            rx = ring("rx", base + 3 + len(RING_FIELDS))
            return QueueSeen(i, xmits, polls, packets, *tx, *rx, *bql.get(i, (0, 0)), running=i in bql)
        progs = {fn: info.stat() for fn, info in self.prog_infos.items()} if self.stats_fd is not None else {}
        b_off = self.cells_fields["budget"][0]
        return Snapshot(
            t=time.monotonic(),
            wall=time.time(),
            budget=max(row[b_off] for row in rows),
            counters=dict(zip(COUNTERS, counters, strict=True)),
            polls_per_cpu=[row[c_off + i_polls] for row in rows],
            packets_per_cpu=[row[c_off + i_packets] for row in rows],
            work_hist=hist("work_hist"),
            poll_ns_hist=hist("poll_ns_hist"),
            tx_hist=hist("tx_hist"),
            rx_hist=hist("rx_hist"),
            freed_hist=hist("freed_hist"),
            tx_now=tx_now,
            rx_now=rx_now,
            tx_max=tx_max,
            rx_max=rx_max,
            tx_size=tx_size,
            rx_size=rx_size,
            bql_inflight=inflight,
            bql_limit=limit,
            # The driver's stop/wake counters are shown by the rings views only.
            driver=self.ethtool.read() if self.ethtool is not None else {},
            progs=progs,
            queues=[queue(i) for i in range(QUEUES)],
        )

    # -- ARP events ------------------------------------------------------------------

    def open_arp(self, on_event: Callable[[ArpEvent], None]) -> None:
        def cb(ctx: object, data: int, size: int) -> None:
            ev = ctypes.cast(data, ctypes.POINTER(_ArpEventC)).contents
            on_event(ArpEvent(
                ts_ns=int(ev.ts_ns),
                ifindex=int(ev.ifindex),
                peer_mac=":".join(f"{b:02x}" for b in ev.peer_mac),
                peer_ip=_ip(int(ev.peer_ip)),
                target_ip=_ip(int(ev.target_ip)),
            ))

        self._arp_cb = cb  # keep a reference: BCC holds only a C pointer
        self.bpf["arp_events"].open_ring_buffer(cb)

    def poll_arp(self, timeout_ms: int) -> None:
        self.bpf.ring_buffer_poll(timeout_ms)
