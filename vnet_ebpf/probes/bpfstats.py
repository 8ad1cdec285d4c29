"""The kernel's run-time statistics of BPF programs, without bpftool.

``BPF_ENABLE_STATS`` returns a file descriptor that keeps run-time accounting on
for as long as it is open (so we never leave ``kernel.bpf_stats_enabled`` set
behind us); ``BPF_OBJ_GET_INFO_BY_FD`` then reports each program's ``run_cnt``
and ``run_time_ns``.  The cost of the accounting itself is two clock reads per
program run.
"""

from __future__ import annotations

import ctypes
import os
import struct

from vnet_ebpf.model import ProgStat

_SYS_BPF = 321  # x86_64
_BPF_OBJ_GET_INFO_BY_FD = 15
_BPF_ENABLE_STATS = 32
_BPF_STATS_RUN_TIME = 0
# Offsets in struct bpf_prog_info (include/uapi/linux/bpf.h, stable ABI).
_INFO_SIZE = 224
_RUN_TIME_NS = 192
_RUN_CNT = 200

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def bpf_cmd(cmd: int, attr: ctypes.Array[ctypes.c_char]) -> int:
    # syscall(2) is variadic and takes longs: widen every argument explicitly.
    rc = int(_libc.syscall(ctypes.c_long(_SYS_BPF), ctypes.c_long(cmd), attr, ctypes.c_long(len(attr))))
    if rc < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return rc


def enable_stats() -> int | None:
    """A file descriptor holding run-time stats on, or None where the kernel refuses."""
    attr = ctypes.create_string_buffer(struct.pack("I", _BPF_STATS_RUN_TIME), 8)
    try:
        return bpf_cmd(_BPF_ENABLE_STATS, attr)
    except OSError:
        return None


class ProgInfo:
    """BPF_OBJ_GET_INFO_BY_FD of one program, with its buffers made once: the tracer asks
    every interval, and under emulation building them cost more than the syscall."""

    def __init__(self, prog_fd: int) -> None:
        self._info = ctypes.create_string_buffer(_INFO_SIZE)
        self._attr = ctypes.create_string_buffer(
            struct.pack("IIQ", prog_fd, _INFO_SIZE, ctypes.addressof(self._info)), 16)

    def _get(self) -> bytes:
        # The kernel reads the info struct too (the lengths of arrays to fill, which the
        # previous call wrote back) and writes back the size it filled: start afresh.
        ctypes.memset(self._info, 0, _INFO_SIZE)
        struct.pack_into("I", self._attr, 4, _INFO_SIZE)
        bpf_cmd(_BPF_OBJ_GET_INFO_BY_FD, self._attr)
        return self._info.raw

    def stat(self) -> ProgStat:
        info = self._get()
        run_time, run_cnt = struct.unpack_from("QQ", info, _RUN_TIME_NS)
        return ProgStat(run_cnt=run_cnt, run_time_ns=run_time, id=int(struct.unpack_from("I", info, 4)[0]))

    def id(self) -> int:
        return int(struct.unpack_from("I", self._get(), 4)[0])


assert _RUN_CNT == _RUN_TIME_NS + 8


def prog_id(prog_fd: int) -> int:
    return ProgInfo(prog_fd).id()
