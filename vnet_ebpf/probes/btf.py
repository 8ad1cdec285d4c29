"""Where a field of a kernel struct is, read from the kernel's own type information.

A probe on a driver function reads kernel structs (`dev->ifindex`, `napi->dev`).  The
compiler only knows where those fields are from the kernel's headers, and
<linux/netdevice.h> with all it includes is most of what a BCC compile costs
(docs/benchmarks.md).  The running kernel describes its own types in BTF, at
/sys/kernel/btf/vmlinux; `offsets()` reads the few offsets a program needs from there,
and the program gets them as -D flags instead of the headers.  This is what CO-RE
relocations do for libbpf programs, done by hand for BCC.

The format is include/uapi/linux/btf.h: a header, then the types, then the strings.
"""

from __future__ import annotations

import struct
from pathlib import Path

VMLINUX = Path("/sys/kernel/btf/vmlinux")
MAGIC = 0xEB9F

# Kinds (BTF_KIND_*) and how many bytes follow a type of that kind: a fixed part, and a
# part per vlen entry (members, enum values, parameters).
STRUCT, UNION, TYPEDEF, VOLATILE, CONST, RESTRICT, TYPE_TAG = 4, 5, 8, 9, 10, 11, 18
EXTRA: dict[int, tuple[int, int]] = {
    1: (4, 0),    # INT: encoding
    2: (0, 0),    # PTR
    3: (12, 0),   # ARRAY: element type, index type, count
    4: (0, 12),   # STRUCT: members (name, type, offset)
    5: (0, 12),   # UNION
    6: (0, 8),    # ENUM: values
    7: (0, 0),    # FWD
    8: (0, 0), 9: (0, 0), 10: (0, 0), 11: (0, 0),  # TYPEDEF VOLATILE CONST RESTRICT
    12: (0, 0),   # FUNC
    13: (0, 8),   # FUNC_PROTO: parameters
    14: (4, 0),   # VAR: linkage
    15: (0, 12),  # DATASEC: variables
    16: (0, 0),   # FLOAT
    17: (4, 0),   # DECL_TAG: component index
    18: (0, 0),   # TYPE_TAG
    19: (0, 12),  # ENUM64: values
}
# Kinds that only qualify or rename the type they point to.
ALIASES = {TYPEDEF, VOLATILE, CONST, RESTRICT, TYPE_TAG}


class BTFError(Exception):
    """The kernel's BTF is missing, unreadable, or lacks a field asked for."""


