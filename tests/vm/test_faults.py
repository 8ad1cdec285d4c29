"""The driver under injected faults (its own knob in debugfs; Debian's kernels have no
failslab): every allocation of open, ring resize and MTU change fails once, and the
device must come out as it was, with nothing leaked; data-path faults must land in the
counters if_link.h names, as `ip -s -s link` and the netlink qstats report them."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from tests.vm import guest
from tests.vm.test_ethtool import rings
from tests.vm.test_rx import generate

ZERO = {"tx_rings": 0, "rx_rings": 0, "rx_pages": 0, "page_pools": 0, "xdp_rxqs": 0}


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False)


def mtu(dev: str = "vnet0") -> int:
    return int(Path(f"/sys/class/net/{dev}/mtu").read_text())


def is_up(dev: str = "vnet0") -> bool:
    (link,) = json.loads(guest.sh("ip", "-j", "link", "show", dev))
    return "UP" in link["flags"]


def assert_works(dev: str = "vnet0") -> None:
    """The device still does its job: generated frames arrive, sent frames complete."""
    before = guest.ethtool_stats(dev)
    generate(rate=400, burst=4, seconds=0.5)
    guest.send_frames(dev, 20)
    guest.wait_until(lambda: guest.tx_idle(dev), what="TX completions")
    d = guest.delta(guest.ethtool_stats(dev), before)
    assert d["rx_packets"] == d["arp_generated"] > 0
    assert d["tx_packets"] == 20


@pytest.mark.smoke
@pytest.mark.parametrize("point", guest.BUILD_POINTS)
def test_open_fails_cleanly_and_the_next_open_works(vnet: Path, point: str) -> None:
    Path("/proc/sys/net/ipv6/conf/vnet0/disable_ipv6").write_text("1\n")
    assert guest.driver_objects() == ZERO
    guest.inject(point)
    r = run("ip", "link", "set", "vnet0", "up")
    assert r.returncode != 0 and "Cannot allocate memory" in r.stderr
    assert guest.injected()[point] == (0, 1)
    assert not is_up() and guest.driver_objects() == ZERO
    assert "Link detected: no" in guest.sh("ethtool", "vnet0")
    guest.sh("ip", "link", "set", "vnet0", "up")
    assert guest.driver_objects() == {**ZERO, "tx_rings": 1, "rx_rings": 1, "rx_pages": 256,
                                    "page_pools": 1, "xdp_rxqs": 1}
    assert_works()
    guest.sh("ip", "link", "set", "vnet0", "down")
    assert guest.driver_objects() == ZERO


@pytest.mark.parametrize("op", ["resize", "mtu"])
@pytest.mark.parametrize("point", guest.BUILD_POINTS)
def test_failed_reconfigure_keeps_the_old_configuration_running(vnet: Path, point: str, op: str) -> None:
    guest.quiet_link_up("vnet0")
    guest.sh("ethtool", "-G", "vnet0", "rx", "128", "tx", "64")
    objects = guest.driver_objects()
    assert objects["rx_pages"] == 128
    guest.inject(point)
    if op == "resize":
        r = run("ethtool", "-G", "vnet0", "rx", "512", "tx", "512")
    else:
        r = run("ip", "link", "set", "vnet0", "mtu", "9000")  # bigger RX buffers: a rebuild
    assert r.returncode != 0, r
    assert guest.injected()[point] == (0, 1)
    # As it was: running, same rings, same MTU, nothing leaked, and it works.
    assert is_up() and "Link detected: yes" in guest.sh("ethtool", "vnet0")
    assert rings() == {"rx": 128, "tx": 64} and mtu() == 1500
    assert guest.driver_objects() == objects
    assert_works()
    # The same change, without the fault, goes through.
    if op == "resize":
        guest.sh("ethtool", "-G", "vnet0", "rx", "512", "tx", "512")
        assert rings() == {"rx": 512, "tx": 512}
    else:
        guest.sh("ip", "link", "set", "vnet0", "mtu", "9000")
        assert mtu() == 9000
    assert_works()


def qstats_rx(dev: str = "vnet0") -> dict[str, int]:
    ifindex = int(Path(f"/sys/class/net/{dev}/ifindex").read_text())
    (row,) = guest.ynl("netdev", "qstats-get", {"ifindex": ifindex}, dump=True)
    return {k: int(v) for k, v in row.items()}


def generate_with_faults(point: str, times: int) -> tuple[dict[str, int], dict[str, int]]:
    """Arm POINT TIMES times, generate; the deltas of ethtool -S and of ip -s -s link's RX."""
    guest.quiet_link_up("vnet0")
    before, ip_before = guest.ethtool_stats(), guest.ip_stats()
    guest.inject(point, times)
    generate(rate=400, burst=4, seconds=0.5)
    assert guest.injected()[point] == (0, times)
    return guest.delta(guest.ethtool_stats(), before), guest.delta(guest.ip_stats()["rx"], ip_before["rx"])


@pytest.mark.smoke
def test_refill_failures_are_alloc_failures_and_drops(vnet: Path) -> None:
    guest.quiet_link_up("vnet0")
    q_before = qstats_rx() if guest.kernel_at_least(6, 9) else None
    d, ip_rx = generate_with_faults("rx_refill", 5)
    # Taken from the ring (received), then lost for want of a buffer (dropped).
    assert d["rx_alloc_failed"] == d["rx_dropped"] == ip_rx["dropped"] == 5
    assert d["rx_packets"] == ip_rx["packets"] == d["arp_generated"] > 5
    if q_before is not None:
        assert qstats_rx()["rx-alloc-fail"] - q_before["rx-alloc-fail"] == 5


@pytest.mark.smoke
def test_runt_frames_are_length_errors_not_packets_or_drops(vnet: Path) -> None:
    d, ip_rx = generate_with_faults("rx_short", 3)
    assert d["rx_length_errors"] == ip_rx["length_errors"] == ip_rx["errors"] == 3
    assert ip_rx["dropped"] == d["rx_dropped"] == 0
    assert d["rx_packets"] == ip_rx["packets"] == d["arp_generated"] > 0
    # /proc/net/dev sums errors and drops per column: each runt is counted once.
    line = next(x for x in Path("/proc/net/dev").read_text().splitlines() if x.strip().startswith("vnet0:"))
    assert int(line.split(":")[1].split()[2]) == guest.ip_stats()["rx"]["errors"]


def test_unknown_fault_point_is_refused(vnet: Path) -> None:
    with pytest.raises(OSError) as err:
        guest.inject("no_such_point")
    assert err.value.errno == 22
    assert all(armed == 0 for armed, _ in guest.injected().values())


def test_xdp_keeping_the_queue_stopped_is_no_tx_timeout(vnet: Path) -> None:
    # XDP_TX fills a 16-slot ring whose frames take 1 s each: the stack's queue stays
    # stopped and only XDP posts.  The watchdog (5 s) must see that TX is moving.
    from tests.vm.test_xdp import xdp_trace

    guest.sh("ethtool", "-G", "vnet0", "tx", "16")
    guest.sh("ethtool", "-C", "vnet0", "tx-usecs", "1000000")
    guest.quiet_link_up("vnet0")
    with xdp_trace("--tx"):
        guest.set_knob("rx_burst", 16)
        guest.set_knob("rx_rate", 64)
        time.sleep(9)
        guest.set_knob("rx_rate", 0)
        s = guest.ethtool_stats()
    assert s["xdp_tx"] > 0 and s["tx_queue_stopped"] > 0
    assert s["tx_timeouts"] == 0
