"""vnet_ebpf.backend's pure parts: the ioctl numbers and struct, the one-line errors,
and the read/write wrappers over a SOCK_SEQPACKET socket standing in for /dev/vnet
(which, like it, keeps frame boundaries).  The real device is tested in the guest."""

from __future__ import annotations

import errno
import os
import select
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from vnet_ebpf import backend
from vnet_ebpf.backend import Backend
from vnet_ebpf.errors import UserError


def test_ioctl_numbers_match_the_uapi_header() -> None:
    # _IOWR(0xEE, 0xE0, struct vnet_bind) and _IOR(0xEE, 0xE1, ...) with sizeof == 24 (kmod/vnet_uapi.h).
    assert backend.VNET_BIND == 0xC018EEE0
    assert backend.VNET_GET_BIND == 0x8018EEE1
    assert backend.BIND_STRUCT.size == 24


def test_bind_struct_layout() -> None:
    buf = backend.pack_bind("vnet0")
    assert len(buf) == 24
    assert buf[:16] == b"vnet0" + b"\0" * 11
    assert buf[16:] == b"\0" * 8  # flags 0, ifindex 0 until the kernel fills it in
    buf[20:24] = (7).to_bytes(4, sys.byteorder)  # the kernel writes ifindex in native order
    assert backend.unpack_bind(buf) == ("vnet0", 7)


@pytest.mark.parametrize("name", ["", "a" * 16, "ns/vnet0", "vnet 0"])
def test_bad_ifnames(name: str) -> None:
    with pytest.raises(UserError, match="bad interface name"):
        backend.pack_bind(name)


def test_ifname_of_15_bytes_fits() -> None:
    assert backend.pack_bind("a" * 15)[15] == 0


def test_open_missing_device_names_the_module(tmp_path: Path) -> None:
    path = str(tmp_path / "vnet")
    with pytest.raises(UserError) as err:
        Backend.open(path)
    assert str(err.value) == f"{path} not found: is the vnet module loaded? (sudo modprobe vnet / insmod kmod/vnet.ko)"


@pytest.mark.parametrize(("code", "message"), [
    (errno.EACCES, "cannot open /dev/vnet: Permission denied (root only: it is mode 0600)"),
    (errno.ENXIO, "cannot open /dev/vnet: No such device or address (is the vnet module loaded?)"),
])
def test_open_errors(code: int, message: str) -> None:
    assert str(backend.open_error("/dev/vnet", OSError(code, os.strerror(code)))) == message


@pytest.mark.parametrize(("code", "message"), [
    (errno.EPERM, "cannot bind ns1/vnet0: Operation not permitted (needs CAP_NET_ADMIN in the device's network "
                  "namespace)"),
    (errno.ENODEV, "no such device: ns1/vnet0"),
    (errno.EINVAL, "cannot bind ns1/vnet0: not a vnet device"),
    (errno.EBUSY, "cannot bind ns1/vnet0: another process is bound to it (fuser -v /dev/vnet lists them)"),
])
def test_bind_errors(code: int, message: str) -> None:
    assert str(backend.bind_error("ns1/vnet0", OSError(code, os.strerror(code)))) == message


@pytest.mark.parametrize(("code", "op", "message"), [
    (errno.ENXIO, "read from", "ns1/vnet0 was deleted"),
    (errno.ENETDOWN, "write to", "cannot write to ns1/vnet0: it is down (ip link set vnet0 up)"),
    (errno.EINVAL, "write to", "cannot write to ns1/vnet0: a 9-byte frame is not between 14 bytes and its MTU + 18"),
    (errno.EMSGSIZE, "read from", "cannot read from ns1/vnet0: its next frame is larger than 9 bytes"),
])
def test_io_errors(code: int, op: str, message: str) -> None:
    err = backend.io_error("ns1/vnet0", op, OSError(code, os.strerror(code)), 9)
    assert str(err) == message


def test_bind_on_something_else_says_so(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"")
    with Backend.open(str(tmp_path / "f")) as b:
        with pytest.raises(UserError, match=r"^cannot bind vnet0: .* does not know VNET_BIND"):
            b.bind("vnet0")
        assert b.ifindex is None


@pytest.fixture
def pair() -> Iterator[tuple[Backend, socket.socket]]:
    """A Backend on one end of a SEQPACKET pair; the other end plays the device."""
    ours, dev = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1)  # full after a few frames
    ours.setblocking(False)
    b = Backend(ours.detach(), "vnet0")
    with b, dev:
        yield b, dev


def test_frames_keep_their_boundaries(pair: tuple[Backend, socket.socket]) -> None:
    b, dev = pair
    assert b.read_frame() is None
    assert b.poll(select.POLLIN, 0) == 0
    dev.send(b"A" * 60)
    dev.send(b"B" * 14)
    assert b.poll(select.POLLIN, 1) & select.POLLIN
    assert b.read_frame() == b"A" * 60
    buf = bytearray(100)
    assert b.read(buf) == 14
    assert buf[:14] == b"B" * 14
    assert b.read(buf) == 0
    assert b.write(b"C" * 60)
    assert dev.recv(100) == b"C" * 60


def test_write_says_false_when_full(pair: tuple[Backend, socket.socket]) -> None:
    b, dev = pair
    sent = 0
    while b.write(b"x" * 100):
        sent += 1
    assert sent > 0
    for _ in range(sent):
        dev.recv(100)
    assert b.write(b"y" * 100)


def test_a_second_bind_is_refused_before_the_kernel(pair: tuple[Backend, socket.socket]) -> None:
    b, _ = pair
    b.ifindex = 3
    with pytest.raises(UserError, match="already bound to vnet0"):
        b.bind("vnet1")


def test_close_is_idempotent(pair: tuple[Backend, socket.socket]) -> None:
    b, _ = pair
    b.close()
    b.close()
    assert b.fileno() == -1


def test_unknown_netns(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(backend, "NETNS_DIR", str(tmp_path))
    with pytest.raises(UserError) as err:
        backend.open_in_netns("nope", "vnet0")
    assert str(err.value) == 'no network namespace "nope" (ip netns list)'


def test_netns_none_opens_here(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not found: is the vnet module loaded"):
        backend.open_in_netns(None, "vnet0", path=str(tmp_path / "vnet"))


def test_setns_back_even_when_the_bind_fails(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "ns1").write_bytes(b"")  # stands in for the nsfs file
    monkeypatch.setattr(backend, "NETNS_DIR", str(tmp_path))
    entered: list[int] = []
    monkeypatch.setattr(backend, "_setns", lambda fd: entered.append(fd))
    with pytest.raises(UserError, match="not found"):
        backend.open_in_netns("ns1", "vnet0", path=str(tmp_path / "vnet"))
    assert len(entered) == 2 and entered[0] != entered[1]  # into ns1, then back home
