"""/dev/vnet, vnet's backend: a file bound to a vnet device is the device's wire.

What the device transmits, :meth:`Backend.read` returns, one whole Ethernet frame a
call; what :meth:`Backend.write` is given, the device receives.  The interface is
kmod/vnet_uapi.h; this module computes the same ioctl numbers and turns every error a
user can cause into a one-line :class:`~vnet_ebpf.errors.UserError`.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import select
import struct
import sys
import termios
from collections.abc import Iterator
from types import TracebackType

from vnet_ebpf.errors import UserError

DEV_PATH = "/dev/vnet"
#: Where `ip netns add` leaves its named namespaces (bind mounts of nsfs files).
NETNS_DIR = "/run/netns"
IFNAMSIZ = 16
#: The largest frame read() can return: vnet's MTU is at most 9000 today, but a
#: buffer this size keeps working if that grows (a too-small one gets EMSGSIZE).
MAX_FRAME = 65536 + 14 + 4  # kmod/vnet_backend.c VNET_BE_BUF: 64 KiB MTU plus Ethernet and VLAN headers

#: struct vnet_bind { char ifname[16]; __u32 flags; __s32 ifindex; }: 24 bytes,
#: native order and alignment as the kernel lays it out.
BIND_STRUCT = struct.Struct("16sIi")

# The Linux _IOC encoding (include/uapi/asm-generic/ioctl.h, which x86 and arm64 use):
# bits 31-30 direction, 29-16 argument size, 15-8 type ("magic"), 7-0 number.
# _IOC_WRITE means userspace writes the argument (the kernel reads it), _IOC_READ the other way.
_IOC_WRITE = 1
_IOC_READ = 2


def _ioc(direction: int, type_: int, nr: int, size: int) -> int:
    return (direction << 30) | (size << 16) | (type_ << 8) | nr


VNET_IOC_MAGIC = 0xEE
VNET_BIND = _ioc(_IOC_READ | _IOC_WRITE, VNET_IOC_MAGIC, 0xE0, BIND_STRUCT.size)  # _IOWR: ifindex comes back
VNET_GET_BIND = _ioc(_IOC_READ, VNET_IOC_MAGIC, 0xE1, BIND_STRUCT.size)  # _IOR

#: setns(2)'s nstype for a network namespace (<sched.h>); os.setns is Python 3.12+.
CLONE_NEWNET = 0x40000000


def check_ifname(ifname: str) -> bytes:
    """IFNAME as the kernel's NUL-terminated char[16], or a UserError saying why not."""
    raw = ifname.encode()
    if not raw or len(raw) >= IFNAMSIZ or "/" in ifname or any(c.isspace() for c in ifname):
        raise UserError(f"bad interface name {ifname!r}: 1 to {IFNAMSIZ - 1} bytes, no '/' or spaces")
    return raw


def pack_bind(ifname: str, flags: int = 0) -> bytearray:
    """A struct vnet_bind for VNET_BIND (mutable: the kernel writes ifindex back into it)."""
    return bytearray(BIND_STRUCT.pack(check_ifname(ifname), flags, 0))


def unpack_bind(buf: bytes | bytearray) -> tuple[str, int]:
    """(ifname, ifindex) from a struct vnet_bind the kernel filled in."""
    raw, _flags, ifindex = BIND_STRUCT.unpack(buf)
    return raw.split(b"\0", 1)[0].decode(errors="replace"), ifindex


def open_error(path: str, err: OSError) -> UserError:
    if err.errno == errno.ENOENT:
        return UserError(f"{path} not found: is the vnet module loaded? (sudo modprobe vnet / insmod kmod/vnet.ko)")
    if err.errno in (errno.EACCES, errno.EPERM):
        return UserError(f"cannot open {path}: {os.strerror(err.errno)} (root only: it is mode 0600)")
    if err.errno in (errno.ENXIO, errno.ENODEV):
        # A stale node whose misc minor nobody registers: the module is gone.
        return UserError(f"cannot open {path}: {os.strerror(err.errno)} (is the vnet module loaded?)")
    return UserError(f"cannot open {path}: {err.strerror or err}")


