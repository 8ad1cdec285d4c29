"""The generator's UDP and TCP flows (rx_proto), checked against what we did not write:
sockets that receive them, the stack's own SNMP counters (/proc/net/snmp, snmp6),
tcpdump's capture of what arrived, and checksums recomputed here from the frames' bytes."""

from __future__ import annotations

import errno
import socket
import struct
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.vm import guest
from tests.vm.test_rx import generate, read_pcap

MY_IP, PEER_IP = "10.0.0.1", "10.0.0.2"
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)  # asm-generic/socket.h


def snmp() -> dict[str, int]:
    """/proc/net/snmp and snmp6 as {"Udp.InDatagrams": n, "Udp6InDatagrams": n, ...}."""
    out: dict[str, int] = {}
    lines = Path("/proc/net/snmp").read_text().splitlines()
    for names, values in zip(lines[::2], lines[1::2], strict=True):
        proto, _, keys = names.partition(": ")
        for k, v in zip(keys.split(), values.split()[1:], strict=True):
            out[f"{proto}.{k}"] = int(v)
    for line in Path("/proc/net/snmp6").read_text().splitlines():
        k, v = line.split()
        out[k] = int(v)
    return out


def mib_delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    """Counters that appear only once they count something (IcmpMsg) start from 0."""
    return {k: v - before.get(k, 0) for k, v in after.items()}


def inet_csum(data: bytes) -> int:
    """RFC 1071's ones' complement sum, folded and inverted."""
    if len(data) % 2:
        data += b"\0"
    s: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def l4_ok(frame: bytes) -> bool:
    """Whether the frame's IPv4 header and its UDP/TCP checksum are right (0 over all)."""
    if frame[12:14] == b"\x08\x00":
        ip, l4 = frame[14:34], frame[34:]
        pseudo = ip[12:20] + struct.pack("!BBH", 0, ip[9], len(l4))
        return inet_csum(ip) == 0 and inet_csum(pseudo + l4) == 0
    ip6, l4 = frame[14:54], frame[54:]
    pseudo = ip6[8:40] + struct.pack("!IxxxB", len(l4), ip6[6])
    return inet_csum(pseudo + l4) == 0


def ports(frame: bytes) -> tuple[int, int]:
    off = 34 if frame[12:14] == b"\x08\x00" else 54
    sport, dport = struct.unpack("!HH", frame[off : off + 4])
    return sport, dport


def ipv6_link_up(dev: str = "vnet0") -> str:
    """DEV up with IPv6 and without duplicate address detection (no peer would answer
    it, but a tentative address accepts nothing); its link-local address."""
    conf = Path(f"/proc/sys/net/ipv6/conf/{dev}")
    (conf / "disable_ipv6").write_text("0\n")
    (conf / "accept_dad").write_text("0\n")
    guest.sh("ip", "link", "set", dev, "up")

    def lladdr() -> str:
        for line in guest.sh("ip", "-6", "-o", "addr", "show", "dev", dev, "scope", "link").splitlines():
            if "tentative" not in line:
                return line.split()[3].split("/")[0]
        return ""

    guest.wait_until(lambda: bool(lladdr()), what="a link-local address")
    return lladdr()


class Capture:
    """tcpdump on vnet0 of FILTER into a pcap, stopped by stop()."""

    def __init__(self, path: Path, bpf_filter: str) -> None:
        self.path = path
        # Immediate mode: no frame may wait in a half-full TPACKET_V3 block when it stops.
        argv = ["tcpdump", "-i", "vnet0", "-n", "-U", "--immediate-mode", "-w", str(path), bpf_filter]
        self.proc = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)
        assert self.proc.stderr is not None
        assert "listening" in self.proc.stderr.readline()

    def stop(self) -> list[bytes]:
        time.sleep(0.5)
        self.proc.send_signal(2)
        _, summary = self.proc.communicate(timeout=30)
        assert "0 packets dropped by kernel" in summary, summary
        return read_pcap(self.path)


def receive_all(sock: socket.socket) -> list[tuple[bytes, int]]:
    """Every datagram waiting on SOCK, with its source port."""
    got: list[tuple[bytes, int]] = []
    sock.setblocking(False)
    while True:
        try:
            data, addr = sock.recvfrom(65536)
        except BlockingIOError:
            return got
        got.append((data, addr[1]))


