"""TX: exact counts, per-protocol counters, deferred completion, queue stop/wake, BQL."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.vm import guest

ETH_P_IP, ETH_P_ARP, ETH_P_IPV6, ETH_P_OTHER = 0x0800, 0x0806, 0x86DD, 0x88B5
FRAME = 60  # 14-byte header + 46-byte payload


@pytest.mark.smoke
def test_n_frames_counted_exactly_by_protocol(vnet: Path) -> None:
    guest.quiet_link_up("vnet0")
    sent = {ETH_P_ARP: 7, ETH_P_IP: 11, ETH_P_IPV6: 13, ETH_P_OTHER: 1000}
    total = sum(sent.values())
    before, ip_before = guest.ethtool_stats(), guest.ip_stats()
    for ethertype, n in sent.items():
        guest.send_frames("vnet0", n, ethertype)
    guest.wait_until(guest.tx_idle, what="TX completions")
    d = guest.delta(guest.ethtool_stats(), before)
    ip_tx = guest.delta(guest.ip_stats()["tx"], ip_before["tx"])

    assert d["tx_packets"] == total
    assert d["tx_bytes"] == total * FRAME
    assert (d["tx_arp"], d["tx_ipv4"], d["tx_ipv6"], d["tx_other"]) == (7, 11, 13, 1000)
    assert d["tx_completions"] == total
    assert d["tx_dropped"] == d["tx_busy"] == 0
    # ip(8) reads the same device through rtnetlink.
    assert ip_tx["packets"] == total
    assert ip_tx["bytes"] == total * FRAME
    assert guest.sysfs_stat("vnet0", "tx_packets") == guest.ethtool_stats()["tx_packets"]


def test_slow_completion_stops_and_wakes_the_queue(vnet: Path) -> None:
    guest.sh("ethtool", "-G", "vnet0", "tx", "16")
    guest.sh("ethtool", "-C", "vnet0", "tx-usecs", "100000")  # 0.1 s per frame in the "hardware"
    guest.quiet_link_up("vnet0")
    # fq_codel (the default) would rightly drop frames queued 100 ms behind a slow
    # NIC; a FIFO keeps every frame, so exactness is testable.
    guest.sh("tc", "qdisc", "replace", "dev", "vnet0", "root", "pfifo", "limit", "1000")
    # Let the ring, not BQL's byte limit, be what fills: raise BQL's floor.
    Path("/sys/class/net/vnet0/queues/tx-0/byte_queue_limits/limit_min").write_text("1000000\n")
    n = 200
    before, ip_before = guest.ethtool_stats(), guest.ip_stats()
    guest.send_frames("vnet0", n)
    # While frames are in flight BQL sees them.
    assert guest.bql("vnet0", "inflight") > 0
    guest.wait_until(guest.tx_idle, timeout=60, what="the TX ring to drain")
    d = guest.delta(guest.ethtool_stats(), before)

    assert d["tx_queue_stopped"] >= n // 16 - 1
    assert d["tx_queue_woken"] == d["tx_queue_stopped"]
    assert d["tx_packets"] == d["tx_completions"] == n
    assert d["tx_busy"] == d["tx_dropped"] == 0
    ip_tx = guest.delta(guest.ip_stats()["tx"], ip_before["tx"])
    assert ip_tx["packets"] == n
    assert ip_tx["dropped"] == 0
    assert guest.bql("vnet0", "inflight") == 0
    # The qdisc held the rest and dropped nothing.
    assert "(dropped 0," in guest.sh("tc", "-s", "qdisc", "show", "dev", "vnet0")


def test_down_with_frames_in_flight_purges_them(vnet: Path) -> None:
    guest.sh("ethtool", "-C", "vnet0", "tx-usecs", "1000000")
    guest.quiet_link_up("vnet0")
    before = guest.ethtool_stats()
    guest.send_frames("vnet0", 50)
    guest.sh("ip", "link", "set", "vnet0", "down")
    d = guest.delta(guest.ethtool_stats(), before)
    posted = d["tx_other"]
    # Every frame the driver took is either completed or purged at stop: none leaks.
    assert posted == d["tx_completions"] + d["tx_purged"]
    assert d["tx_purged"] > 0
    assert d["tx_dropped"] == d["tx_purged"]
    assert guest.bql("vnet0", "inflight") == 0


def test_tx_usecs_applies_to_frames_posted_after_it(vnet: Path) -> None:
    # A frame posted at tx-usecs 0.5 s completes 0.5 s later, even when tx-usecs grows to
    # 1 s meanwhile (vnet_ethtool.c: "applies to frames posted from now on").
    guest.quiet_link_up("vnet0")
    guest.sh("ethtool", "-C", "vnet0", "tx-usecs", "500000")
    before = guest.ethtool_stats()["tx_packets"]
    guest.send_frames("vnet0", 1)
    posted = time.monotonic()
    guest.sh("ethtool", "-C", "vnet0", "tx-usecs", "1000000")
    guest.wait_until(lambda: guest.ethtool_stats()["tx_packets"] == before + 1, 5, "the completion")
    took = time.monotonic() - posted
    assert 0.4 < took < 0.9, took


# netpoll's polls of the device's NAPIs: budget 0 (the kernel's own tracepoint).
NETPOLL_BT = r"""
tracepoint:napi:napi_poll /args->budget == 0 && ((struct napi_struct *)args->napi)->dev->ifindex == IFINDEX/ {
    @polls = count();
}
"""


def test_netconsole_gets_through_a_full_ring(vnet: Path) -> None:
    # netconsole transmits through netpoll, which polls every NAPI of the device with a
    # budget of 0 (and IRQs possibly off) when the queue is stopped: the TX NAPI must
    # reclaim the ring then, and do nothing that budget 0 forbids.
    guest.sh("ethtool", "-G", "vnet0", "tx", "16")
    guest.sh("ethtool", "-C", "vnet0", "tx-usecs", "50000")  # 16 frames in flight for 50 ms
    guest.quiet_link_up("vnet0")
    guest.sh("ip", "addr", "add", "10.0.0.1/24", "dev", "vnet0")
    ifindex = Path("/sys/class/net/vnet0/ifindex").read_text().strip()
    netpoll = guest.BpftraceWitness(NETPOLL_BT.replace("IFINDEX", ifindex), ("@polls",))
    guest.sh("modprobe", "netconsole", "netconsole=6665@10.0.0.1/vnet0,6666@10.0.0.2/02:76:6e:65:74:02")
    devkmsg = Path("/proc/sys/kernel/printk_devkmsg")
    ratelimit = devkmsg.read_text()
    devkmsg.write_text("on\n")  # /dev/kmsg writers are rate-limited to 10 lines otherwise
    try:
        with netpoll:
            before = guest.ethtool_stats()
            with open("/dev/kmsg", "w") as kmsg:
                for i in range(48):  # three rings' worth; emergency level, so that consoles print it
                    kmsg.write(f"<0>vnet netconsole test {i}\n")
                    kmsg.flush()
            # Consoles print after the write returns, netpoll retries what it queued every
            # 100 ms: wait for the frames themselves.
            guest.wait_until(lambda: guest.ethtool_stats()["tx_ipv4"] - before["tx_ipv4"] >= 48, 30,
                           "48 netconsole frames")
            guest.wait_until(guest.tx_idle, what="TX completions")
            d = guest.delta(guest.ethtool_stats(), before)
            polls = re.search(r"@polls: (\d+)", netpoll.finish())
    finally:
        devkmsg.write_text(ratelimit)
        guest.sh("rmmod", "netconsole", check=False)
    assert d["tx_queue_stopped"] > 0  # the ring was full: netpoll had to poll to go on
    assert polls and int(polls.group(1)) > 0  # ... and it did, with budget 0
    assert d["tx_ipv4"] == 48 and d["tx_packets"] == d["tx_completions"] >= 48
