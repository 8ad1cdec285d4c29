"""Load/unload and up/down loops under traffic: no kernel warnings, no leaked skbs."""

from __future__ import annotations

from pathlib import Path

from tests.vm import guest

SKB_CACHE = "skbuff_head_cache"
SLAB_SLACK = guest.SKB_SLACK


def test_up_down_cycles_under_traffic(vnet: Path) -> None:
    guest.sh("ethtool", "-C", "vnet0", "tx-usecs", "2000")  # frames are in the ring at each down
    Path("/proc/sys/net/ipv6/conf/vnet0/disable_ipv6").write_text("1\n")
    guest.set_knob("rx_rate", 20000)
    guest.set_knob("rx_burst", 16)
    baseline = guest.slab_active(SKB_CACHE)
    sender = guest.Sender()
    sender.start()
    try:
        for _ in range(200):
            guest.sh("ip", "link", "set", "vnet0", "up")
            guest.sh("ip", "link", "set", "vnet0", "down")
    finally:
        sender.stop.set()
        sender.join()
        guest.set_knob("rx_rate", 0)
    s = guest.ethtool_stats()
    posted = s["tx_arp"] + s["tx_ipv4"] + s["tx_ipv6"] + s["tx_other"]
    # Every frame the driver accepted was completed or purged at a down.
    assert posted == s["tx_completions"] + s["tx_purged"] > 0
    assert s["tx_purged"] > 0 and s["rx_packets"] > 0
    assert guest.slab_active(SKB_CACHE) - baseline < SLAB_SLACK


def test_load_unload_cycles_under_traffic() -> None:
    guest.unload()
    mark = guest.kmsg_mark()
    baseline = guest.slab_active(SKB_CACHE)
    for _ in range(50):
        guest.load("rx_rate=20000", "rx_burst=16")
        guest.quiet_link_up("vnet0")
        guest.sh("ethtool", "-C", "vnet0", "tx-usecs", "5000")
        guest.send_frames("vnet0", 100)
        guest.unload()  # with RX generating and TX frames in flight
    assert guest.slab_active(SKB_CACHE) - baseline < SLAB_SLACK
    guest.assert_clean_kmsg(mark)
