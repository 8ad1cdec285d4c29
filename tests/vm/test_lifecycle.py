"""Load/unload and up/down loops under traffic: no kernel warnings, no leaked skbs."""

from __future__ import annotations

from pathlib import Path

from tests.vm import lab

SKB_CACHE = "skbuff_head_cache"
SLAB_SLACK = lab.SKB_SLACK


def test_up_down_cycles_under_traffic(vnet: Path) -> None:
    lab.sh("ethtool", "-C", "vnet0", "tx-usecs", "2000")  # frames are in the ring at each down
    Path("/proc/sys/net/ipv6/conf/vnet0/disable_ipv6").write_text("1\n")
    lab.set_knob("rx_rate", 20000)
    lab.set_knob("rx_burst", 16)
    baseline = lab.slab_active(SKB_CACHE)
    sender = lab.Sender()
    sender.start()
    try:
        for _ in range(200):
            lab.sh("ip", "link", "set", "vnet0", "up")
            lab.sh("ip", "link", "set", "vnet0", "down")
    finally:
        sender.stop.set()
        sender.join()
        lab.set_knob("rx_rate", 0)
    s = lab.ethtool_stats()
    posted = s["tx_arp"] + s["tx_ipv4"] + s["tx_ipv6"] + s["tx_other"]
    # Every frame the driver accepted was completed or purged at a down.
    assert posted == s["tx_completions"] + s["tx_purged"] > 0
    assert s["tx_purged"] > 0 and s["rx_packets"] > 0
    assert lab.slab_active(SKB_CACHE) - baseline < SLAB_SLACK


def test_load_unload_cycles_under_traffic() -> None:
    lab.unload()
    mark = lab.kmsg_mark()
    baseline = lab.slab_active(SKB_CACHE)
    for _ in range(50):
        lab.load("rx_rate=20000", "rx_burst=16")
        lab.quiet_link_up("vnet0")
        lab.sh("ethtool", "-C", "vnet0", "tx-usecs", "5000")
        lab.send_frames("vnet0", 100)
        lab.unload()  # with RX generating and TX frames in flight
    assert lab.slab_active(SKB_CACHE) - baseline < SLAB_SLACK
    lab.assert_clean_kmsg(mark)
