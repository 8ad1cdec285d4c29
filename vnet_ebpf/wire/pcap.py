"""Classic pcap files (what `tcpdump -w` writes and `tcpdump -r` reads).

The classic format rather than pcapng: a 24-byte header and a 16-byte header a frame,
which every reader knows and a test can parse with struct.  Written in the host's byte
order, as libpcap does; readers tell the order from the magic.
"""

from __future__ import annotations

import struct
from typing import BinaryIO

from vnet_ebpf.errors import UserError

MAGIC_USEC = 0xA1B2C3D4  # microsecond timestamps (0xa1b23c4d would mean nanoseconds)
LINKTYPE_ETHERNET = 1
SNAPLEN = 262144  # tcpdump's default: no frame of ours is cut
#: magic, version 2.4, thiszone, sigfigs, snaplen, linktype
FILE_HEADER = struct.Struct("=IHHiIII")
#: ts_sec, ts_usec, captured length, length on the wire
RECORD_HEADER = struct.Struct("=IIII")


class PcapWriter:
    """Frames appended to a pcap file with their timestamps (seconds since the epoch)."""

    def __init__(self, f: BinaryIO, snaplen: int = SNAPLEN) -> None:
        self.f = f
        self.name = str(getattr(f, "name", "the pcap file"))
        self.snaplen = snaplen
        #: Something was written since the last flush.
        self.dirty = False
        f.write(FILE_HEADER.pack(MAGIC_USEC, 2, 4, 0, 0, snaplen, LINKTYPE_ETHERNET))

    @classmethod
    def create(cls, path: str) -> PcapWriter:
        try:
            f = open(path, "wb")  # noqa: SIM115 - closed by close(), after the run
        except OSError as err:
            raise UserError(f"cannot write {path}: {err.strerror or err}") from None
        return cls(f)

    def record(self, frame: bytes | bytearray | memoryview, ts: float) -> None:
        n = len(frame)
        cap = min(n, self.snaplen)
        # Whole microseconds first, then split: int(ts) and the fraction apart can round
        # the fraction up to 1000000.
        sec, usec = divmod(round(ts * 1_000_000), 1_000_000)
        try:
            self.f.write(RECORD_HEADER.pack(sec, usec, cap, n))
            self.f.write(frame if cap == n else frame[:cap])
        except OSError as err:
            raise self._error(err) from None
        self.dirty = True

    def flush(self) -> None:
        if self.dirty:
            try:
                self.f.flush()
            except OSError as err:
                raise self._error(err) from None
            self.dirty = False

    def _error(self, err: OSError) -> UserError:
        return UserError(f"cannot write {self.name}: {err.strerror or err}")

    def close(self) -> None:
        try:
            self.f.close()  # flushes what is left
        except OSError as err:
            raise self._error(err) from None
