"""Load bpf/vnet_trace.bpf.c, attach the probes a command needs, read, detach."""

from __future__ import annotations

import ctypes
import socket
import time
from collections.abc import Callable, Iterable
from typing import Any

from vnet_ebpf.model import COUNTERS, ArpEvent, Snapshot
from vnet_ebpf.probes import bccglue, bpfstats, device

#: probe group -> (attach kind, driver function, BPF function)
PROBES: dict[str, list[tuple[str, str, str]]] = {
    "xmit": [("kprobe", "vnet_start_xmit", "on_xmit")],
    "poll": [("kprobe", "vnet_napi_poll", "on_poll"), ("kretprobe", "vnet_napi_poll", "on_poll_return")],
    "txc": [("kprobe", "vnet_tx_complete", "on_tx_complete"),
            ("kretprobe", "vnet_tx_complete", "on_tx_complete_return")],
    "arp": [("kprobe", "vnet_build_arp", "on_build_arp")],
}
#: probe group -> the histogram maps it fills.
HISTS: dict[str, tuple[str, ...]] = {
    "xmit": ("tx_occ_hist",),
    "poll": ("work_hist", "poll_ns_hist", "rx_occ_hist"),
    "txc": ("freed_hist",),
    "arp": (),
}
SOURCE = "vnet_trace.bpf.c"


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


class Tracer(bccglue.Loaded):
    """The probes of one device; use as a context manager so detach always happens."""

    def __init__(self, dev: device.Device, groups: Iterable[str], shows: Iterable[str] | None = None) -> None:
        """GROUPS: the probes to attach.  SHOWS: what a snapshot reads (histogram maps,
        "ring_state", "driver"); by default all the groups fill.  Every read costs the
        tracer CPU once per interval, so commands ask only for what they display."""
        super().__init__()
        self.dev = dev
        self.groups = list(groups)
        filled = {h for g in self.groups for h in HISTS[g]}
        if "xmit" in self.groups or "poll" in self.groups:
            filled |= {"ring_state", "driver"}
        self.shows = filled if shows is None else filled & set(shows)
        self.bpf: Any = None
        self.stats_fd: int | None = None
        self.ncpu = 0
        self.attached: list[str] = []

    # -- life cycle --------------------------------------------------------------

    def __enter__(self) -> Tracer:
        self.bpf = bccglue.load(SOURCE, [f"-DIFINDEX={self.dev.ifindex}"])
        for group in self.groups:
            for kind, event, fn in PROBES[group]:
                if kind == "kprobe":
                    self.bpf.attach_kprobe(event=event, fn_name=fn)
                else:
                    self.bpf.attach_kretprobe(event=event, fn_name=fn)
                self.attached.append(fn)
        self.stats_fd = bpfstats.enable_stats()
        self.ncpu = len(self.bpf["counters"][ctypes.c_int(0)])
        if "driver" in self.shows:
            self.ethtool = device.DriverStats(self.dev)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.release()

    # -- reading -------------------------------------------------------------------

    def _struct(self, name: str, field: str) -> list[list[int]]:
        """A one-entry per-CPU array of struct {u64 FIELD[n]} as [index][cpu]."""
        cells = self.bpf[name][ctypes.c_int(0)]
        width = len(getattr(cells[0], field))
        return [[int(getattr(cell, field)[i]) for cell in cells] for i in range(width)]

    def _summed(self, name: str) -> list[int]:
        """Per-entry totals over CPUs; empty for maps this tracer does not show."""
        if name not in self.shows:
            return []
        return [int(sum(v)) for v in bccglue.percpu_rows(self.bpf[name])]

    def snapshot(self) -> Snapshot:
        counters = self._struct("counters", "c")
        state = [[0] * self.ncpu for _ in range(8)]
        if "ring_state" in self.shows:
            table = self.bpf["ring_state"]
            cells = table[ctypes.c_int(0)]
            state = [[int(cell.v[i]) for cell in cells] for i in range(8)]
            # Max occupancy: per read, not per lifetime.  Reset after reading (a
            # sample landing between the read and the write loses only its max).
            for cell in cells:
                cell.v[1] = cell.v[3] = 0
            table[ctypes.c_int(0)] = table.Leaf(*cells)

        def latest(value_idx: int, ts_idx: int) -> int:
            stamps = state[ts_idx]
            cpu = max(range(len(stamps)), key=lambda c: stamps[c])
            return int(state[value_idx][cpu])

        inflight, limit = device.bql(self.dev)
        progs = {}
        if self.stats_fd is not None:
            for fn in self.attached:
                progs[fn] = bpfstats.prog_stat(self.bpf.funcs[fn.encode()].fd)
        return Snapshot(
            t=time.monotonic(),
            counters={name: int(sum(counters[i])) for i, name in enumerate(COUNTERS)},
            polls_per_cpu=[int(v) for v in counters[COUNTERS.index("polls")]],
            packets_per_cpu=[int(v) for v in counters[COUNTERS.index("poll_packets")]],
            work_hist=self._summed("work_hist"),
            poll_ns_hist=self._summed("poll_ns_hist"),
            tx_hist=self._summed("tx_occ_hist"),
            rx_hist=self._summed("rx_occ_hist"),
            freed_hist=self._summed("freed_hist"),
            tx_now=latest(0, 6),
            rx_now=latest(2, 7),
            tx_max=int(max(state[1])),
            rx_max=int(max(state[3])),
            tx_size=int(max(state[4])),
            rx_size=int(max(state[5])),
            bql_inflight=inflight,
            bql_limit=limit,
            # The driver's stop/wake counters are shown by the rings views only.
            driver=self.ethtool.read() if self.ethtool is not None else {},
            progs=progs,
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
