"""The module loads, vnet0 looks like the driver says, and it unloads cleanly."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.vm import guest


@pytest.mark.smoke
def test_vnet0_exists_with_driver_and_mac(vnet: Path) -> None:
    assert vnet.is_dir()
    info = guest.sh("ethtool", "-i", "vnet0")
    assert "driver: vnet\n" in info
    mac = (vnet / "address").read_text().strip()
    first = int(mac.split(":")[0], 16)
    assert first & 0x02, f"{mac} is not locally administered"
    assert not first & 0x01, f"{mac} is multicast"
    assert (vnet / "addr_assign_type").read_text().strip() == "1"  # NET_ADDR_RANDOM
    # ip(8) sees the same address.
    assert f"link/ether {mac} " in guest.sh("ip", "link", "show", "vnet0")


def test_unload_removes_the_device(vnet: Path) -> None:
    guest.unload()
    assert not guest.loaded()
    assert not vnet.exists()
    assert "vnet0" not in guest.sh("ip", "-o", "link")


@pytest.mark.smoke
def test_reload_cycles_are_clean() -> None:
    guest.unload()
    mark = guest.kmsg_mark()
    for _ in range(5):
        guest.load()
        guest.quiet_link_up("vnet0")
        guest.unload()
    guest.assert_clean_kmsg(mark)