def udp_socket(family: int, addr: str) -> socket.socket:
    s = socket.socket(family, socket.SOCK_DGRAM)
    # Each datagram holds a whole RX page: room for all of them, beyond rmem_max (root may).
    s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 32 << 20)
    s.bind((addr, 9))
    return s


def configure(proto: str, flows: int, size: str | int) -> None:
    guest.set_knob("rx_proto", proto)
    guest.set_knob("rx_flows", flows)
    guest.set_knob("rx_size", size)
    assert (guest.get_knob("rx_proto"), guest.get_knob("rx_flows"), guest.get_knob("rx_size")) == \
        (proto, str(flows), str(size))


def udp_run(family: int, addr: str, pcap: Path, bpf_filter: str, rate: int,
            burst: int) -> tuple[list[bytes], list[tuple[bytes, int]], dict[str, int], dict[str, int]]:
    """A second of UDP flows to a socket on ADDR port 9, captured: the frames, the
    datagrams with their source ports, and the deltas of ethtool -S and the SNMP MIBs."""
    sock = udp_socket(family, addr)
    cap = Capture(pcap, bpf_filter)
    before, mib0 = guest.ethtool_stats(), snmp()
    generate(rate=rate, burst=burst, seconds=1)
    frames = cap.stop()
    got = receive_all(sock)  # UDP counts InDatagrams as the program reads them
    d, mib = guest.delta(guest.ethtool_stats(), before), mib_delta(snmp(), mib0)
    sock.close()
    return frames, got, d, mib


