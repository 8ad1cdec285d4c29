"""Per-queue counters of any device: the netdev generic-netlink family's qstats-get
(Linux 6.9+, drivers with netdev_stat_ops), BQL from sysfs, and the device's
/sys/class/net/DEV/statistics where qstats are not there.  No BPF, no root.

A small generic-netlink client of our own: pyroute2 has no binding for the netdev
family, and a qstats dump is three requests' worth of protocol.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path

from vnet_ebpf.errors import UserError
from vnet_ebpf.model import QueuesSnapshot, QueueStats
from vnet_ebpf.probes.device import Device, DeviceFiles

NETLINK_GENERIC = 16
_NLM_F_REQUEST, _NLM_F_ACK, _NLM_F_DUMP = 0x1, 0x4, 0x300
_NLMSG_ERROR, _NLMSG_DONE = 2, 3
_GENL_ID_CTRL, _CTRL_CMD_GETFAMILY = 0x10, 3
_CTRL_ATTR_FAMILY_ID, _CTRL_ATTR_FAMILY_NAME = 1, 2
_NLA_TYPE_MASK = 0x3FFF  # without NLA_F_NESTED / NLA_F_NET_BYTEORDER

#: Documentation/netlink/specs/netdev.yaml: the qstats-get operation and attributes.
NETDEV_CMD_QSTATS_GET = 12
QSTATS_IFINDEX, QSTATS_QUEUE_TYPE, QSTATS_QUEUE_ID, QSTATS_SCOPE = 1, 2, 3, 4
QSTATS_SCOPE_QUEUE = 1
QUEUE_TYPES = {0: "rx", 1: "tx"}
#: Counter attributes by number (6.12's spec; later kernels add more, shown as attr-N).
QSTATS_NAMES = {
    8: "rx-packets", 9: "rx-bytes", 10: "tx-packets", 11: "tx-bytes",
    12: "rx-alloc-fail", 13: "rx-hw-drops", 14: "rx-hw-drop-overruns",
    15: "rx-csum-complete", 16: "rx-csum-unnecessary", 17: "rx-csum-none", 18: "rx-csum-bad",
    19: "rx-hw-gro-packets", 20: "rx-hw-gro-bytes", 21: "rx-hw-gro-wire-packets", 22: "rx-hw-gro-wire-bytes",
    23: "rx-hw-drop-ratelimits", 24: "tx-hw-drops", 25: "tx-hw-drop-errors", 26: "tx-csum-none",
    27: "tx-needs-csum", 28: "tx-hw-gso-packets", 29: "tx-hw-gso-bytes", 30: "tx-hw-gso-wire-packets",
    31: "tx-hw-gso-wire-bytes", 32: "tx-hw-drop-ratelimits", 33: "tx-stop", 34: "tx-wake",
}
#: /sys/class/net/DEV/statistics files read when the device has no qstats.
SYSFS_STATS = ("rx_packets", "rx_bytes", "tx_packets", "tx_bytes", "rx_dropped", "tx_dropped",
               "rx_errors", "tx_errors", "rx_missed_errors")


def _attrs(buf: bytes) -> Iterator[tuple[int, bytes]]:
    """The netlink attributes in BUF: (type, payload)."""
    off = 0
    while off + 4 <= len(buf):
        length, kind = struct.unpack_from("HH", buf, off)
        if length < 4:
            break
        yield kind & _NLA_TYPE_MASK, buf[off + 4:off + length]
        off += (length + 3) & ~3


def _attr(kind: int, payload: bytes) -> bytes:
    data = struct.pack("HH", 4 + len(payload), kind) + payload
    return data + b"\0" * (-len(data) % 4)


def _uint(payload: bytes) -> int:
    """A netlink "uint": 4 or 8 bytes, host order."""
    return int(struct.unpack("I" if len(payload) == 4 else "Q", payload)[0])


def parse_qstats(payload: bytes) -> QueueStats:
    """One qstats-get reply (the attributes after the generic-netlink header)."""
    kind, qid, counters = "dev", -1, {}
    for t, value in _attrs(payload):
        if t == QSTATS_QUEUE_TYPE:
            kind = QUEUE_TYPES.get(_uint(value), str(_uint(value)))
        elif t == QSTATS_QUEUE_ID:
            qid = _uint(value)
        elif t not in (QSTATS_IFINDEX, QSTATS_SCOPE):
            counters[QSTATS_NAMES.get(t, f"attr-{t}")] = _uint(value)
    return QueueStats(kind, qid, counters)


class Netdev:
    """A generic-netlink socket bound to the netdev family."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_GENERIC)
        self.sock.bind((0, 0))
        self.seq = 0
        self.family: int | None = None
        try:
            for payload in self._request(_GENL_ID_CTRL, _CTRL_CMD_GETFAMILY,
                                         _attr(_CTRL_ATTR_FAMILY_NAME, b"netdev\0"), dump=False):
                for t, value in _attrs(payload):
                    if t == _CTRL_ATTR_FAMILY_ID:
                        self.family = struct.unpack("H", value[:2])[0]
        except OSError as err:
            if err.errno != errno.ENOENT:  # ENOENT: no netdev family (before 6.4)
                raise

    def _request(self, family: int, cmd: int, attrs: bytes, dump: bool) -> Iterator[bytes]:
        """Send one request; yield each reply's attributes until it is done."""
        self.seq += 1
        flags = _NLM_F_REQUEST | (_NLM_F_DUMP if dump else _NLM_F_ACK)
        body = struct.pack("BBH", cmd, 1, 0) + attrs
        self.sock.send(struct.pack("IHHII", 16 + len(body), family, flags, self.seq, 0) + body)
        while True:
            data = self.sock.recv(1 << 16)
            off = 0
            while off + 16 <= len(data):
                length, kind, _, seq, _ = struct.unpack_from("IHHII", data, off)
                msg = data[off + 16:off + length]
                off += (length + 3) & ~3
                if seq != self.seq:
                    continue
                if kind == _NLMSG_DONE:
                    return
                if kind == _NLMSG_ERROR:
                    code = -struct.unpack_from("i", msg)[0]
                    if code:
                        raise OSError(code, os.strerror(code))
                    return  # the ACK of a non-dump request
                yield msg[4:]  # past the generic-netlink header

    def qstats(self, ifindex: int) -> list[QueueStats] | None:
        """IFINDEX's counters per queue, or None where the kernel or driver has none."""
        if self.family is None:
            return None
        attrs = _attr(QSTATS_IFINDEX, struct.pack("I", ifindex)) + _attr(QSTATS_SCOPE,
                                                                          struct.pack("I", QSTATS_SCOPE_QUEUE))
        try:
            found = [parse_qstats(p) for p in self._request(self.family, NETDEV_CMD_QSTATS_GET, attrs, dump=True)]
        except OSError as err:
            if err.errno in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOENT):  # before 6.9
                return None
            raise
        return found or None  # nothing: the driver has no netdev_stat_ops

    def close(self) -> None:
        self.sock.close()


