"""vnet_ebpf/probes/btf.py on BTF blobs built here, field by field, as
include/uapi/linux/btf.h lays them out (the guest test checks it against pahole)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from vnet_ebpf.probes import btf


class Blob:
    """A BTF blob, one type at a time; a type's id is its place, from 1."""

    def __init__(self) -> None:
        self.strings = b"\0"
        self.types = b""
        self.count = 0

    def name(self, text: str) -> int:
        if not text:
            return 0
        off = len(self.strings)
        self.strings += text.encode() + b"\0"
        return off

    def add(self, kind: int, name: str, vlen: int, size_or_type: int, extra: bytes = b"",
            kind_flag: bool = False) -> int:
        info = (kind << 24) | vlen | (1 << 31 if kind_flag else 0)
        self.types += struct.pack("<3I", self.name(name), info, size_or_type) + extra
        self.count += 1
        return self.count

    def int_(self) -> int:
        return self.add(1, "int", 0, 4, struct.pack("<I", 32))

    def struct_(self, name: str, size: int, members: list[tuple[str, int, int]], kind: int = 4,
                kind_flag: bool = False) -> int:
        extra = b"".join(struct.pack("<3I", self.name(m), t, bits) for m, t, bits in members)
        return self.add(kind, name, len(members), size, extra, kind_flag)

    def bytes(self) -> bytes:
        header = struct.pack("<HBB5I", btf.MAGIC, 1, 0, 24, 0, len(self.types), len(self.types),
                             len(self.strings))
        return header + self.types + self.strings


def kernel(with_priv: bool) -> btf.Types:
    b = Blob()
    i = b.int_()                                                    # 1
    ns = b.struct_("ns_common", 16, [("stashed", i, 0), ("inum", i, 8 * 8)])   # 2
    b.struct_("net", 512, [("passive", i, 0), ("ns", ns, 120 * 8)])             # 3
    ptr = b.add(2, "", 0, 3)                                        # 4: struct net *
    possible = b.struct_("", 8, [("net", ptr, 0)])                  # 5
    typedef = b.add(8, "possible_net_t", 0, possible)               # 6
    const = b.add(10, "", 0, typedef)                               # 7: const possible_net_t
    anon = b.struct_("", 8, [("flags", i, 0), ("ifindex", i, 4 * 8)], kind=5)  # 8: a union
    members = [("name", i, 0), ("", anon, 220 * 8), ("nd_net", const, 264 * 8)]
    if with_priv:
        members.append(("priv", i, 2496 * 8))
    b.struct_("net_device", 2496 if with_priv else 2470, members)
    # A bitfield struct: kind_flag set, the size in the top 8 bits of the offset.
    b.struct_("napi_struct", 64, [("state", i, (1 << 24) | 0), ("dev", i, 48 * 8)], kind_flag=True)
    # A same-named FWD before nothing: only structs count.
    b.add(7, "sk_buff", 0, 0)
    b.struct_("sk_buff", 232, [("len", i, 112 * 8), ("data", i, 200 * 8)])
    return btf.Types(b.bytes())


@pytest.mark.parametrize("with_priv", [True, False])
def test_offsets_through_anonymous_unions_typedefs_and_nested_members(with_priv: bool) -> None:
    t = kernel(with_priv)
    assert t.offset("net_device", "ifindex") == 224       # 220 of the union + 4 in it
    assert t.offset("net", "ns.inum") == 128              # 120 + 8
    assert t.offset("net_device", "nd_net.net") == 264    # through const and typedef
    assert t.offset("napi_struct", "dev") == 48           # kind_flag: the bitfield size masked off
    assert t.offset("sk_buff", "data") == 200             # the struct, not the FWD of that name


def test_netdev_priv_is_the_priv_member_or_the_size_rounded_to_32() -> None:
    assert kernel(with_priv=True).netdev_priv() == 2496
    assert kernel(with_priv=False).netdev_priv() == 2496  # 2470 rounded up to 32


def test_what_is_not_there_is_a_btf_error() -> None:
    t = kernel(with_priv=True)
    with pytest.raises(btf.BTFError, match="no struct page_pool"):
        t.offset("page_pool", "p")
    with pytest.raises(btf.BTFError, match="struct net_device has no mtu"):
        t.offset("net_device", "mtu")
    with pytest.raises(btf.BTFError, match="not BTF"):
        btf.Types(b"\0" * 64)
    with pytest.raises(btf.BTFError, match="No such file"):
        btf.load(Path("/nonexistent/vmlinux"))


def test_an_unknown_kind_is_refused_not_misread() -> None:
    b = Blob()
    b.add(31, "x", 0, 0)
    with pytest.raises(btf.BTFError, match="unknown BTF kind 31"):
        btf.Types(b.bytes())
