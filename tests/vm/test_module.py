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
    assert (vnet / "addr_assign_type").read_text().strip() == "0"  # NET_ADDR_PERM
    # ip(8) sees the same address.
    assert f"link/ether {mac} " in guest.sh("ip", "link", "show", "vnet0")


def permanent(dev: str) -> str:
    """The address `ethtool -P` reads: the core's perm_addr (ETHTOOL_GPERMADDR); "" for
    none (an all-zero one, which ethtool 6.10+ prints as "not set")."""
    out = guest.sh("ethtool", "-P", dev).strip()
    assert out.startswith("Permanent address: "), out
    mac = out.removeprefix("Permanent address: ")
    return "" if mac in ("not set", "00:00:00:00:00:00") else mac


@pytest.mark.smoke
def test_devices_made_at_load_have_a_permanent_address_from_their_number() -> None:
    guest.unload()
    guest.load("numdevs=3")
    try:
        for n in range(3):
            dev = Path(f"/sys/class/net/vnet{n}")
            want = f"02:76:6e:65:74:{n:02x}"
            assert (dev / "address").read_text().strip() == want
            assert (dev / "addr_assign_type").read_text().strip() == "0"  # NET_ADDR_PERM
            assert permanent(f"vnet{n}") == want
        # A user's address replaces the current one; the permanent one stays.
        guest.sh("ip", "link", "set", "vnet1", "address", "02:00:00:00:00:42")
        assert Path("/sys/class/net/vnet1/address").read_text().strip() == "02:00:00:00:00:42"
        assert Path("/sys/class/net/vnet1/addr_assign_type").read_text().strip() == "3"  # NET_ADDR_SET
        assert permanent("vnet1") == "02:76:6e:65:74:01"
        # ip link add: random (as veth), or the one given; no permanent address either way.
        guest.sh("ip", "link", "add", "vnr0", "type", "vnet")
        guest.sh("ip", "link", "add", "vnr1", "type", "vnet")
        guest.sh("ip", "link", "add", "vns0", "address", "02:00:00:00:00:07", "type", "vnet")
        random = [Path(f"/sys/class/net/{d}/address").read_text().strip() for d in ("vnr0", "vnr1")]
        assert random[0] != random[1]
        for d, mac in zip(("vnr0", "vnr1"), random, strict=True):
            assert int(mac.split(":")[0], 16) & 3 == 2, mac  # unicast, locally administered
            assert Path(f"/sys/class/net/{d}/addr_assign_type").read_text().strip() == "1"  # NET_ADDR_RANDOM
            assert permanent(d) == ""
        assert Path("/sys/class/net/vns0/address").read_text().strip() == "02:00:00:00:00:07"
        assert Path("/sys/class/net/vns0/addr_assign_type").read_text().strip() == "3"
        assert permanent("vns0") == ""
    finally:
        guest.unload()
    # The same addresses at the next load, as a NIC's EEPROM gives them.
    guest.load("numdevs=2")
    try:
        assert [permanent(f"vnet{n}") for n in range(2)] == ["02:76:6e:65:74:00", "02:76:6e:65:74:01"]
    finally:
        guest.unload()


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
