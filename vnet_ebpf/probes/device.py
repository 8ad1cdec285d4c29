"""Which device to trace: checked through rtnetlink (pyroute2), never by shelling out."""

from __future__ import annotations

import ctypes
import fcntl
import os
import socket
import struct
from dataclasses import dataclass
from pathlib import Path

from vnet_ebpf.errors import UserError

MODULE = Path("/sys/module/vnet")
_SIOCETHTOOL = 0x8946  # linux/sockios.h
_ETHTOOL_GSTATS = 0x1D  # linux/ethtool.h


@dataclass(frozen=True)
class Device:
    name: str
    ifindex: int
    driver: str = "vnet"  # the driver behind it (rtnl link kind, else the bus driver), or "none"

    @property
    def is_vnet(self) -> bool:
        return self.driver == "vnet"


#: The commands that work on any device; the others read vnet's rings and events.
ANY_DEVICE_COMMANDS = ("napi", "queues")


def driver_of(name: str, kind: str | None) -> str:
    """What drives interface NAME: its rtnl link kind (vnet, veth, dummy...), else the
    driver of its bus device (/sys/class/net/NAME/device/driver: virtio_net, e1000e...)."""
    if kind:
        return str(kind)
    drv = Path("/sys/class/net") / name / "device" / "driver"
    return drv.resolve().name if drv.exists() else "none"


def resolve(name: str, any_driver: bool = False, command: str = "") -> Device:
    """The device NAME in this netns, or a one-line error saying what is wrong.
    Unless ANY_DRIVER, it must be a vnet device (COMMAND names what needs one)."""
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        idx = ipr.link_lookup(ifname=name)
        if not idx:
            hint = "" if MODULE.exists() else " (the vnet module is not loaded: insmod kmod/vnet.ko)"
            raise UserError(f"interface {name} does not exist{hint}")
        (link,) = tuple(ipr.link("get", index=idx[0]))
        linkinfo = link.get_attr("IFLA_LINKINFO")
        kind = linkinfo.get_attr("IFLA_INFO_KIND") if linkinfo else None
    dev = Device(name=name, ifindex=int(idx[0]), driver=driver_of(name, kind))
    if not dev.is_vnet and not any_driver:
        what = f"`vnet-trace {command}`" if command else "this"
        anywhere = " and ".join(f"`vnet-trace {c}`" for c in ANY_DEVICE_COMMANDS)
        raise UserError(f"{name} is not a vnet device (driver: {dev.driver}): {what} needs one "
                        f"({anywhere} work on any device)")
    return dev


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
        self.net = Path("/sys/class/net") / dev.name
        self.fds: dict[str, int] = {}
        try:
            self.fds["ifindex"] = os.open(self.net / "ifindex", os.O_RDONLY | os.O_CLOEXEC)
        except OSError as err:
            raise UserError(f"cannot read {err.filename}: {err.strerror}") from err
        self._open_bql(0)

    def _open_bql(self, queue: int) -> bool:
        """Open TX queue QUEUE's BQL files; False if it has none (it is not running, or
        the kernel has no BQL)."""
        bql = self.net / "queues" / f"tx-{queue}" / "byte_queue_limits"
        try:
            for name in ("inflight", "limit"):
                self.fds[f"{name}{queue}"] = os.open(bql / name, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            self._close_bql(queue)
            return False
        return True

    def _close_bql(self, queue: int) -> None:
        for name in ("inflight", "limit"):
            fd = self.fds.pop(f"{name}{queue}", None)
            if fd is not None:
                os.close(fd)

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
        return self.bql_queues(1).get(0, (0, 0))

    def bql_queues(self, most: int) -> dict[int, tuple[int, int]]:
        """BQL's bytes in flight and limit of each running TX queue, 0 up (at most MOST,
        the driver's VNET_QUEUES_MAX).  The running queues are numbered from 0 without
        gaps, so the first with no BQL files ends them, and the files of every queue
        after it are closed: those of a queue that stopped running read ENODEV, and are
        opened again once it runs."""
        out: dict[int, tuple[int, int]] = {}
        for q in range(most):
            try:
                if f"inflight{q}" not in self.fds and not self._open_bql(q):
                    raise OSError
                out[q] = self._read(f"inflight{q}"), self._read(f"limit{q}")
            except (OSError, ValueError):
                for gone in range(q, most):
                    self._close_bql(gone)
                break
        return out

    def close(self) -> None:
        for fd in self.fds.values():
            os.close(fd)
        self.fds.clear()


class DriverStats:
    """The driver's own counters (ethtool -S), read again and again: pyroute2 fetches the
    counter names once, and each read is one ETHTOOL_GSTATS ioctl into a buffer kept
    for it (pyroute2 builds a new ctypes class per read, a millisecond under emulation)."""

    def __init__(self, dev: Device) -> None:
        from pyroute2.ethtool.ioctl import ETH_SS_STATS, IoctlEthtool

        self.name = dev.name
        eth = IoctlEthtool(dev.name)
        try:
            self.names = [str(n) for n in eth.get_stringset(set_id=ETH_SS_STATS)]
        finally:
            eth.close()
        n = len(self.names)
        # struct ethtool_stats: u32 cmd, u32 n_stats, u64 data[n]
        self._stats = ctypes.create_string_buffer(8 + 8 * n)
        struct.pack_into("II", self._stats, 0, _ETHTOOL_GSTATS, n)
        # struct ifreq: the name, then ifr_data pointing at the stats (40 bytes in all)
        self._ifreq = bytearray(struct.pack("16sP16x", dev.name.encode(), ctypes.addressof(self._stats)))
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._unpack = struct.Struct(f"{n}Q").unpack_from

    def read(self) -> dict[str, int]:
        try:
            fcntl.ioctl(self._sock.fileno(), _SIOCETHTOOL, self._ifreq)
        except OSError as err:  # the device went away between two reads
            raise UserError(f"cannot read the driver's counters of {self.name}: {err.strerror}") from err
        return dict(zip(self.names, self._unpack(self._stats, 8), strict=True))

    def close(self) -> None:
        self._sock.close()


def driver_stats(dev: Device) -> dict[str, int]:
    """The driver's own counters (ethtool -S), read once."""
    stats = DriverStats(dev)
    try:
        return stats.read()
    finally:
        stats.close()
