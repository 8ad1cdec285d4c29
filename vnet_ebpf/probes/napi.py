"""NAPI batching of any network device: bpf/napi_poll.bpf.c on the kernel's
napi:napi_poll tracepoint.  `vnet-trace napi` uses it for devices that are not vnet."""

from __future__ import annotations

import os
import time
from typing import Any

from vnet_ebpf.errors import UserError
from vnet_ebpf.model import COUNTERS, Snapshot
from vnet_ebpf.probes import bccglue, bpfstats, btf, device

SOURCE = "napi_poll.bpf.c"
#: The counters of struct cpu_stats in bpf/napi_poll.bpf.c, in order (a subset of COUNTERS).
POLL_COUNTERS = ("polls", "poll_packets", "poll_exhausted", "poll_over_budget")
assert set(POLL_COUNTERS) <= set(COUNTERS)
# The kernel fields bpf/napi_poll.bpf.c reads: macro -> (struct, member), from BTF.
KERNEL_FIELDS = {
    "NAPI_DEV": ("napi_struct", "dev"),
    "NETDEV_IFINDEX": ("net_device", "ifindex"),
    "NETDEV_NET": ("net_device", "nd_net.net"),
    "NET_INUM": ("net", "ns.inum"),
}


def netns_inode() -> int:
    """The inode of our network namespace, as the kernel's net->ns.inum has it."""
    return os.stat("/proc/self/ns/net").st_ino


class NapiTracer(bccglue.Loaded):
    """The napi:napi_poll tracepoint, counted for one device; a context manager like
    probes.tracer.Tracer, and its snapshots fill the same model.Snapshot (the poll
    counters, work histogram, per-CPU split and budget; no poll time, no rings)."""

    kind = "tracepoint napi:napi_poll"

    def __init__(self, dev: device.Device) -> None:
        super().__init__()
        self.dev = dev
        self.bpf: Any = None
        self.cells: bccglue.MappedArray | None = None
        self.fields: dict[str, tuple[int, int]] = {}
        self.prog_info: bpfstats.ProgInfo | None = None

    def __enter__(self) -> NapiTracer:
        from vnet_ebpf.probes.tracer import possible_cpus

        flags = [f"-DIFINDEX={self.dev.ifindex}", f"-DNETNS_INO={netns_inode()}", f"-DNCPU={possible_cpus()}"]
        try:
            flags += btf.field_flags(KERNEL_FIELDS)
        except btf.BTFError as err:
            raise UserError(f"napi -i {self.dev.name} finds the kernel's fields in its BTF: {err}") from None
        self.bpf = bccglue.load(SOURCE, flags)  # BCC attaches TRACEPOINT_PROBE itself
        self.cells = bccglue.MappedArray(self.bpf["stats"])
        self.fields = {name: self.cells.field(name) for name, _ in self.cells.leaf._fields_}
        self.stats_fd = bpfstats.enable_stats()
        self.prog_info = bpfstats.ProgInfo(self.bpf.funcs[b"tracepoint__napi__napi_poll"].fd)
        self.files = device.DeviceFiles(self.dev)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.cells is not None:
            self.cells.close()
            self.cells = None
        self.release()

    def snapshot(self) -> Snapshot:
        assert self.cells is not None
        rows = self.cells.rows()
        off, n = self.fields["c"]
        counters = dict.fromkeys(COUNTERS, 0)
        counters.update(zip(POLL_COUNTERS, bccglue.column_sums(rows, off, n), strict=True))
        w_off, w_n = self.fields["work_hist"]
        i_polls, i_packets = POLL_COUNTERS.index("polls"), POLL_COUNTERS.index("poll_packets")
        progs = {}
        if self.stats_fd is not None and self.prog_info is not None:
            progs["tracepoint__napi__napi_poll"] = self.prog_info.stat()
        return Snapshot(
            t=time.monotonic(),
            wall=time.time(),
            counters=counters,
            polls_per_cpu=[row[off + i_polls] for row in rows],
            packets_per_cpu=[row[off + i_packets] for row in rows],
            work_hist=bccglue.column_sums(rows, w_off, w_n),
            budget=max(row[self.fields["budget"][0]] for row in rows),
            progs=progs,
        )
