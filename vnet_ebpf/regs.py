"""The simulated NIC's "registers", as `ethtool -d` dumps them, decoded.

A NIC's driver answers `ethtool -d` by copying registers out of the card; userspace
ethtool has a pretty-printer for some drivers and a hex dump for the rest.  vnet's map
is in kmod/vnet_uapi.h (enum vnet_reg, the VNET_IRQ_* bits): one 32-bit word per
register, in the host's byte order.  This module has the same list (a unit test
compares the two), reads the dump with the same ioctl ethtool uses (ETHTOOL_GREGS)
and says what the words mean.
"""

from __future__ import annotations

import fcntl
import socket
import struct
from dataclasses import dataclass

from vnet_ebpf.errors import UserError

#: struct ethtool_regs.version of the map below.
VERSION = 1
#: enum vnet_reg, in order: the word at index i is REGISTERS[i].
REGISTERS = ("tx_size", "tx_head", "tx_doorbell", "tx_sent", "tx_tail",
             "rx_size", "rx_head", "rx_tail", "irq", "hw", "tx_usecs", "rx_usecs")
#: The VNET_IRQ_* bits of the irq register, from bit 0 up.
IRQ_BITS = ("tx_pending", "rx_pending", "tx_napi", "rx_napi", "tx_stopped")
HARDWARE = ("simulated", "backend")

SIOCETHTOOL = 0x8946
ETHTOOL_GREGS = 0x00000004
#: More than any map needs: the kernel returns the dump's real length.
_MAX_LEN = 4096


@dataclass(frozen=True)
class Regs:
    version: int
    words: dict[str, int]

    @property
    def irq(self) -> dict[str, bool]:
        return {name: bool(self.words["irq"] >> bit & 1) for bit, name in enumerate(IRQ_BITS)}

    @property
    def hardware(self) -> str:
        hw = self.words["hw"]
        return HARDWARE[hw] if hw < len(HARDWARE) else f"unknown ({hw})"

    def ring(self, name: str) -> dict[str, int]:
        """What the indexes say about ring NAME ("tx" or "rx"), computed as the driver
        does: free-running u32 counters, so differences wrap modulo 2^32."""
        w = self.words
        if name == "tx":
            return {"posted": (w["tx_head"] - w["tx_tail"]) % 2**32,
                    "not_rung": (w["tx_head"] - w["tx_doorbell"]) % 2**32}
        return {"filled": (w["rx_head"] - w["rx_tail"]) % 2**32}


def decode(version: int, data: bytes) -> Regs:
    """The registers of a dump of VERSION with DATA, the bytes ethtool -d shows."""
    if version != VERSION:
        raise UserError(f"register dump version {version}: this vnet-trace reads version {VERSION}; "
                        "use the vnet-trace of the same checkout as the module")
    if len(data) < 4 * len(REGISTERS) or len(data) % 4:
        raise UserError(f"register dump of {len(data)} bytes: version {VERSION} has {4 * len(REGISTERS)}")
    values = struct.unpack(f"={len(data) // 4}I", data)  # the host's byte order
    return Regs(version, dict(zip(REGISTERS, values, strict=False)))


def read(iface: str) -> Regs:
    """The dump of IFACE, by ETHTOOL_GREGS (needs CAP_NET_ADMIN, as ethtool -d does)."""
    import ctypes

    # struct ethtool_regs {cmd, version, len, data[len]}; the kernel fills version and
    # len (cut to the dump's size) and the data.
    buf = (ctypes.c_char * (12 + _MAX_LEN))()
    struct.pack_into("III", buf, 0, ETHTOOL_GREGS, 0, _MAX_LEN)
    # struct ifreq: the name, then ifr_data, a pointer to that struct.
    ifreq = struct.pack("16sP", iface.encode()[:15], ctypes.addressof(buf))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            fcntl.ioctl(s.fileno(), SIOCETHTOOL, ifreq)
        except PermissionError:
            raise UserError("reading the register dump needs root (CAP_NET_ADMIN), as `ethtool -d` does") from None
        except OSError as err:
            raise UserError(f"ethtool -d {iface}: {err.strerror}") from None
    _, version, length = struct.unpack_from("III", buf)
    return decode(version, bytes(buf)[12:12 + min(length, _MAX_LEN)])
