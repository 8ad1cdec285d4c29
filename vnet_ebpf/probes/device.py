"""Which device to trace: checked through rtnetlink (pyroute2), never by shelling out."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from vnet_ebpf.errors import UserError

MODULE = Path("/sys/module/vnet")


@dataclass(frozen=True)
class Device:
    name: str
    ifindex: int


def resolve(name: str) -> Device:
    """The vnet device NAME in this netns, or a one-line error saying what is wrong."""
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        idx = ipr.link_lookup(ifname=name)
        if not idx:
            hint = "" if MODULE.exists() else " (the vnet module is not loaded: insmod kmod/vnet.ko)"
            raise UserError(f"interface {name} does not exist{hint}")
        (link,) = tuple(ipr.link("get", index=idx[0]))
        linkinfo = link.get_attr("IFLA_LINKINFO")
        kind = linkinfo.get_attr("IFLA_INFO_KIND") if linkinfo else None
    if kind != "vnet":
        raise UserError(f"interface {name} is not a vnet device (kind {kind or 'none'})")
    return Device(name=name, ifindex=int(idx[0]))


def ifindex_of(name: str) -> int:
    """The ifindex of any interface NAME in this netns (e.g. an XDP redirect target)."""
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        idx = ipr.link_lookup(ifname=name)
    if not idx:
        raise UserError(f"interface {name} does not exist")
    return int(idx[0])


class DeviceFiles:
    """The sysfs attributes a tracer reads every interval, opened once and re-read with
    pread: a path walk through sysfs per read was the largest part of an interval's cost
    under emulation.  A read at offset 0 runs the attribute's show() again; once the
    device is deleted (or its module unloaded) every read fails with ENODEV, so the
    ifindex file also tells whether DEV is still there."""

    def __init__(self, dev: Device) -> None:
        self.dev = dev
        net = Path("/sys/class/net") / dev.name
        bql = net / "queues" / "tx-0" / "byte_queue_limits"
        self.fds: dict[str, int] = {}
        try:
            for name, path in (("ifindex", net / "ifindex"), ("inflight", bql / "inflight"),
                               ("limit", bql / "limit")):
                self.fds[name] = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as err:
            self.close()
            raise UserError(f"cannot read {err.filename}: {err.strerror}") from err

    def _read(self, name: str) -> int:
        return int(os.pread(self.fds[name], 32, 0))

    def alive(self) -> bool:
        """False once the device is gone, whether deleted or with its module."""
        try:
            return self._read("ifindex") == self.dev.ifindex
        except (OSError, ValueError):
            return False

    def bql(self) -> tuple[int, int]:
        """BQL's bytes in flight and current limit for TX queue 0 (0, 0 once gone)."""
        try:
            return self._read("inflight"), self._read("limit")
        except (OSError, ValueError):
            return 0, 0

    def close(self) -> None:
        for fd in self.fds.values():
            os.close(fd)
        self.fds.clear()


class DriverStats:
    """The driver's own counters (ethtool -S), through the ethtool ioctl, read again
    and again: the socket and the counter names are fetched once."""

    def __init__(self, dev: Device) -> None:
        from pyroute2.ethtool.ioctl import IoctlEthtool

        self.eth = IoctlEthtool(dev.name)

    def read(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in self.eth.get_statistics()}

    def close(self) -> None:
        self.eth.close()


def driver_stats(dev: Device) -> dict[str, int]:
    """The driver's own counters (ethtool -S), read once."""
    stats = DriverStats(dev)
    try:
        return stats.read()
    finally:
        stats.close()
