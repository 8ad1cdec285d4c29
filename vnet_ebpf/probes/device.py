"""Which device to trace: checked through rtnetlink (pyroute2), never by shelling out."""

from __future__ import annotations

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


def still_there(dev: Device) -> bool:
    """False once the module is unloaded or the device is gone or replaced."""
    if not MODULE.exists():
        return False
    try:
        return int(Path(f"/sys/class/net/{dev.name}/ifindex").read_text()) == dev.ifindex
    except (OSError, ValueError):
        return False


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


def bql(dev: Device) -> tuple[int, int]:
    """BQL's bytes in flight and current limit for TX queue 0."""
    base = Path(f"/sys/class/net/{dev.name}/queues/tx-0/byte_queue_limits")
    try:
        return int((base / "inflight").read_text()), int((base / "limit").read_text())
    except (OSError, ValueError):
        return 0, 0
