"""RX: the generator, NAPI batching (against the kernel's napi:napi_poll), the frames
themselves (against tcpdump), and the stack's ARP replies."""

from __future__ import annotations

import re
import struct
import subprocess
import time
from pathlib import Path

import pytest

from tests.vm import guest
from vnet_ebpf.lab.witnesses import NapiWitness


def generate(rate: int, burst: int, seconds: float) -> None:
    guest.set_knob("rx_burst", burst)
    guest.set_knob("rx_rate", rate)
    time.sleep(seconds)
    guest.set_knob("rx_rate", 0)
    time.sleep(0.3)  # the last tick's frames get polled


@pytest.mark.smoke
def test_each_poll_sees_one_burst(vnet: Path) -> None:
    guest.quiet_link_up("vnet0")
    burst = 8
    with NapiWitness() as witness:
        before = guest.ethtool_stats()
        generate(rate=400, burst=burst, seconds=3)
        d = guest.delta(guest.ethtool_stats(), before)
        work, over = witness.stop()

    assert over == 0
    assert set(work) == {burst}, f"work per poll: {dict(work)}"
    assert work[burst] == d["napi_polls"]
    assert sum(w * n for w, n in work.items()) == d["rx_packets"]
    assert d["rx_packets"] == d["arp_generated"] == d["rx_arp"] > 0
    assert d["rx_ring_full"] == d["rx_dropped"] == 0
    assert d["rx_bytes"] == 60 * d["rx_packets"]


def test_budget_is_respected(vnet: Path) -> None:
    guest.sh("ethtool", "-G", "vnet0", "rx", "1024")
    guest.quiet_link_up("vnet0")
    with NapiWitness() as witness:
        before = guest.ethtool_stats()
        generate(rate=2000, burst=200, seconds=2)
        d = guest.delta(guest.ethtool_stats(), before)
        work, over = witness.stop()

    assert over == 0 and max(work) == 64
    assert work[64] == d["napi_budget_exhausted"] > 0
    assert sum(work.values()) == d["napi_polls"]
    assert sum(w * n for w, n in work.items()) == d["rx_packets"] == d["arp_generated"]


def test_full_ring_drops_and_counts(vnet: Path) -> None:
    guest.sh("ethtool", "-G", "vnet0", "rx", "16")
    guest.quiet_link_up("vnet0")
    before, ip_before = guest.ethtool_stats(), guest.ip_stats()
    generate(rate=500, burst=50, seconds=1)
    d = guest.delta(guest.ethtool_stats(), before)
    ip_rx = guest.delta(guest.ip_stats()["rx"], ip_before["rx"])
    ticks = d["napi_polls"]
    # Each tick places 16 frames and misses 34: generated minus ring drops is what arrives.
    assert d["arp_generated"] == d["rx_packets"] == 16 * ticks
    assert d["rx_ring_full"] == 34 * ticks
    assert ip_rx["packets"] == d["rx_packets"]
    # if_link.h: missed frames are rx_missed_errors, not also rx_dropped (procfs adds the two).
    assert ip_rx["missed_errors"] == d["rx_ring_full"]
    assert ip_rx["dropped"] == d["rx_dropped"] == 0


def read_pcap(path: Path) -> list[bytes]:
    data = path.read_bytes()
    assert struct.unpack("<I", data[:4])[0] == 0xA1B2C3D4  # little-endian microsecond pcap
    frames, off = [], 24
    while off < len(data):
        _, _, caplen, _ = struct.unpack("<IIII", data[off : off + 16])
        frames.append(data[off + 16 : off + 16 + caplen])
        off += 16 + caplen
    return frames


def test_frames_on_the_wire_and_replies(vnet: Path, tmp_path: Path) -> None:
    peer_mac, peer_ip, my_ip = "02:aa:bb:cc:dd:ee", "192.0.2.7", "192.0.2.1"
    guest.set_knob("peer_mac", peer_mac)
    guest.set_knob("peer_ip", peer_ip)
    assert guest.get_knob("peer_mac") == peer_mac and guest.get_knob("peer_ip") == peer_ip
    guest.quiet_link_up("vnet0")
    guest.sh("ip", "addr", "add", f"{my_ip}/24", "dev", "vnet0")
    pcap = tmp_path / "arp.pcap"
    dump = subprocess.Popen(["tcpdump", "-i", "vnet0", "-n", "-U", "-w", str(pcap), "arp"],
                            stderr=subprocess.PIPE, text=True)
    assert dump.stderr is not None
    assert "listening" in dump.stderr.readline()
    before = guest.ethtool_stats()
    generate(rate=100, burst=5, seconds=1)
    guest.wait_until(guest.tx_idle, what="replies to complete")
    time.sleep(1)
    dump.send_signal(2)
    _, summary = dump.communicate(timeout=30)
    assert re.search(r"^0 packets dropped by kernel", summary, re.M), summary
    d = guest.delta(guest.ethtool_stats(), before)
    frames = read_pcap(pcap)

    mac = guest.mac_bytes("vnet0")
    peer = bytes.fromhex(peer_mac.replace(":", ""))
    pip, mip = bytes(map(int, peer_ip.split("."))), bytes(map(int, my_ip.split(".")))
    requests = [f for f in frames if f[20:22] == b"\x00\x01"]
    replies = [f for f in frames if f[20:22] == b"\x00\x02"]
    assert len(requests) == d["arp_generated"] == d["rx_arp"] > 0
    for f in requests:  # the documented layout, byte for byte
        assert len(f) == 60
        assert f[:6] == b"\xff" * 6 and f[6:12] == peer and f[12:14] == b"\x08\x06"
        assert f[14:20] == b"\x00\x01\x08\x00\x06\x04"
        assert f[22:28] == peer and f[28:32] == pip
        assert f[32:38] == bytes(6) and f[38:42] == mip
        assert f[42:] == bytes(18)
    # The stack answered every request; the answers went out through our TX ring.
    assert len(replies) == len(requests) == d["tx_arp"]
    for f in replies:
        assert f[:6] == peer and f[6:12] == mac
        assert f[22:28] == mac and f[28:32] == mip and f[32:38] == peer and f[38:42] == pip
