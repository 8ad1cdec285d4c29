"""ethtool -G/-C round trips (netdevsim style), and bad input rejected without effect."""

from __future__ import annotations

import random
import re
import subprocess
from pathlib import Path

import pytest

from tests.vm import lab


def rings() -> dict[str, int]:
    """Current ring sizes as `ethtool -g` prints them."""
    current = lab.sh("ethtool", "-g", "vnet0").split("Current hardware settings:")[1]
    return {k.lower(): int(v) for k, v in re.findall(r"^(RX|TX):\s+(\d+)", current, re.M)}


def tx_usecs() -> int:
    m = re.search(r"^tx-usecs:\s+(\d+)", lab.sh("ethtool", "-c", "vnet0"), re.M)
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
        lab.quiet_link_up("vnet0")
        lab.set_param("rx_rate", 2000)
    want = {"rx": 256, "tx": 256}
    usecs = 20
    for _ in range(25):
        if rng.random() < 0.6:
            field = rng.choice(["rx", "tx"])
            want[field] = 2 ** rng.randint(4, 12)
            lab.sh("ethtool", "-G", "vnet0", field, str(want[field]))
        else:
            usecs = rng.randint(0, 1000)
            lab.sh("ethtool", "-C", "vnet0", "tx-usecs", str(usecs))
        # Every field, after every change: changing one must not disturb another.
        assert rings() == want
        assert tx_usecs() == usecs
        if up:
            lab.send_frames("vnet0", 20)
    lab.set_param("rx_rate", 0)
    if up:
        lab.wait_until(lab.tx_idle, what="TX completions")


def test_invalid_ring_and_coalesce_values_change_nothing(vnet: Path) -> None:
    lab.sh("ethtool", "-G", "vnet0", "rx", "512", "tx", "64")
    lab.sh("ethtool", "-C", "vnet0", "tx-usecs", "77")
    assert "powers of two" in fails("ethtool", "-G", "vnet0", "tx", "100")
    fails("ethtool", "-G", "vnet0", "rx", "8")
    fails("ethtool", "-G", "vnet0", "tx", "8192")  # above the maximum: the core refuses
    fails("ethtool", "-G", "vnet0", "rx", "0")
    assert "at most" in fails("ethtool", "-C", "vnet0", "tx-usecs", "1000001")
    fails("ethtool", "-C", "vnet0", "rx-usecs", "5")  # not a supported parameter
    assert rings() == {"rx": 512, "tx": 64}
    assert tx_usecs() == 77


@pytest.mark.parametrize(("name", "bad"), [
    ("rx_rate", "10000001"), ("rx_rate", "-1"), ("rx_rate", "fast"),
    ("rx_burst", "0"), ("rx_burst", "1025"),
    ("peer_mac", "zz:zz"), ("peer_mac", "01:00:5e:00:00:01"), ("peer_mac", "00:00:00:00:00:00"),
    ("peer_ip", "1.2.3"), ("peer_ip", "224.0.0.1"), ("peer_ip", "10.0.0.2x"),
])
def test_invalid_module_parameters_are_rejected(vnet: Path, name: str, bad: str) -> None:
    before = lab.get_param(name)
    with pytest.raises(OSError) as err:
        lab.set_param(name, bad)
    assert err.value.errno == 22  # EINVAL
    assert lab.get_param(name) == before


def test_numdevs_out_of_range_refuses_to_load() -> None:
    lab.unload()
    r = subprocess.run(["insmod", str(lab.MODULE), "numdevs=17"], capture_output=True, text=True, check=False)
    assert r.returncode != 0 and "Invalid" in r.stderr
    assert not lab.loaded()


def test_numdevs_and_link_state(vnet: Path) -> None:
    lab.unload()
    lab.load("numdevs=3")
    names = sorted(p.name for p in Path("/sys/class/net").iterdir() if p.name.startswith("vnet"))
    assert names == ["vnet0", "vnet1", "vnet2"]
    macs = {Path(f"/sys/class/net/{n}/address").read_text() for n in names}
    assert len(macs) == 3
    # The link follows the carrier: down, then up.
    assert "Link detected: no" in lab.sh("ethtool", "vnet1")
    lab.sh("ip", "link", "set", "vnet1", "up")
    assert "Link detected: yes" in lab.sh("ethtool", "vnet1")
    assert Path("/sys/class/net/vnet1/carrier").read_text().strip() == "1"
