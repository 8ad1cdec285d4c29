"""ethtool -G/-C round trips (netdevsim style), and bad input rejected without effect."""

from __future__ import annotations

import random
import re
import subprocess
import time
from pathlib import Path

import pytest

from tests.vm import guest


def rings() -> dict[str, int]:
    """Current ring sizes as `ethtool -g` prints them."""
    current = guest.sh("ethtool", "-g", "vnet0").split("Current hardware settings:")[1]
    return {k.lower(): int(v) for k, v in re.findall(r"^(RX|TX):\s+(\d+)", current, re.M)}


def tx_usecs() -> int:
    m = re.search(r"^tx-usecs:\s+(\d+)", guest.sh("ethtool", "-c", "vnet0"), re.M)
    assert m
    return int(m.group(1))


def fails(*argv: str) -> str:
    r = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert r.returncode != 0, f"{argv} succeeded"
    return r.stderr


@pytest.mark.parametrize("up", [False, True])
def test_random_round_trips(vnet: Path, up: bool) -> None:
    rng = random.Random(1234 + up)
    if up:
        guest.quiet_link_up("vnet0")
        guest.set_knob("rx_rate", 2000)
    want = {"rx": 256, "tx": 256}
    usecs = 20
    for _ in range(25):
        if rng.random() < 0.6:
            field = rng.choice(["rx", "tx"])
            want[field] = 2 ** rng.randint(4, 12)
            guest.sh("ethtool", "-G", "vnet0", field, str(want[field]))
        else:
            usecs = rng.randint(0, 1000)
            guest.sh("ethtool", "-C", "vnet0", "tx-usecs", str(usecs))
        # Every field, after every change: changing one must not disturb another.
        assert rings() == want
        assert tx_usecs() == usecs
        if up:
            guest.send_frames("vnet0", 20)
    guest.set_knob("rx_rate", 0)
    if up:
        guest.wait_until(guest.tx_idle, what="TX completions")


def test_invalid_ring_and_coalesce_values_change_nothing(vnet: Path) -> None:
    guest.sh("ethtool", "-G", "vnet0", "rx", "512", "tx", "64")
    guest.sh("ethtool", "-C", "vnet0", "tx-usecs", "77")
    assert "powers of two" in fails("ethtool", "-G", "vnet0", "tx", "100")
    fails("ethtool", "-G", "vnet0", "rx", "8")
    fails("ethtool", "-G", "vnet0", "tx", "8192")  # above the maximum: the core refuses
    fails("ethtool", "-G", "vnet0", "rx", "0")
    assert "at most" in fails("ethtool", "-C", "vnet0", "tx-usecs", "1000001")
    fails("ethtool", "-C", "vnet0", "tx-frames", "5")  # not a supported parameter
    fails("ethtool", "-C", "vnet0", "rx-usecs", "1000001")
    assert rings() == {"rx": 512, "tx": 64}
    assert tx_usecs() == 77


BAD_KNOB_VALUES = [
    ("rx_rate", "10000001"), ("rx_rate", "-1"), ("rx_rate", "fast"),
    ("rx_burst", "0"), ("rx_burst", "1025"),
    ("peer_mac", "zz:zz"), ("peer_mac", "01:00:5e:00:00:01"), ("peer_mac", "00:00:00:00:00:00"),
    ("peer_mac", "02:00:00:00:00:01junk"),
    ("peer_ip", "1.2.3"), ("peer_ip", "224.0.0.1"), ("peer_ip", "10.0.0.2x"),
]


@pytest.mark.parametrize(("name", "bad"), BAD_KNOB_VALUES)
def test_invalid_knob_values_are_rejected_and_change_nothing(vnet: Path, name: str, bad: str) -> None:
    before = (guest.get_param(name), guest.get_knob(name))
    with pytest.raises(OSError) as err:
        guest.set_param(name, bad)
    assert err.value.errno == 22  # EINVAL
    with pytest.raises(OSError) as err:
        guest.set_knob(name, bad)
    assert err.value.errno == 22
    assert (guest.get_param(name), guest.get_knob(name)) == before