class Types:
    """The types of one BTF blob.  The scan only notes where each type starts (a type's
    id is its place in the list); members are read when a lookup needs them, so that
    the ~100,000 types of a kernel cost one pass and nothing more."""

    def __init__(self, blob: bytes) -> None:
        if len(blob) < 24 or struct.unpack_from("<H", blob)[0] != MAGIC:
            raise BTFError("not BTF (or not little-endian)")
        hdr_len, type_off, type_len, str_off, str_len = struct.unpack_from("<5I", blob, 4)
        self.strings = blob[hdr_len + str_off:hdr_len + str_off + str_len]
        self.types = blob[hdr_len + type_off:hdr_len + type_off + type_len]
        self.starts = [0]  # id 0 is void
        self.structs: dict[int, int] = {}  # name offset -> id, for structs and unions
        at, unpack, types = 0, struct.Struct("<3I").unpack_from, self.types
        while at < len(types):
            name_off, info, _ = unpack(types, at)
            kind = (info >> 24) & 0x1F
            if kind not in EXTRA:
                raise BTFError(f"unknown BTF kind {kind}")
            if kind in (STRUCT, UNION) and name_off:
                self.structs.setdefault(name_off, len(self.starts))
            self.starts.append(at)
            fixed, per = EXTRA[kind]
            at += 12 + fixed + per * (info & 0xFFFF)

    def name(self, off: int) -> bytes:
        return self.strings[off:self.strings.index(b"\0", off)]

    def header(self, type_id: int) -> tuple[int, int, int, int]:
        """(kind, name offset, vlen, size or type) of type TYPE_ID."""
        name_off, info, size_or_type = struct.unpack_from("<3I", self.types, self.starts[type_id])
        return (info >> 24) & 0x1F, name_off, info & 0xFFFF, size_or_type

    def resolve(self, type_id: int) -> int:
        """Through typedefs and qualifiers to the type itself."""
        while self.header(type_id)[0] in ALIASES:
            type_id = self.header(type_id)[3]
        return type_id

    def members(self, type_id: int) -> list[tuple[bytes, int, int]]:
        """(name, type id, offset in bits) of each member of a struct or union."""
        kind, _, vlen, _ = self.header(type_id)
        if kind not in (STRUCT, UNION):
            return []
        bitfields = bool(struct.unpack_from("<I", self.types, self.starts[type_id] + 4)[0] >> 31)
        found = []
        for i in range(vlen):
            m_name, m_type, bits = struct.unpack_from("<3I", self.types, self.starts[type_id] + 12 + 12 * i)
            # With kind_flag set, the top 8 bits hold a bitfield's size.
            found.append((self.name(m_name) if m_name else b"", m_type, bits & 0xFFFFFF if bitfields else bits))
        return found

    def member(self, type_id: int, name: str) -> tuple[int, int] | None:
        """(offset in bytes, type id) of member NAME, looking into anonymous unions and
        structs the way C does; None if there is none."""
        for m_name, m_type, bits in self.members(self.resolve(type_id)):
            if m_name == name.encode():
                return bits // 8, m_type
            if not m_name:
                inner = self.member(m_type, name)
                if inner is not None:
                    return bits // 8 + inner[0], inner[1]
        return None

    def struct_id(self, struct_name: str) -> int:
        at = self.strings.find(b"\0" + struct_name.encode() + b"\0")
        while at >= 0:
            if at + 1 in self.structs:
                return self.structs[at + 1]
            at = self.strings.find(b"\0" + struct_name.encode() + b"\0", at + 1)
        raise BTFError(f"the kernel's BTF has no struct {struct_name}")

    def offset(self, struct_name: str, path: str) -> int:
        """Byte offset of PATH ("ns.inum": a member of a member) in struct STRUCT_NAME."""
        type_id, total = self.struct_id(struct_name), 0
        for part in path.split("."):
            found = self.member(type_id, part)
            if found is None:
                raise BTFError(f"struct {struct_name} has no {path} in the kernel's BTF")
            total += found[0]
            type_id = found[1]
        return total

    def size(self, struct_name: str) -> int:
        return self.header(self.struct_id(struct_name))[3]

    def netdev_priv(self) -> int:
        """Where netdev_priv(dev) points, from dev: the flexible array member priv[] on
        6.12 and later; before, sizeof(struct net_device) rounded up to NETDEV_ALIGN (32)."""
        found = self.member(self.struct_id("net_device"), "priv")
        if found is not None:
            return found[0]
        return (self.size("net_device") + 31) // 32 * 32


def load(path: Path = VMLINUX) -> Types:
    try:
        return Types(path.read_bytes())
    except OSError as err:
        raise BTFError(f"{path}: {err.strerror}") from None


def field_flags(fields: dict[str, tuple[str, str]], netdev_priv: bool = False,
                path: Path = VMLINUX) -> list[str]:
    """-DMACRO=offset for each MACRO: (struct, member path) of FIELDS in the running
    kernel, and if NETDEV_PRIV also -DNETDEV_PRIV=... and -DNAPI_SIZE=... (the size of
    struct napi_struct: a vnet queue's rings follow its RX NAPI); a BTFError if one is
    not there."""
    types = load(path)
    found = {macro: types.offset(name, member) for macro, (name, member) in fields.items()}
    if netdev_priv:
        found["NETDEV_PRIV"] = types.netdev_priv()
        found["NAPI_SIZE"] = types.size("napi_struct")
    return [f"-D{macro}={offset}" for macro, offset in sorted(found.items())]