def bind_error(name: str, err: OSError) -> UserError:
    """The UserError for a failed VNET_BIND of NAME (as the user wrote it, e.g. ns1/vnet0)."""
    code = err.errno
    if code == errno.EPERM:
        return UserError(f"cannot bind {name}: {os.strerror(code)} "
                         "(needs CAP_NET_ADMIN in the device's network namespace)")
    if code == errno.ENODEV:
        return UserError(f"no such device: {name}")
    if code == errno.EINVAL:
        # Our flags are always 0 and Backend refuses a second bind itself: the device is the reason.
        return UserError(f"cannot bind {name}: not a vnet device")
    if code == errno.EBUSY:
        return UserError(f"cannot bind {name}: another process is bound to it (fuser -v {DEV_PATH} lists them)")
    if code == errno.ENOTTY:
        return UserError(f"cannot bind {name}: {DEV_PATH} does not know VNET_BIND (a vnet.ko without the backend?)")
    return UserError(f"cannot bind {name}: {err.strerror or err}")


def io_error(name: str, op: str, err: OSError, size: int = 0) -> UserError:
    """The UserError for a failed read or write (OP) on the file bound to NAME.
    SIZE: the buffer (read) or frame (write) length, for EMSGSIZE and EINVAL."""
    code = err.errno
    if code == errno.ENXIO:
        return UserError(f"{name} was deleted")
    if code == errno.ENETDOWN:
        return UserError(f"cannot {op} {name}: it is down (ip link set {name.rsplit('/', 1)[-1]} up)")
    if code == errno.EMSGSIZE:
        return UserError(f"cannot {op} {name}: its next frame is larger than {size} bytes")
    if code == errno.EINVAL and op == "write to":
        return UserError(f"cannot {op} {name}: a {size}-byte frame is not between 14 bytes and its MTU + 18")
    if code == errno.EBADFD:
        return UserError(f"cannot {op} {name}: the file is not bound to a device")
    return UserError(f"cannot {op} {name}: {err.strerror or err}")


class Backend:
    """An open /dev/vnet file, bound (or to be bound) to one vnet device.

    ``with Backend.open() as b: b.bind("vnet0"); ...``.  NAME is the device as messages
    call it (``ns1/vnet0`` for one in a named network namespace).
    """

    def __init__(self, fd: int, name: str = DEV_PATH) -> None:
        self.fd = fd
        self.name = name
        self.ifindex: int | None = None

    @classmethod
    def open(cls, path: str = DEV_PATH, nonblock: bool = True) -> Backend:
        flags = os.O_RDWR | os.O_CLOEXEC | (os.O_NONBLOCK if nonblock else 0)
        try:
            fd = os.open(path, flags)
        except OSError as err:
            raise open_error(path, err) from None
        return cls(fd, path)

    def bind(self, ifname: str, name: str | None = None) -> int:
        """Bind to IFNAME in the calling thread's network namespace; its ifindex.
        NAME: how errors call the device (default IFNAME)."""
        name = name or ifname
        if self.ifindex is not None:
            raise UserError(f"cannot bind {name}: this file is already bound to {self.name}")
        buf = pack_bind(ifname)
        try:
            fcntl.ioctl(self.fd, VNET_BIND, buf, True)
        except OSError as err:
            raise bind_error(name, err) from None
        self.name = name
        self.ifindex = unpack_bind(buf)[1]
        return self.ifindex

    def bound(self) -> tuple[str, int]:
        """(ifname, ifindex) of the bound device, named as it is now (it may have been renamed)."""
        buf = bytearray(BIND_STRUCT.size)
        try:
            fcntl.ioctl(self.fd, VNET_GET_BIND, buf, True)
        except OSError as err:
            raise io_error(self.name, "query", err) from None
        return unpack_bind(buf)

    def next_len(self) -> int:
        """The length of the frame the next read returns, 0 if none waits (ioctl FIONREAD)."""
        buf = bytearray(4)
        try:
            fcntl.ioctl(self.fd, termios.FIONREAD, buf, True)
        except OSError as err:
            raise io_error(self.name, "query", err) from None
        return int.from_bytes(buf, sys.byteorder, signed=True)

    def read(self, buf: bytearray | memoryview) -> int:
        """Read one frame into BUF; its length, or 0 when none waits (non-blocking file)."""
        try:
            return os.readv(self.fd, [buf])
        except BlockingIOError:
            return 0
        except OSError as err:
            raise io_error(self.name, "read from", err, len(buf)) from None

    def read_frame(self) -> bytes | None:
        """One frame, or None when none waits (non-blocking file)."""
        try:
            return os.read(self.fd, MAX_FRAME)
        except BlockingIOError:
            return None
        except OSError as err:
            raise io_error(self.name, "read from", err, MAX_FRAME) from None

    def write(self, frame: bytes | bytearray | memoryview) -> bool:
        """Give the device FRAME as received; False when its RX ring is full (non-blocking file)."""
        try:
            os.write(self.fd, frame)
        except BlockingIOError:
            return False
        except OSError as err:
            raise io_error(self.name, "write to", err, len(frame)) from None
        return True

    def poll(self, events: int = select.POLLIN, timeout: float | None = None) -> int:
        """The poll(2) revents of this file for EVENTS, waiting up to TIMEOUT seconds (None: forever); 0 on timeout."""
        p = select.poll()
        p.register(self.fd, events)
        ready = p.poll(None if timeout is None else timeout * 1000)
        return ready[0][1] if ready else 0

    def fileno(self) -> int:
        return self.fd

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


