"""vnet-wire between two namespaces: ping and TCP through it, and every count of frames
and bytes the same in the wire's counters, ethtool -S, ip -s link, tcpdump on both
devices and the wire's own pcap (read back by tcpdump)."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.vm import guest
from tests.vm.test_rx import generate

A, B = ("wireA", "vnet0", "10.0.0.1"), ("wireB", "vnet1", "10.0.0.2")


def ns_sh(ns: str, *argv: str) -> str:
    return guest.sh("ip", "netns", "exec", ns, *argv)


def ns_ethtool(ns: str, dev: str) -> dict[str, int]:
    stats: dict[str, int] = {}
    for line in ns_sh(ns, "ethtool", "-S", dev).splitlines()[1:]:
        name, _, value = line.strip().partition(":")
        stats[name.strip()] = int(value)
    return stats


def ns_ip(ns: str, dev: str) -> dict[str, dict[str, int]]:
    (link,) = json.loads(guest.sh("ip", "-n", ns, "-s", "-j", "link", "show", dev))
    stats: dict[str, dict[str, int]] = link["stats64"]
    return stats


@pytest.fixture
def pair() -> Iterator[None]:
    """vnet0 in wireA (10.0.0.1/24) and vnet1 in wireB (10.0.0.2/24), quiet: no IPv6,
    permanent neighbours (no ARP), so that every frame is one the test caused."""
    guest.unload()
    mark = guest.kmsg_mark()
    guest.load("numdevs=2")
    macs = {dev: Path(f"/sys/class/net/{dev}/address").read_text().strip() for _, dev, _ in (A, B)}
    try:
        for (ns, dev, ip), (_, peer, peer_ip) in ((A, B), (B, A)):
            guest.sh("ip", "netns", "add", ns)
            ns_sh(ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
            guest.sh("ip", "link", "set", dev, "netns", ns)
            guest.sh("ip", "-n", ns, "link", "set", "lo", "up")
            guest.sh("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", dev)
            # GRO would merge received TCP segments before tcpdump sees them (one packet
            # per merge, not per frame): off here, so that captures count frames.
            guest.sh("ip", "netns", "exec", ns, "ethtool", "-K", dev, "gro", "off")
            guest.sh("ip", "-n", ns, "link", "set", dev, "up")
            guest.sh("ip", "-n", ns, "neigh", "replace", peer_ip, "lladdr", macs[peer], "dev", dev, "nud", "permanent")
        yield
    finally:
        for ns, _, _ in (A, B):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
        guest.unload()
        guest.assert_clean_kmsg(mark)


class Tcpdump:
    """tcpdump -w on one device in its namespace, stopped with SIGINT."""

    def __init__(self, ns: str, dev: str, path: Path) -> None:
        self.path = path
        # A large buffer: under emulation a burst of TCP would overrun the default 2 MiB.
        # Immediate mode: with libpcap's default (TPACKET_V3 blocks handed over when full
        # or after a timeout), frames in the block still open at SIGINT are lost, and not
        # counted as dropped.
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns, "tcpdump", "-i", dev, "-p", "-U", "--immediate-mode",
                                      "-B", "65536", "-w", str(path)], stderr=subprocess.PIPE, text=True)
        assert self.proc.stderr is not None
        line = self.proc.stderr.readline()
        assert "listening on" in line, line

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        _, err = self.proc.communicate(timeout=30)
        self.summary = err.strip()
        assert "0 packets dropped by kernel" in err, err


@dataclass(frozen=True)
class Capture:
    frames: int
    bytes: int


def read_pcap(path: Path) -> Capture:
    """Frames and bytes of a capture, as tcpdump -r -e prints them (the frame length)."""
    out = guest.sh("tcpdump", "-r", str(path), "-nn", "-e")
    lengths = [int(m.group(1)) for m in re.finditer(r"length (\d+):", out)]
    assert len(lengths) == len(out.splitlines())
    return Capture(len(lengths), sum(lengths))


@pytest.mark.smoke
def test_ping_and_tcp_through_the_wire_agree_with_every_witness(pair: None, tmp_path: Path) -> None:
    before = {dev: ns_ethtool(ns, dev) for ns, dev, _ in (A, B)}
    ip_before = {dev: ns_ip(ns, dev) for ns, dev, _ in (A, B)}
    dumps = {dev: Tcpdump(ns, dev, tmp_path / f"{dev}.pcap") for ns, dev, _ in (A, B)}
    wire_pcap = tmp_path / "wire.pcap"
    wire = subprocess.Popen(["vnet-wire", f"{A[0]}/{A[1]}", f"{B[0]}/{B[1]}", "--pcap", str(wire_pcap), "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        guest.wait_until(lambda: ns_sh(A[0], "cat", "/sys/class/net/vnet0/vnet/hw").strip() == "backend"
                       and ns_sh(B[0], "cat", "/sys/class/net/vnet1/vnet/hw").strip() == "backend", what="bound")
        ping = ns_sh(A[0], "ping", "-c", "20", "-i", "0.05", "-W", "5", B[2])
        assert " 0% packet loss" in ping
        server = subprocess.Popen(["ip", "netns", "exec", B[0], "iperf3", "-s", "-1"], stdout=subprocess.DEVNULL)
        time.sleep(1)
        tcp = json.loads(ns_sh(A[0], "iperf3", "-c", B[2], "-n", "2M", "-J"))
        server.wait(30)
        assert tcp["end"]["sum_sent"]["bytes"] == 2 * 1024 * 1024
        received = tcp["end"]["sum_received"]["bytes"]
        time.sleep(0.5)  # the last ACKs through
        after = {dev: ns_ethtool(ns, dev) for ns, dev, _ in (A, B)}
        ip_after = {dev: ns_ip(ns, dev) for ns, dev, _ in (A, B)}
    finally:
        wire.send_signal(signal.SIGINT)
        out, err = wire.communicate(timeout=30)
        for d in dumps.values():
            d.stop()
    assert wire.returncode == 0, err
    report = json.loads(out)
    a2b, b2a = report["directions"]
    assert (a2b["from"], b2a["from"]) == ("wireA/vnet0", "wireB/vnet1")
    assert a2b["dropped_loss"] == a2b["dropped_write"] == b2a["dropped_loss"] == b2a["dropped_write"] == 0
    d0, d1 = (guest.delta(after[dev], before[dev]) for dev in ("vnet0", "vnet1"))
    # Each direction, counted by the wire, by both drivers and by the core (ip -s link).
    for wire_dir, tx, rx, txd, rxd in ((a2b, d0, d1, "vnet0", "vnet1"), (b2a, d1, d0, "vnet1", "vnet0")):
        frames, nbytes = wire_dir["frames"], wire_dir["bytes"]
        # What the server received crossed the wire one way, in segments of at most 1448
        # bytes (MTU 1500); the ACKs came back.  Not all of the 2 MiB sent: the test ends
        # when the client has written them, and the server may close with some in flight.
        if wire_dir is a2b:
            assert received > 0 and frames * 1448 >= received, (frames, received)
        else:
            assert frames > 20
        assert tx["tx_packets"] == tx["backend_tx_read"] == rx["rx_packets"] == rx["backend_rx_written"] == frames
        assert tx["tx_bytes"] == rx["rx_bytes"] == nbytes
        ipt = {k: ip_after[txd]["tx"][k] - ip_before[txd]["tx"][k] for k in ("packets", "bytes")}
        ipr = {k: ip_after[rxd]["rx"][k] - ip_before[rxd]["rx"][k] for k in ("packets", "bytes")}
        assert ipt == ipr == {"packets": frames, "bytes": nbytes}
    total = Capture(a2b["frames"] + b2a["frames"], a2b["bytes"] + b2a["bytes"])
    # tcpdump on each device sees both directions; the wire's pcap is everything it carried.
    assert read_pcap(dumps["vnet0"].path) == read_pcap(dumps["vnet1"].path) == read_pcap(wire_pcap) == total
    assert d0["tx_dropped"] == d1["tx_dropped"] == d0["rx_dropped"] == d1["rx_dropped"] == 0


@pytest.mark.smoke
def test_a_vlan_over_the_wire_carries_full_size_frames_both_ways(pair: None) -> None:
    """VLAN 10 over vnet0 and vnet1: a VLAN device has its link's MTU, so its full-size
    frames are 1518 bytes at MTU 1500.  ping -M do -s 1472 (no fragmentation, 1500-byte
    IP packets) gets every reply, and the wire carried each 1518-byte frame."""
    for (ns, dev, _), addr in ((A, "10.10.0.1/24"), (B, "10.10.0.2/24")):
        guest.sh("ip", "-n", ns, "link", "add", "link", dev, "name", f"{dev}.10", "type", "vlan", "id", "10")
        guest.sh("ip", "-n", ns, "addr", "add", addr, "dev", f"{dev}.10")
        guest.sh("ip", "-n", ns, "link", "set", f"{dev}.10", "up")
    wire = subprocess.Popen(["vnet-wire", f"{A[0]}/{A[1]}", f"{B[0]}/{B[1]}", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        guest.wait_until(lambda: ns_sh(A[0], "cat", "/sys/class/net/vnet0/vnet/hw").strip() == "backend"
                       and ns_sh(B[0], "cat", "/sys/class/net/vnet1/vnet/hw").strip() == "backend", what="bound")
        before = {dev: ns_ethtool(ns, dev) for ns, dev, _ in (A, B)}
        ping = subprocess.run(["ip", "netns", "exec", A[0], "ping", "-M", "do", "-s", "1472", "-c", "10",
                               "-i", "0.1", "-W", "5", "10.10.0.2"], capture_output=True, text=True)
        assert "10 packets transmitted, 10 received" in ping.stdout, ping.stdout + ping.stderr
        after = {dev: ns_ethtool(ns, dev) for ns, dev, _ in (A, B)}
    finally:
        wire.send_signal(signal.SIGINT)
        out, err = wire.communicate(timeout=30)
    assert wire.returncode == 0, err
    a2b, b2a = json.loads(out)["directions"]
    assert a2b["dropped_write"] == b2a["dropped_write"] == 0
    for dev in ("vnet0", "vnet1"):
        d = guest.delta(after[dev], before[dev])
        assert d["rx_length_errors"] == 0, dev
        # 10 echo requests out of vnet0 and 10 replies out of vnet1, 1518 bytes each,
        # beside the VLAN's own ARP frames (46 bytes: 42 and the tag; the stack does
        # not pad to 60, hardware would).
        extra = d["tx_bytes"] - 1518 * 10
        assert extra >= 0 and extra % 46 == 0 and d["tx_packets"] == 10 + extra // 46, (dev, d)


def carrier(ns: str, dev: str) -> tuple[int, str]:
    """The link as the stack sees it: /sys carrier (1/0, unreadable while down) and operstate."""
    value = subprocess.run(["ip", "netns", "exec", ns, "cat", f"/sys/class/net/{dev}/carrier"],
                           capture_output=True, text=True).stdout.strip()
    state = ns_sh(ns, "cat", f"/sys/class/net/{dev}/operstate").strip()
    return (int(value) if value else -1), state


def pull_and_replug(near: tuple[str, str], far: tuple[str, str]) -> None:
    """NEAR (netns, dev) down, then up: FAR loses its link, then both have it again."""
    guest.sh("ip", "-n", near[0], "link", "set", near[1], "down")
    guest.wait_until(lambda: carrier(*far) == (0, "down"), what=f"{far[1]} to lose its link")
    assert carrier(*near) == (-1, "down")
    guest.sh("ip", "-n", near[0], "link", "set", near[1], "up")
    guest.wait_until(lambda: carrier(*far) == carrier(*near) == (1, "up"),
                     what=f"{far[1]} and {near[1]} to get their link back")


@pytest.mark.smoke
def test_carrier_follows_the_far_end_of_the_wire(pair: None) -> None:
    """A cable: `ip link set vnet1 down` takes vnet0's link down (carrier 0, operstate
    down) and up brings it back; the same the other way; and when the wire ends, even
    killed, vnet0's simulated NIC has its link back, though vnet1 is still down."""
    wire = subprocess.Popen(["vnet-wire", f"{A[0]}/{A[1]}", f"{B[0]}/{B[1]}", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        guest.wait_until(lambda: ns_sh(A[0], "cat", "/sys/class/net/vnet0/vnet/hw").strip() == "backend"
                       and ns_sh(B[0], "cat", "/sys/class/net/vnet1/vnet/hw").strip() == "backend", what="bound")
        assert carrier(*A[:2]) == carrier(*B[:2]) == (1, "up")
        for near, far in ((B, A), (A, B)):
            pull_and_replug(near[:2], far[:2])
        # A ping crosses once the link is back.
        assert " 0% packet loss" in ns_sh(A[0], "ping", "-c", "3", "-i", "0.2", "-W", "5", B[2])
        ns_sh(B[0], "ip", "link", "set", B[1], "down")
        guest.wait_until(lambda: carrier(*A[:2]) == (0, "down"), what="vnet0 to lose its link")
    finally:
        # Killed, so that it cannot tidy up: the driver must not need it to.
        wire.kill()
        wire.communicate(timeout=30)
    # The wire's files are closed: vnet0 is back on its simulated NIC, whose link partner
    # is always there.
    guest.wait_until(lambda: carrier(*A[:2]) == (1, "up"), what="vnet0's link after the wire")
    assert ns_sh(A[0], "cat", "/sys/class/net/vnet0/vnet/hw").strip() == "simulated"


def test_carrier_off_by_hand_on_the_simulated_nic(vnet: Path) -> None:
    """`ip link set vnet0 carrier off` is a pulled cable: no link, and the generator's
    frames no longer arrive; it survives down/up, and carrier on brings all back."""
    guest.quiet_link_up("vnet0")
    guest.sh("ip", "link", "set", "vnet0", "carrier", "off")
    guest.wait_until(lambda: carrier_root() == (0, "down"), what="carrier off")
    before = guest.ethtool_stats()
    generate(rate=200, burst=4, seconds=0.5)
    assert guest.delta(guest.ethtool_stats(), before)["arp_generated"] == 0
    guest.sh("ip", "link", "set", "vnet0", "down")
    guest.sh("ip", "link", "set", "vnet0", "up")
    time.sleep(0.5)
    assert carrier_root() == (0, "down")
    guest.sh("ip", "link", "set", "vnet0", "carrier", "on")
    guest.wait_until(lambda: carrier_root() == (1, "up"), what="carrier on")
    before = guest.ethtool_stats()
    generate(rate=200, burst=4, seconds=0.5)
    d = guest.delta(guest.ethtool_stats(), before)
    assert d["arp_generated"] == d["rx_packets"] > 0


def carrier_root() -> tuple[int, str]:
    value = Path("/sys/class/net/vnet0/carrier").read_text().strip()
    return int(value), Path("/sys/class/net/vnet0/operstate").read_text().strip()
