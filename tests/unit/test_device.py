"""Which devices each command accepts (pure: pyroute2 answered by a fake)."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from vnet_ebpf.errors import UserError
from vnet_ebpf.probes import device


class _Link:
    def __init__(self, kind: str | None) -> None:
        self.kind = kind

    def get_attr(self, name: str) -> Any:
        if name == "IFLA_LINKINFO":
            return self if self.kind else None
        return self.kind


class _IPRoute:
    links: ClassVar[dict[str, tuple[int, str | None]]] = {"vnet0": (7, "vnet"), "eth0": (2, None)}

    def __enter__(self) -> _IPRoute:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def link_lookup(self, ifname: str) -> list[int]:
        return [self.links[ifname][0]] if ifname in self.links else []

    def link(self, cmd: str, index: int) -> list[_Link]:
        return [_Link(next(k for i, k in self.links.values() if i == index))]


@pytest.fixture(autouse=True)
def fake_rtnl(monkeypatch: pytest.MonkeyPatch) -> None:
    import pyroute2

    monkeypatch.setattr(pyroute2, "IPRoute", _IPRoute)
    monkeypatch.setattr(device, "driver_of", lambda name, kind: kind or "virtio_net")


def test_vnet_device_resolves_for_every_command() -> None:
    assert device.resolve("vnet0", command="rings") == device.Device("vnet0", 7, "vnet")


def test_another_driver_is_refused_by_the_vnet_views_in_one_line() -> None:
    with pytest.raises(UserError) as err:
        device.resolve("eth0", command="rings")
    assert str(err.value) == ("eth0 is not a vnet device (driver: virtio_net): `vnet-trace rings` needs one "
                              "(`vnet-trace napi` and `vnet-trace queues` work on any device)")


def test_another_driver_is_accepted_where_any_will_do() -> None:
    dev = device.resolve("eth0", any_driver=True)
    assert (dev.ifindex, dev.driver, dev.is_vnet) == (2, "virtio_net", False)


def test_a_missing_device_says_so() -> None:
    with pytest.raises(UserError, match="interface nope0 does not exist"):
        device.resolve("nope0", any_driver=True)
