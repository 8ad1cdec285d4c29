"""Lesson 9's XDP program, written as the BPF instructions themselves.

No compiler is involved: the program is ten 8-byte instructions, loaded with
the bpf() system call, pinned in /sys/fs/bpf and attached by iproute2 (`ip link
set DEV xdpdrv pinned FILE`), so that the lesson shows the whole path from
bytes to a verdict in the driver.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import struct
import subprocess
from collections.abc import Iterator

SYS_BPF = 321  # x86-64
BPF_PROG_LOAD, BPF_OBJ_PIN = 5, 6
BPF_PROG_TYPE_XDP = 6
XDP_DROP, XDP_PASS = 1, 2


def insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    """One instruction: opcode, the two registers in one byte, offset, immediate."""
    return struct.pack("<BBhi", code, dst | (src << 4), off, imm)


# Opcodes (include/uapi/linux/bpf.h and bpf_common.h).
LDX_W, LDX_H = 0x61, 0x69          # dst = *(u32 / u16 *)(src + off)
MOV_IMM, MOV_REG, ADD_IMM = 0xB7, 0xBF, 0x07
JGT_REG, JNE_IMM, EXIT = 0x2D, 0x55, 0x95

#: XDP_DROP for ARP frames, XDP_PASS for everything else.  r1 is struct xdp_md:
#: data at offset 0, data_end at 4.  The verifier insists on the bounds check
#: before the EtherType is read.  0x0608 is ARP's 0x0806 read in network order.
DROP_ARP = b"".join((
    insn(LDX_W, dst=2, src=1, off=0),      # r2 = ctx->data
    insn(LDX_W, dst=3, src=1, off=4),      # r3 = ctx->data_end
    insn(MOV_IMM, dst=0, imm=XDP_PASS),    # r0 = XDP_PASS
    insn(MOV_REG, dst=4, src=2),           # r4 = data
    insn(ADD_IMM, dst=4, imm=14),          # r4 += 14 (an Ethernet header)
    insn(JGT_REG, dst=4, src=3, off=3),    # shorter than that: return XDP_PASS
    insn(LDX_H, dst=4, src=2, off=12),     # r4 = the EtherType
    insn(JNE_IMM, dst=4, off=1, imm=0x0608),  # not ARP: return XDP_PASS
    insn(MOV_IMM, dst=0, imm=XDP_DROP),    # r0 = XDP_DROP
    insn(EXIT),                            # return r0
))

DROP_ARP_LISTING = """\
r2 = *(u32 *)(r1 + 0)     ; data
r3 = *(u32 *)(r1 + 4)     ; data_end
r0 = 2                    ; XDP_PASS
r4 = r2
r4 += 14
if r4 > r3 goto +3        ; shorter than an Ethernet header
r4 = *(u16 *)(r2 + 12)    ; EtherType
if r4 != 0x0608 goto +1   ; not ARP
r0 = 1                    ; XDP_DROP
exit"""


def _bpf(cmd: int, attr: bytes) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    buf = ctypes.create_string_buffer(attr, 128)
    ret = libc.syscall(SYS_BPF, cmd, buf, 128)
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"bpf({cmd}): {os.strerror(err)}")
    return int(ret)


def load(program: bytes) -> int:
    """Load PROGRAM as an XDP program; its file descriptor.  The verifier's log is in
    the error if it refuses the program."""
    license_ = ctypes.create_string_buffer(b"GPL")
    code = ctypes.create_string_buffer(program, len(program))
    log = ctypes.create_string_buffer(4096)
    attr = struct.pack("<IIQQIIQ", BPF_PROG_TYPE_XDP, len(program) // 8, ctypes.addressof(code),
                       ctypes.addressof(license_), 1, len(log), ctypes.addressof(log))
    try:
        return _bpf(BPF_PROG_LOAD, attr)
    except OSError as err:
        raise OSError(err.errno, f"the verifier refused the program: {log.value.decode()}") from None


@contextlib.contextmanager
def attached(dev: str, program: bytes, pin: str = "/sys/fs/bpf/vnet-lesson-xdp") -> Iterator[None]:
    """PROGRAM attached to DEV in native (driver) mode while the block runs."""
    fd = load(program)
    path = ctypes.create_string_buffer(pin.encode())
    try:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(pin)
        _bpf(BPF_OBJ_PIN, struct.pack("<QI", ctypes.addressof(path), fd))
        print(f"   $ ip link set dev {dev} xdpdrv pinned {pin}", flush=True)
        subprocess.run(["ip", "link", "set", "dev", dev, "xdpdrv", "pinned", pin], check=True)
        yield
    finally:
        subprocess.run(["ip", "link", "set", "dev", dev, "xdpdrv", "off"], check=False)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(pin)
        os.close(fd)