@pytest.mark.smoke
def test_generator_knobs_are_per_device_and_parameters_are_defaults(vnet: Path) -> None:
    guest.unload()
    guest.load("numdevs=2", "peer_ip=192.0.2.9")
    for dev in ("vnet0", "vnet1"):
        guest.quiet_link_up(dev)
    assert [guest.get_knob("peer_ip", d) for d in ("vnet0", "vnet1")] == ["192.0.2.9"] * 2
    b0, b1 = guest.ethtool_stats("vnet0"), guest.ethtool_stats("vnet1")
    guest.set_knob("rx_burst", 4, "vnet1")
    guest.set_knob("rx_rate", 400, "vnet1")
    time.sleep(1)
    guest.set_knob("rx_rate", 0, "vnet1")
    time.sleep(0.3)
    d0 = guest.delta(guest.ethtool_stats("vnet0"), b0)
    d1 = guest.delta(guest.ethtool_stats("vnet1"), b1)
    assert d0["arp_generated"] == 0 and d1["arp_generated"] >= 100
    assert d1["rx_packets"] == d1["arp_generated"] and d1["napi_polls"] > 0
    # A changed parameter is the default of devices made from now on, not of those that exist.
    guest.set_param("rx_burst", 7)
    guest.set_param("peer_mac", "02:00:5e:10:00:07")
    guest.sh("ip", "link", "add", "vnet7", "type", "vnet")
    assert guest.get_knob("rx_burst", "vnet7") == "7" and guest.get_knob("rx_burst", "vnet0") == "1"
    assert guest.get_knob("peer_mac", "vnet7") == "02:00:5e:10:00:07"
    assert guest.get_knob("peer_mac", "vnet0") == "02:76:6e:65:74:02"
    # Knobs follow a device into another namespace and go with it.
    guest.sh("ip", "netns", "add", "vnet-knobs")
    try:
        guest.sh("ip", "link", "set", "vnet7", "netns", "vnet-knobs")
        out = guest.sh("ip", "netns", "exec", "vnet-knobs", "cat", "/sys/class/net/vnet7/vnet/rx_burst")
        assert out.strip() == "7"
    finally:
        guest.sh("ip", "netns", "del", "vnet-knobs")


def test_knob_writes_race_the_generator_without_deadlock(vnet: Path) -> None:
    # The peer is read by the generator (a softirq) while sysfs writes it: with a
    # writer that let BHs run, a generator tick on the writer's CPU spun forever.
    guest.quiet_link_up("vnet0")
    guest.set_knob("rx_burst", 1)
    guest.set_knob("rx_rate", 200_000)
    before = guest.ethtool_stats()["arp_generated"]
    try:
        for i in range(2000):
            guest.set_knob("peer_mac", f"02:00:00:00:{i >> 8 & 0xff:02x}:{i & 0xff:02x}")
            guest.set_knob("peer_ip", f"10.1.{i >> 8 & 0xff}.{i & 0xff or 1}")
    finally:
        guest.set_knob("rx_rate", 0)
    assert guest.ethtool_stats()["arp_generated"] > before
    assert guest.get_knob("peer_mac") == "02:00:00:00:07:cf"


def test_devices_from_ip_link_add_have_no_carrier_until_up(vnet: Path) -> None:
    guest.sh("ip", "link", "add", "vnet5", "type", "vnet")
    # ethtool's "Link detected" is the carrier itself, shown whether the device is up or not.
    assert "Link detected: no" in guest.sh("ethtool", "vnet5")
    guest.quiet_link_up("vnet5")
    assert "Link detected: yes" in guest.sh("ethtool", "vnet5")
    guest.sh("ip", "link", "set", "vnet5", "down")
    assert "Link detected: no" in guest.sh("ethtool", "vnet5")


def test_numdevs_out_of_range_refuses_to_load() -> None:
    guest.unload()
    r = subprocess.run(["insmod", str(guest.MODULE), "numdevs=17"], capture_output=True, text=True, check=False)
    assert r.returncode != 0 and "Invalid" in r.stderr
    assert not guest.loaded()


def test_numdevs_and_link_state(vnet: Path) -> None:
    guest.unload()
    guest.load("numdevs=3")
    names = sorted(p.name for p in Path("/sys/class/net").iterdir() if p.name.startswith("vnet"))
    assert names == ["vnet0", "vnet1", "vnet2"]
    macs = {Path(f"/sys/class/net/{n}/address").read_text() for n in names}
    assert len(macs) == 3
    # The link follows the carrier: down, then up.
    assert "Link detected: no" in guest.sh("ethtool", "vnet1")
    guest.sh("ip", "link", "set", "vnet1", "up")
    assert "Link detected: yes" in guest.sh("ethtool", "vnet1")
    assert Path("/sys/class/net/vnet1/carrier").read_text().strip() == "1"
