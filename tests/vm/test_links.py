"""rtnl_link_ops: ip link add/del type vnet, netns moves, netns death, unload everywhere."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.vm import guest


@pytest.fixture
def netns() -> Iterator[list[str]]:
    made: list[str] = []
    yield made
    for ns in made:
        subprocess.run(["ip", "netns", "del", ns], check=False)


def in_ns(ns: str, dev: str) -> bool:
    return subprocess.run(["ip", "-n", ns, "link", "show", dev], capture_output=True, check=False).returncode == 0


@pytest.mark.smoke
def test_ip_link_add_and_del(vnet: Path) -> None:
    guest.sh("ip", "link", "add", "vnet7", "type", "vnet")
    assert "driver: vnet\n" in guest.sh("ethtool", "-i", "vnet7")
    assert guest.sh("ip", "-d", "link", "show", "vnet7").count("vnet ") >= 1
    guest.sh("ip", "link", "set", "vnet7", "up")
    guest.sh("ip", "link", "del", "vnet7")
    assert not Path("/sys/class/net/vnet7").exists()


def test_ip_link_add_with_address(vnet: Path) -> None:
    guest.sh("ip", "link", "add", "vnet8", "address", "02:00:00:00:00:08", "type", "vnet")
    assert Path("/sys/class/net/vnet8/address").read_text().strip() == "02:00:00:00:00:08"
    r = subprocess.run(["ip", "link", "add", "vnet9", "address", "01:00:00:00:00:09", "type", "vnet"],
                       capture_output=True, text=True, check=False)
    assert r.returncode != 0
    assert not Path("/sys/class/net/vnet9").exists()
    guest.sh("ip", "link", "del", "vnet8")


@pytest.mark.smoke
def test_netns_move_and_death(vnet: Path, netns: list[str]) -> None:
    netns.append("vt1")
    guest.sh("ip", "netns", "add", "vt1")
    guest.sh("ip", "link", "set", "vnet0", "netns", "vt1")
    assert not Path("/sys/class/net/vnet0").exists()
    assert in_ns("vt1", "vnet0")
    # It works there: traffic, counters.
    guest.sh("ip", "netns", "exec", "vt1", "ip", "link", "set", "vnet0", "up")
    assert "driver: vnet" in guest.sh("ip", "netns", "exec", "vt1", "ethtool", "-i", "vnet0")
    # Deleting the netns destroys the device (it is not pushed back to init_net).
    guest.sh("ip", "netns", "del", "vt1")
    netns.clear()
    guest.wait_until(lambda: "vnet0" not in guest.sh("ip", "-o", "link"), what="netns cleanup", timeout=10)
    assert not Path("/sys/class/net/vnet0").exists()


def test_unload_removes_devices_in_every_netns(vnet: Path, netns: list[str]) -> None:
    netns += ["vt2", "vt3"]
    for ns in netns:
        guest.sh("ip", "netns", "add", ns)
    guest.sh("ip", "-n", "vt2", "link", "add", "vnet1", "type", "vnet")
    guest.sh("ip", "link", "set", "vnet0", "netns", "vt3")
    assert in_ns("vt2", "vnet1") and in_ns("vt3", "vnet0")
    guest.unload()
    assert not in_ns("vt2", "vnet1") and not in_ns("vt3", "vnet0")
