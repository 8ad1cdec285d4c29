"""The Toeplitz witness against the RSS verification suite of NIC datasheets (Intel 82599
7.1.2.8.3): flows and the hashes a conforming NIC must compute, with and without ports."""

import pytest

from vnet_ebpf import rss

# (source, destination, source port, destination port, hash of addresses, hash with ports)
IPV4_SUITE = [
    ("66.9.149.187", "161.142.100.80", 2794, 1766, 0x323E8FC2, 0x51CCC178),
    ("199.92.111.2", "65.69.140.83", 14230, 4739, 0xD718262A, 0xC626B0EA),
    ("24.19.198.95", "12.22.207.184", 12898, 38024, 0xD2D0A5DE, 0x5C2B394A),
    ("38.27.205.30", "209.142.163.6", 48228, 2217, 0x82989176, 0xAFC7327F),
]


@pytest.mark.parametrize(("src", "dst", "sport", "dport", "l3", "l4"), IPV4_SUITE)
def test_the_verification_suite(src: str, dst: str, sport: int, dport: int, l3: int, l4: int) -> None:
    key = rss.VERIFICATION_KEY
    assert rss.toeplitz(key, rss.flow_input(src, dst)) == l3
    assert rss.toeplitz(key, rss.flow_input(src, dst, sport, dport)) == l4


def test_the_hash_is_linear_in_its_input() -> None:
    """Toeplitz is an XOR of key windows, one per set bit: h(a ^ b) == h(a) ^ h(b)."""
    key = rss.VERIFICATION_KEY
    a = rss.flow_input("10.0.0.1", "10.0.0.2", 1000, 2000)
    b = rss.flow_input("192.168.7.9", "172.16.0.4", 53, 65535)
    both = bytes(x ^ y for x, y in zip(a, b, strict=True))
    assert rss.toeplitz(key, both) == rss.toeplitz(key, a) ^ rss.toeplitz(key, b)
    assert rss.toeplitz(key, bytes(12)) == 0


def test_ipv6_flows_take_36_bytes_and_fit_the_40_byte_key() -> None:
    data = rss.flow_input("2001:db8::1", "2001:db8::2", 1, 2)
    assert len(data) == 36
    assert 0 <= rss.toeplitz(rss.VERIFICATION_KEY, data) <= 0xFFFFFFFF


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="too short"):
        rss.toeplitz(bytes(8), bytes(12))
    with pytest.raises(ValueError, match="both ports"):
        rss.flow_input("10.0.0.1", "10.0.0.2", 1)
    with pytest.raises(ValueError, match="out of range"):
        rss.flow_input("10.0.0.1", "10.0.0.2", 1, 70000)
    with pytest.raises(ValueError, match="empty"):
        rss.queue(5, [])


def test_queue_follows_the_indirection_table() -> None:
    indir = [0, 1, 2, 3] * 32  # 128 entries, as ethtool -X equal 4 makes
    assert [rss.queue(h, indir) for h in (0, 1, 5, 127, 128, 0x51CCC178)] == [0, 1, 1, 3, 0, 0x78 % 4]