@pytest.mark.smoke
def test_udp4_flows_reach_a_socket_with_valid_checksums(vnet: Path, tmp_path: Path) -> None:
    guest.quiet_link_up("vnet0")
    guest.sh("ip", "addr", "add", f"{MY_IP}/24", "dev", "vnet0")
    configure("udp4", flows=4, size=200)
    frames, got, d, mib = udp_run(socket.AF_INET, MY_IP, tmp_path / "udp4.pcap", "udp", rate=400, burst=8)

    n = d["udp_generated"]
    assert n > 0 and n % 8 == 0 and d["arp_generated"] == d["tcp_generated"] == 0
    assert len(got) == len(frames) == d["rx_packets"] == d["rx_ipv4"] == n
    assert mib["Udp.InDatagrams"] == n and mib["Udp.InCsumErrors"] == mib["Udp.InErrors"] == 0
    assert d["rx_bytes"] == 200 * n
    # Four flows in turn: source ports 1024..1027, each as often, to the discard port.
    assert Counter(p for _, p in got) == {1024 + i: n // 4 for i in range(4)}
    assert {len(data) for data, _ in got} == {200 - 42}
    mac, peer = guest.mac_bytes("vnet0"), bytes.fromhex(guest.get_knob("peer_mac").replace(":", ""))
    for i, f in enumerate(frames):
        assert len(f) == 200 and f[:6] == mac and f[6:12] == peer
        assert f[26:30] == socket.inet_aton(PEER_IP) and f[30:34] == socket.inet_aton(MY_IP)
        assert ports(f) == (1024 + i % 4, 9) and l4_ok(f)


def test_udp6_flows_reach_a_socket(vnet: Path, tmp_path: Path) -> None:
    lladdr = ipv6_link_up()
    configure("udp6", flows=3, size=100)
    frames, got, d, mib = udp_run(socket.AF_INET6, "::", tmp_path / "udp6.pcap", "ip6 and udp", rate=300, burst=6)

    n = d["udp_generated"]
    assert n > 0 and len(got) == len(frames) == d["rx_ipv6"] == n
    assert mib["Udp6InDatagrams"] == n and mib["Udp6InCsumErrors"] == 0
    assert Counter(p for _, p in got) == {1024 + i: n // 3 for i in range(3)}
    dst = socket.inet_pton(socket.AF_INET6, lladdr)
    for f in frames:
        # Next header UDP (17), hop limit 64, to the address the stack gave vnet0.
        assert len(f) == 100 and f[38:54] == dst and f[20:22] == b"\x11\x40" and l4_ok(f)
        assert f[22:24] == b"\xfe\x80"  # the peer's link-local source


def test_imix_and_sizes_cut_to_the_mtu(vnet: Path, tmp_path: Path) -> None:
    guest.quiet_link_up("vnet0")
    guest.sh("ip", "addr", "add", f"{MY_IP}/24", "dev", "vnet0")
    configure("udp4", flows=1, size="imix")
    cap = Capture(tmp_path / "imix.pcap", "udp")
    before = guest.ethtool_stats()
    generate(rate=240, burst=12, seconds=1)
    frames = cap.stop()
    d = guest.delta(guest.ethtool_stats(), before)
    n = d["udp_generated"]
    assert n > 0 and n % 12 == 0 and len(frames) == n, (d, Counter(len(f) for f in frames))
    # The simple IMIX: of every 12 frames, 7 of 60 bytes, 4 of 590, 1 of 1514.
    assert Counter(len(f) for f in frames) == {60: 7 * n // 12, 590: 4 * n // 12, 1514: n // 12}
    assert all(l4_ok(f) for f in frames)

    # A size the MTU does not allow is cut to the MTU: 1500 + 14 bytes.
    guest.set_knob("rx_size", 9014)
    before = guest.ethtool_stats()
    generate(rate=100, burst=4, seconds=0.5)
    d = guest.delta(guest.ethtool_stats(), before)
    assert d["udp_generated"] > 0 and d["rx_bytes"] == 1514 * d["udp_generated"]


@pytest.mark.parametrize("proto", ["tcp4", "tcp6"])
def test_tcp_flows_are_merged_by_gro(vnet: Path, tmp_path: Path, proto: str) -> None:
    if proto == "tcp4":
        guest.quiet_link_up("vnet0")
        guest.sh("ip", "addr", "add", f"{MY_IP}/24", "dev", "vnet0")
        hdr = 14 + 20 + 20
    else:
        ipv6_link_up()
        hdr = 14 + 40 + 20
    configure(proto, flows=2, size=1514)
    mss = 1514 - hdr
    seen = {}
    for gro in ("on", "off"):
        guest.sh("ethtool", "-K", "vnet0", "gro", gro)
        cap = Capture(tmp_path / f"{proto}-{gro}.pcap", "tcp dst port 9")
        before, mib0 = guest.ethtool_stats(), snmp()
        generate(rate=320, burst=16, seconds=1)
        frames = cap.stop()
        d, mib = guest.delta(guest.ethtool_stats(), before), mib_delta(snmp(), mib0)
        n = d["tcp_generated"]
        # The driver handed up every segment; TCP saw each packet GRO made, merged or not.
        assert n > 0 and d["rx_packets"] == n and mib["Tcp.InSegs"] == len(frames)
        assert mib["Tcp.InCsumErrors"] == 0
        payload = sum(len(f) - hdr for f in frames)
        assert payload == mss * n, f"gro {gro}: TCP payload bytes captured"
        assert all(l4_ok(f) for f in frames if len(f) <= 1514)
        seen[gro] = Counter(len(f) for f in frames)
    # GRO off: every segment as it came.  On: the two flows' segments, merged.
    assert seen["off"] == {1514: sum(seen["off"].values())}
    assert max(seen["on"]) > 1514 and sum(seen["on"].values()) < sum(seen["off"].values())


@pytest.mark.parametrize("knob, bad", [
    ("rx_proto", "udp"), ("rx_proto", "UDP4"), ("rx_proto", ""), ("rx_proto", "udp4 x"),
    ("rx_flows", "0"), ("rx_flows", "257"), ("rx_flows", "-1"), ("rx_flows", "2x"),
    ("rx_size", "59"), ("rx_size", "9015"), ("rx_size", "IMIX"), ("rx_size", "imix2"),
    ("rx_size", "4294967356"),
])
def test_bad_generator_knobs_are_refused_and_change_nothing(vnet: Path, knob: str, bad: str) -> None:
    configure("tcp6", flows=7, size=321)
    before = {k: guest.get_knob(k) for k in ("rx_proto", "rx_flows", "rx_size")}
    with pytest.raises(OSError) as e:
        guest.set_knob(knob, bad)
    assert e.value.errno == errno.EINVAL
    assert {k: guest.get_knob(k) for k in before} == before


def test_knob_edges_are_accepted(vnet: Path) -> None:
    assert (guest.get_knob("rx_proto"), guest.get_knob("rx_flows"), guest.get_knob("rx_size")) == \
        ("arp", "1", "60")
    for proto in ("arp", "udp4", "tcp4", "udp6", "tcp6"):
        guest.set_knob("rx_proto", proto)
        assert guest.get_knob("rx_proto") == proto
    for flows in (1, 256):
        guest.set_knob("rx_flows", flows)
        assert guest.get_knob("rx_flows") == str(flows)
    for size in ("60", "9014", "imix"):
        guest.set_knob("rx_size", size)
        assert guest.get_knob("rx_size") == size