class QueueReader:
    """Reads a device's queue counters and BQL state, again and again."""

    def __init__(self, dev: Device) -> None:
        self.dev = dev
        self.net = Path("/sys/class/net") / dev.name
        self.files = DeviceFiles(dev)  # alive(): the ifindex file, as the tracers read it
        self.netdev = Netdev()

    def alive(self) -> bool:
        return self.files.alive()

    def bql(self) -> dict[int, tuple[int, int]]:
        out = {}
        for q in sorted(self.net.glob("queues/tx-*/byte_queue_limits"), key=lambda p: int(p.parent.name[3:])):
            try:
                out[int(q.parent.name[3:])] = (int((q / "inflight").read_text()), int((q / "limit").read_text()))
            except (OSError, ValueError):
                continue
        return out

    def snapshot(self) -> QueuesSnapshot:
        queues = self.netdev.qstats(self.dev.ifindex)
        source = "qstats"
        if queues is None:
            source = "sysfs"
            try:
                counters = {name: int((self.net / "statistics" / name).read_text()) for name in SYSFS_STATS}
            except (OSError, ValueError) as err:
                raise UserError(f"{self.dev.name} went away while its queues were read") from err
            queues = [QueueStats("dev", -1, counters)]
        return QueuesSnapshot(time.monotonic(), time.time(), source, queues, self.bql())

    def close(self) -> None:
        self.netdev.close()
        self.files.close()