_libc: ctypes.CDLL | None = None


def _setns(fd: int) -> None:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


@contextlib.contextmanager
def in_netns(netns: str | None) -> Iterator[None]:
    """The calling thread inside the named network namespace NETNS (as `ip netns` names
    them; None: ours) for the body, then back.  What the body opens or binds there (a
    /dev/vnet bind, a netlink socket) keeps its namespace once we are back.

    setns(2) moves the calling thread only; the rest of this process stays where it was
    (vnet-wire is single-threaded anyway)."""
    if not netns:
        yield
        return
    if "/" in netns or netns in (".", ".."):
        raise UserError(f'bad network namespace name "{netns}"')
    try:
        target = os.open(os.path.join(NETNS_DIR, netns), os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise UserError(f'no network namespace "{netns}" (ip netns list)') from None
    except OSError as err:
        raise UserError(f'cannot open network namespace "{netns}": {err.strerror or err}') from None
    try:
        home = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            try:
                _setns(target)
            except OSError as err:
                why = " (needs CAP_SYS_ADMIN: run as root)" if err.errno == errno.EPERM else ""
                raise UserError(f'cannot enter network namespace "{netns}": {err.strerror}{why}') from None
            try:
                yield
            finally:
                # Not a UserError if this fails: every later bind and socket would land in
                # the wrong namespace, so it must not be caught and carried on from.
                _setns(home)
        finally:
            os.close(home)
    finally:
        os.close(target)


def open_in_netns(netns: str | None, ifname: str, path: str = DEV_PATH, nonblock: bool = True) -> Backend:
    """/dev/vnet opened and bound to IFNAME in the named network namespace NETNS (None:
    ours).  The kernel resolves the name, and checks CAP_NET_ADMIN, in the caller's
    namespace at VNET_BIND time, so we step into NETNS for the open and the bind only;
    the bound file keeps working once we are back."""
    name = f"{netns}/{ifname}" if netns else ifname
    check_ifname(ifname)
    with in_netns(netns):
        return _open_bound(path, nonblock, ifname, name)


def _open_bound(path: str, nonblock: bool, ifname: str, name: str) -> Backend:
    b = Backend.open(path, nonblock)
    try:
        b.bind(ifname, name)
    except BaseException:
        b.close()
        raise
    return b
