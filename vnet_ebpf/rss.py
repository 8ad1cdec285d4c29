"""RSS as a NIC computes it: the Toeplitz hash of a flow's addresses and ports, and the
indirection table that turns the hash into an RX queue.

This is the independent witness for the driver's RSS (issue 23): tests hash each frame's
own bytes here and check the queue the driver put it on.  It is written from the
definition, not from the driver's code: for every bit of the input, from the most
significant bit of the first byte on, if the bit is set the result takes an XOR with the
32 bits of the key that start at that bit position.
"""

from __future__ import annotations

import ipaddress

#: The key of the RSS verification suite that NIC datasheets publish (Intel 82599
#: 7.1.2.8.3, Microsoft's RSS documentation), with the hashes their flows must give.
VERIFICATION_KEY = bytes.fromhex(
    "6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c6a42b73bbeac01fa"
)


def toeplitz(key: bytes, data: bytes) -> int:
    """The 32-bit Toeplitz hash of DATA under KEY (KEY needs 32 bits more than DATA has)."""
    if len(key) * 8 < len(data) * 8 + 32:
        raise ValueError(f"a {len(key)}-byte key is too short for {len(data)} bytes of input")
    # The key as one big integer: the 32-bit window at bit i is a shift and a mask.
    k = int.from_bytes(key, "big")
    top = len(key) * 8
    result = 0
    for i, byte in enumerate(data):
        for bit in range(8):
            if byte & (0x80 >> bit):
                pos = i * 8 + bit
                result ^= (k >> (top - 32 - pos)) & 0xFFFFFFFF
    return result


def flow_input(src: str, dst: str, sport: int | None = None, dport: int | None = None) -> bytes:
    """The bytes a NIC hashes for a flow: source and destination address (IPv4 or IPv6),
    then, for TCP/UDP hashing, source and destination port, in network byte order."""
    data = ipaddress.ip_address(src).packed + ipaddress.ip_address(dst).packed
    if (sport is None) != (dport is None):
        raise ValueError("give both ports or neither")
    if sport is not None and dport is not None:
        for port in (sport, dport):
            if not 0 <= port <= 0xFFFF:
                raise ValueError(f"port {port} is out of range")
        data += sport.to_bytes(2, "big") + dport.to_bytes(2, "big")
    return data


def queue(hash_value: int, indir: list[int]) -> int:
    """The RX queue of a hash: the indirection table's entry at the hash modulo its size."""
    if not indir:
        raise ValueError("the indirection table is empty")
    return indir[hash_value % len(indir)]
