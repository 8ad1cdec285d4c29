"""The wire as a cable: each device's carrier follows the far end.

A cable has a link only while the ports at both ends are up: `ip link set vnet1 down`
takes the link of vnet0, at the other end, down too, and its stack sees the carrier go
(operstate DOWN, the qdisc stops).  vnet-wire watches each device's admin state (IFF_UP)
through rtnetlink, in the device's own network namespace, and tells the other device
with `ip link set DEV carrier on|off` (IFLA_CARRIER, the driver's ndo_change_carrier), as
a PHY tells its driver that the link partner came or went.

Only IFF_UP is followed, not the far end's carrier: that one is off while ours is, and
following it would keep both links down for good.

This is plain rtnetlink over a socket of our own (linux/rtnetlink.h): one message type
read, one written.
"""

from __future__ import annotations

import errno
import os
import socket
import struct

from vnet_ebpf.backend import in_netns
from vnet_ebpf.errors import UserError

# linux/netlink.h and linux/rtnetlink.h
NLMSG_ERROR = 2
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
RTM_NEWLINK = 16
RTM_GETLINK = 18
RTMGRP_LINK = 0x1
IFLA_CARRIER = 33
IFF_UP = 0x1

NLMSGHDR = struct.Struct("=IHHII")  # len, type, flags, seq, pid
IFINFOMSG = struct.Struct("=BxHiII")  # family, type, index, flags, change
NLMSGERR = struct.Struct("=i")
#: How long a request may wait for its answer (RTNL can be busy, never this long).
REQUEST_TIMEOUT = 5.0


def _request(sock: socket.socket, seq: int, msg_type: int, flags: int, payload: bytes, name: str) -> bytes:
    """Send one request and return the first reply to it (a link, or an error/ack).
    Every failure is a UserError naming NAME."""
    try:
        sock.send(NLMSGHDR.pack(NLMSGHDR.size + len(payload), msg_type, NLM_F_REQUEST | flags, seq, 0) + payload)
        while True:
            for mtype, mseq, body in messages(sock.recv(65536)):
                if mseq != seq:
                    continue
                if mtype == NLMSG_ERROR:
                    if len(body) < NLMSGERR.size:
                        raise UserError(f"rtnetlink sent {name} a short error message")
                    (err,) = NLMSGERR.unpack_from(body)
                    if err:
                        raise OSError(-err, os.strerror(-err))
                return body
    except TimeoutError:
        raise UserError(f"rtnetlink did not answer for {name} in {REQUEST_TIMEOUT:g} s") from None
    except OSError as err:
        raise UserError(f"rtnetlink refused a request for {name}: {err.strerror or err}") from None


def messages(data: bytes) -> list[tuple[int, int, bytes]]:
    """The (type, seq, body) of each whole netlink message in one datagram."""
    out, off = [], 0
    while off + NLMSGHDR.size <= len(data):
        length, mtype, _, seq, _ = NLMSGHDR.unpack_from(data, off)
        if length < NLMSGHDR.size or off + length > len(data):
            break
        out.append((mtype, seq, data[off + NLMSGHDR.size : off + length]))
        off += (length + 3) & ~3
    return out


class LinkEnd:
    """One device of the wire, seen through rtnetlink in its namespace: whether it is up
    (events on `fd`), and its carrier to set."""

    def __init__(self, netns: str | None, ifindex: int, name: str) -> None:
        self.ifindex = ifindex
        self.name = name
        self._seq = 0
        with in_netns(netns):
            # Requests and events apart, so that an answer never hides among events.
            self.ctl = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                                     socket.NETLINK_ROUTE)
            try:
                self.events = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC
                                            | socket.SOCK_NONBLOCK, socket.NETLINK_ROUTE)
            except BaseException:
                self.ctl.close()
                raise
        try:
            self.ctl.settimeout(REQUEST_TIMEOUT)
            self.events.bind((0, RTMGRP_LINK))
            self.fd = self.events.fileno()
            self.up = self.query_up()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        self.ctl.close()
        self.events.close()

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def query_up(self) -> bool:
        body = _request(self.ctl, self._next_seq(), RTM_GETLINK, 0, IFINFOMSG.pack(0, 0, self.ifindex, 0, 0),
                        self.name)
        if len(body) < IFINFOMSG.size:
            raise UserError(f"rtnetlink sent {self.name} a short link message")
        _, _, _, flags, _ = IFINFOMSG.unpack_from(body)
        return bool(flags & IFF_UP)

    def set_carrier(self, on: bool) -> None:
        attr = struct.pack("=HHB3x", 5, IFLA_CARRIER, 1 if on else 0)
        _request(self.ctl, self._next_seq(), RTM_NEWLINK, NLM_F_ACK, IFINFOMSG.pack(0, 0, self.ifindex, 0, 0) + attr,
                 self.name)

    def changed(self) -> bool:
        """Read the waiting events; whether the device's IFF_UP changed.  When the socket
        buffer overflowed (ENOBUFS), events were lost: the ones still queued are older
        than that, so they are read and dropped, and the state is asked for again."""
        was, lost = self.up, False
        while True:
            try:
                data = self.events.recv(65536)
            except BlockingIOError:
                break
            except OSError as err:
                if err.errno != errno.ENOBUFS:
                    raise UserError(f"rtnetlink events of {self.name}: {err.strerror or err}") from None
                lost = True
                continue
            for mtype, _, body in messages(data):
                if mtype == RTM_NEWLINK and len(body) >= IFINFOMSG.size:
                    _, _, index, flags, _ = IFINFOMSG.unpack_from(body)
                    if index == self.ifindex:
                        self.up = bool(flags & IFF_UP)
        if lost:
            self.up = self.query_up()
        return self.up != was


class Cable:
    """The two ends: each one's carrier set from the other's admin state, at sync() and on
    every change.  Nothing to undo at the end: when the wire's /dev/vnet files close, the
    driver forgets the partner, and the simulated NIC's link is back."""

    def __init__(self, a: LinkEnd, b: LinkEnd) -> None:
        self.ends = (a, b)

    @property
    def fds(self) -> tuple[int, int]:
        return self.ends[0].fd, self.ends[1].fd

    def sync(self) -> None:
        a, b = self.ends
        a.set_carrier(b.up)
        b.set_carrier(a.up)

    def on_event(self, fd: int) -> None:
        a, b = self.ends
        end, other = (a, b) if fd == a.fd else (b, a)
        if end.changed():
            other.set_carrier(end.up)
