"""/dev/vnet, the backend: bind, backpressure, full rings, bad lengths, teardown in every
order, security.  The witnesses are the kernel's: ethtool -S, ip -s link, BQL in sysfs,
netdev netlink qstats (ynl), errno values, the skb slab and the driver's object counts."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import random
import select
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.vm import guest
from vnet_ebpf.backend import VNET_BIND, Backend, pack_bind

SKB_CACHE = "skbuff_head_cache"
SO_SNDBUFFORCE = 32  # <asm-generic/socket.h>; Python's socket module does not name it
ETHERTYPE = 0x88B5  # IEEE local experimental: nothing in the stack answers it
ZERO = {"tx_rings": 0, "rx_rings": 0, "rx_pages": 0, "page_pools": 0, "xdp_rxqs": 0}


def quiet_up(dev: str = "vnet0") -> None:
    """Up without IPv6 (no router solicitations, no DAD): only the test's frames flow."""
    guest.quiet_link_up(dev)


def hw(dev: str = "vnet0") -> str:
    return Path(f"/sys/class/net/{dev}/vnet/hw").read_text().strip()


def seq_frame(dev: str, seq: int, payload: int = 46) -> bytes:
    return (b"\xff" * 6 + guest.mac_bytes(dev) + ETHERTYPE.to_bytes(2, "big") + struct.pack("!I", seq)
            + bytes(payload - 4))


def send_seq(dev: str, seqs: range) -> None:
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as s:
        # Frames held in a ring nobody reads still count against the socket's send
        # buffer: with the default one, send() itself would wait (backpressure).
        s.setsockopt(socket.SOL_SOCKET, SO_SNDBUFFORCE, 16 << 20)
        s.bind((dev, 0))
        for i in seqs:
            s.send(seq_frame(dev, i))


def read_seqs(be: Backend, want: int, timeout: float = 30.0) -> list[int]:
    """Read frames until WANT of ours arrived; their sequence numbers, in arrival order."""
    seqs: list[int] = []
    buf = bytearray(65536)
    end = time.monotonic() + timeout
    while len(seqs) < want and time.monotonic() < end:
        be.poll(select.POLLIN, 0.5)
        while be.read(buf) > 0:
            if int.from_bytes(buf[12:14], "big") == ETHERTYPE:
                seqs.append(struct.unpack_from("!I", buf, 14)[0])
    return seqs


@pytest.fixture
def bound(vnet: Path) -> Iterator[Backend]:
    quiet_up()
    with Backend.open(nonblock=True) as be:
        be.bind("vnet0")
        yield be


@pytest.mark.smoke
def test_bind_rules_and_the_device_node(vnet: Path) -> None:
    st = os.stat("/dev/vnet")
    assert (st.st_mode & 0o777, st.st_uid) == (0o600, 0)
    quiet_up()
    assert hw() == "simulated"
    with Backend.open() as be:
        with pytest.raises(OSError) as e:  # not bound yet
            os.read(be.fileno(), 2048)
        assert e.value.errno == errno.EBADFD
        ifindex = be.bind("vnet0")
        assert ifindex == int(Path("/sys/class/net/vnet0/ifindex").read_text())
        assert hw() == "backend" and be.bound() == ("vnet0", ifindex)
        with Backend.open() as other:
            for name, err in (("vnet0", errno.EBUSY), ("lo", errno.EINVAL), ("nosuchdev", errno.ENODEV)):
                with pytest.raises(OSError) as e:
                    bind_raw(other.fileno(), name)
                assert e.value.errno == err, name
        with pytest.raises(OSError) as e:  # one device per file
            bind_raw(be.fileno(), "vnet0")
        assert e.value.errno == errno.EINVAL
    assert hw() == "simulated"


def bind_raw(fd: int, name: str) -> None:
    """VNET_BIND without the wrapper: the test wants the errno, not a message."""
    fcntl.ioctl(fd, VNET_BIND, pack_bind(name))


def prime_bql_for_a_full_ring(be: Backend) -> None:
    """A TX ring of 64 that the stack can fill.  BQL would stop the queue long before the
    ring is full: its limit only rises to limit_min at a completion, so one frame goes
    through first."""
    Path("/sys/class/net/vnet0/queues/tx-0/byte_queue_limits/limit_min").write_text("1000000\n")
    guest.sh("ip", "link", "set", "vnet0", "down")
    guest.sh("ethtool", "-G", "vnet0", "tx", "64")
    guest.sh("ip", "link", "set", "vnet0", "up")
    send_seq("vnet0", range(1000, 1001))
    assert read_seqs(be, 1) == [1000]
    guest.wait_until(lambda: guest.tx_idle("vnet0"), what="the first frame completed")


@pytest.mark.smoke
def test_tx_backpressure_stops_and_wakes_the_queue(bound: Backend) -> None:
    """A reader that does not read: the ring fills, the queue stops, BQL holds bytes in
    flight.  Reading again wakes it, and every frame arrives once, in order."""
    prime_bql_for_a_full_ring(bound)
    before = guest.ethtool_stats()
    n = 300
    send_seq("vnet0", range(n))
    guest.wait_until(lambda: guest.ethtool_stats()["tx_queue_stopped"] > before["tx_queue_stopped"], what="a stop")
    assert guest.bql("vnet0", "inflight") > 0 and guest.qdisc_backlog("vnet0") > 0
    assert guest.ethtool_stats()["tx_packets"] == before["tx_packets"]  # nothing completed
    with pytest.raises(OSError) as e:  # too small a buffer: an error, and the frame stays
        os.read(bound.fileno(), 20)
    assert e.value.errno == errno.EMSGSIZE
    assert read_seqs(bound, n) == list(range(n))
    guest.wait_until(lambda: guest.tx_idle("vnet0"), what="the queue drained")
    after = guest.delta(guest.ethtool_stats(), before)
    assert after["tx_packets"] == after["backend_tx_read"] == n
    assert after["tx_bytes"] == n * 60 and after["tx_dropped"] == 0  # 60-byte frames: no FCS
    assert after["tx_queue_woken"] >= after["tx_queue_stopped"] >= 1
    if guest.kernel_at_least(6, 10):  # qstats tx-stop/tx-wake (6.10+): the kernel's own view
        ifindex = int(Path("/sys/class/net/vnet0/ifindex").read_text())
        q = guest.ynl("netdev", "qstats-get", {"ifindex": ifindex, "scope": "queue"}, dump=True)
        tx = next(x for x in q if x.get("queue-type") == "tx")
        s = guest.ethtool_stats()
        assert tx["tx-stop"] == s["tx_queue_stopped"] and tx["tx-wake"] == s["tx_queue_woken"]


def test_rx_full_ring_blocks_or_eagain_and_loses_nothing(bound: Backend) -> None:
    guest.sh("ip", "link", "set", "vnet0", "down")
    guest.sh("ethtool", "-G", "vnet0", "rx", "16")
    guest.sh("ip", "link", "set", "vnet0", "up")
    guest.sh("ethtool", "-C", "vnet0", "rx-usecs", "500000")  # the RX interrupt comes late
    before = guest.ethtool_stats()
    frame = seq_frame("vnet0", 0)
    written = 0
    while bound.write(frame):
        written += 1
    assert written == 16 and not bound.poll(select.POLLOUT, 0) & select.POLLOUT
    # A blocking write waits for NAPI to make room, and then goes through.
    os.set_blocking(bound.fileno(), True)
    t0 = time.monotonic()
    assert os.write(bound.fileno(), frame) == len(frame)
    assert time.monotonic() - t0 > 0.05
    guest.wait_until(lambda: guest.ethtool_stats()["rx_packets"] - before["rx_packets"] == 17, what="17 received")
    d = guest.delta(guest.ethtool_stats(), before)
    assert d["backend_rx_written"] == 17 and d["backend_rx_ring_full"] == 2  # the EAGAIN and the wait
    assert d["rx_dropped"] == d["rx_ring_full"] == 0


def test_rx_bad_lengths_are_length_errors_and_change_nothing_else(bound: Backend) -> None:
    before, ip_before = guest.ethtool_stats(), guest.ip_stats()
    mtu = int(Path("/sys/class/net/vnet0/mtu").read_text())
    for size in (0, 1, 13, mtu + 19, 70000):
        with pytest.raises(OSError) as e:
            os.write(bound.fileno(), bytes(size))
        assert e.value.errno == errno.EINVAL, size
    # The extremes that are frames: a bare header, and the MTU with a header and a VLAN
    # tag (a VLAN device over vnet has its MTU: is_skb_forwardable()'s limit).
    for size in (14, mtu + 18):
        frame = b"\xff" * 12 + ETHERTYPE.to_bytes(2, "big") + bytes(size - 14)
        assert os.write(bound.fileno(), frame) == size
    guest.wait_until(lambda: guest.ethtool_stats()["rx_packets"] - before["rx_packets"] == 2, what="2 received")
    d = guest.delta(guest.ethtool_stats(), before)
    assert d["rx_length_errors"] == 5 and d["rx_bytes"] == 14 + mtu + 18
    changed = {k for k, v in d.items() if v}
    # The backend serves queue pair 0: its counters move with the device's.
    assert changed == {"rx_length_errors", "rx_packets", "rx_bytes", "rx_other", "napi_polls",
                       "backend_rx_written", "rx0_packets", "rx0_bytes", "rx0_napi_polls"}
    assert (d["rx0_packets"], d["rx0_bytes"], d["rx0_napi_polls"]) == (2, d["rx_bytes"], d["napi_polls"])
    ip = guest.ip_stats()
    assert ip["rx"]["errors"] - ip_before["rx"]["errors"] == 5
    assert ip["rx"]["packets"] - ip_before["rx"]["packets"] == 2


def test_fuzz_100k_random_writes(bound: Backend) -> None:
    """Random lengths 0..70000 and random bytes, a tenth of them frame-sized: every write
    is either a received frame or a length error, nothing else, no splat."""
    rng = random.Random(14)
    pool = rng.randbytes(70001)
    mtu = int(Path("/sys/class/net/vnet0/mtu").read_text())
    before = guest.ethtool_stats()
    os.set_blocking(bound.fileno(), True)
    accepted = rejected = 0
    for _ in range(100_000):
        size = rng.randint(0, mtu + 18) if rng.random() < 0.1 else rng.randint(0, 70000)
        start = rng.randint(0, len(pool) - size)
        try:
            os.write(bound.fileno(), pool[start:start + size])
            accepted += 1
        except OSError as e:
            assert e.errno == errno.EINVAL
            rejected += 1
    guest.wait_until(lambda: guest.ethtool_stats()["rx_packets"] - before["rx_packets"] >= accepted,
                     what="all received")
    d = guest.delta(guest.ethtool_stats(), before)
    assert accepted > 5000 and rejected > 80_000
    # rx_packets also counts what XDP drops (if_link.h); no program runs here.
    assert accepted == d["rx_packets"] and d["xdp_drop"] == 0
    assert rejected == d["rx_length_errors"]


# ---- teardown, in every order -----------------------------------------------------------

def traffic_both_ways(be: Backend, seconds: float = 1.0) -> None:
    """Frames out (AF_PACKET) and in (write) through a bound vnet0 for a while."""
    end = time.monotonic() + seconds
    frame = seq_frame("vnet0", 1)
    buf = bytearray(65536)
    while time.monotonic() < end:
        send_seq("vnet0", range(20))
        for _ in range(20):
            be.write(frame)
        while be.read(buf) > 0:
            pass


def works_again(dev: str = "vnet0") -> None:
    """The device carries frames both ways with a new file bound."""
    with Backend.open() as be:
        be.bind(dev)
        assert read_seqs_after_send(be, dev) == [7]
        before = guest.ethtool_stats(dev)["rx_packets"]
        assert be.write(seq_frame(dev, 7))
        guest.wait_until(lambda: guest.ethtool_stats(dev)["rx_packets"] == before + 1, what="a received frame")


def read_seqs_after_send(be: Backend, dev: str) -> list[int]:
    send_seq(dev, range(7, 8))
    return read_seqs(be, 1, timeout=10)


@pytest.mark.kmsg_allows(r"bound to /dev/vnet", r"/dev/vnet closed")
def test_delete_the_device_while_the_file_is_open(vnet: Path) -> None:
    guest.sh("ip", "link", "add", "vnet7", "type", "vnet")
    quiet_up("vnet7")
    baseline = guest.slab_active(SKB_CACHE)
    be = Backend.open(nonblock=False)
    be.bind("vnet7")
    errors: list[int] = []

    def blocked_reader() -> None:
        try:
            while True:
                os.read(be.fileno(), 65536)
        except OSError as e:
            errors.append(e.errno or 0)

    reader = threading.Thread(target=blocked_reader, daemon=True)
    reader.start()
    send_seq("vnet7", range(50))
    guest.sh("ip", "link", "del", "vnet7")  # while the reader waits in read()
    reader.join(10)
    assert errors == [errno.ENXIO]
    p = select.poll()
    p.register(be.fileno())
    assert p.poll(0)[0][1] & (select.POLLERR | select.POLLHUP) == select.POLLERR | select.POLLHUP
    with pytest.raises(OSError) as e:
        os.write(be.fileno(), seq_frame("vnet0", 0))
    assert e.value.errno == errno.ENXIO
    be.close()
    assert guest.slab_active(SKB_CACHE) - baseline < guest.SKB_SLACK
    quiet_up()
    works_again()


def test_netns_move_keeps_the_binding(vnet: Path) -> None:
    quiet_up()
    with Backend.open() as be:
        be.bind("vnet0")
        guest.sh("ip", "netns", "add", "vnetmv")
        try:
            guest.sh("ip", "link", "set", "vnet0", "netns", "vnetmv")
            guest.sh("ip", "netns", "exec", "vnetmv", "sh", "-c",
                   "echo 1 >/proc/sys/net/ipv6/conf/vnet0/disable_ipv6; ip link set vnet0 up")
            guest.sh("ip", "netns", "exec", "vnetmv", "python3", "-c",
                   "import socket; s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind(('vnet0', 0));"
                   f" s.send(b'\\xff' * 12 + bytes.fromhex('{ETHERTYPE:04x}') + (5).to_bytes(4, 'big') + bytes(42))")
            assert read_seqs(be, 1, timeout=10) == [5]
            guest.sh("ip", "-n", "vnetmv", "link", "set", "vnet0", "netns", "1")
        finally:
            guest.sh("ip", "netns", "del", "vnetmv")
        assert hw() == "backend"  # still this file's, back home
        quiet_up()
        assert read_seqs_after_send(be, "vnet0") == [7]


def test_rmmod_while_open_is_refused_until_closed(vnet: Path) -> None:
    quiet_up()
    be = Backend.open()
    be.bind("vnet0")
    proc = subprocess.run(["rmmod", "vnet"], capture_output=True, text=True)
    assert proc.returncode != 0 and "in use" in proc.stderr
    assert hw() == "backend"
    be.close()
    guest.unload()
    guest.load()


@pytest.mark.kmsg_allows(r"bound to /dev/vnet", r"/dev/vnet closed")
def test_close_during_traffic_returns_the_device_to_simulated_hardware(vnet: Path) -> None:
    quiet_up()
    guest.sh("ethtool", "-C", "vnet0", "tx-usecs", "2000")
    baseline = guest.slab_active(SKB_CACHE)
    for _ in range(20):
        be = Backend.open()
        be.bind("vnet0")
        with guest.Sender("vnet0"):
            traffic_both_ways(be, 0.2)
            send_seq("vnet0", range(10))  # not read: queued for the reader at the close
            be.close()
        assert hw() == "simulated"
    guest.wait_until(lambda: guest.tx_idle("vnet0"), what="the queue drained")
    s = guest.ethtool_stats()
    posted = s["tx_arp"] + s["tx_ipv4"] + s["tx_ipv6"] + s["tx_other"]
    assert posted == s["tx_completions"] + s["tx_purged"] and s["tx_purged"] > 0
    assert s["backend_tx_read"] <= s["tx_completions"]
    assert guest.slab_active(SKB_CACHE) - baseline < guest.SKB_SLACK
    works_again()
    guest.sh("ip", "link", "set", "vnet0", "down")
    assert guest.driver_objects() == ZERO


# ---- security --------------------------------------------------------------------------

PY_BIND = "from vnet_ebpf.backend import Backend; Backend.open().bind('vnet0')"


def run_as(prefix: list[str], code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(Path.cwd())}
    return subprocess.run([*prefix, "python3", "-c", f"from vnet_ebpf.errors import reported\n"
                           f"@reported('t')\ndef f() -> None:\n    {code}\nf()"],
                          capture_output=True, text=True, env=env, timeout=60)


@pytest.mark.smoke
def test_security(vnet: Path) -> None:
    quiet_up()
    # Not root: the node is root's, mode 0600.
    p = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "python3", "-c",
                        "import os; os.open('/dev/vnet', os.O_RDWR)"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "PermissionError" in p.stderr
    # Root without CAP_NET_ADMIN: opens, but cannot bind.
    p = run_as(["setpriv", "--inh-caps=-net_admin", "--bounding-set=-net_admin"], PY_BIND)
    assert p.returncode == 1 and "Operation not permitted" in p.stderr, p.stderr
    assert len(p.stderr.strip().splitlines()) == 1
    # Root of a new user namespace: all capabilities there, none over init_net's devices.
    p = run_as(["unshare", "--user", "--map-root-user"], PY_BIND)
    assert p.returncode == 1 and "Operation not permitted" in p.stderr, p.stderr
    # ... and vnet-wire says the same, in one line, exit 1.
    p = subprocess.run(["setpriv", "--inh-caps=-net_admin", "--bounding-set=-net_admin",
                        "vnet-wire", "vnet0", "vnet1"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and p.stderr.startswith("vnet-wire: ") and len(p.stderr.strip().splitlines()) == 1
    assert hw() == "simulated"


# ---- the kernel review's findings, each shown by a test that failed before its fix -------

def qstats(dev: str = "vnet0") -> dict[str, dict[str, int]]:
    """Netlink qstats per queue type, as the kernel's ynl reports them (6.9+)."""
    ifindex = int(Path(f"/sys/class/net/{dev}/ifindex").read_text())
    rows = guest.ynl("netdev", "qstats-get", {"ifindex": ifindex, "scope": "queue"}, dump=True)
    return {r["queue-type"]: r for r in rows}


@pytest.mark.kmsg_allows(r"bound to /dev/vnet", r"/dev/vnet closed")
def test_a_writer_waiting_through_a_failed_open_wakes(vnet: Path) -> None:
    """A blocking write() that arrives while ndo_open runs waits for the rings; when the
    open fails it must return -ENETDOWN, not sleep for ever.  The core keeps the device
    marked running until a failed ndo_open has returned, so a wait condition built on
    netif_running() slept through the failure.  The rxq fault fails the open after the
    RX ring's 4096 pages were allocated: a window the looping writer lands in."""
    guest.sh("ethtool", "-G", "vnet0", "rx", "4096")
    be = Backend.open(nonblock=False)
    be.bind("vnet0")
    stop = threading.Event()
    errors: list[int] = []
    frame = seq_frame("vnet0", 0)

    def writer() -> None:
        while not stop.is_set():
            try:
                os.write(be.fileno(), frame)
            except OSError as e:
                errors.append(e.errno or 0)

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    try:
        for _ in range(20):
            guest.inject("rxq", 1)
            p = subprocess.run(["ip", "link", "set", "vnet0", "up"], capture_output=True, text=True)
            assert p.returncode != 0, "the open did not fail"
        stop.set()
        t.join(10)
        assert not t.is_alive(), "a write() slept through a failed open"
        assert errors and set(errors) == {errno.ENETDOWN}
    finally:
        stop.set()
        quiet_up()  # a writer still asleep goes through now
        t.join(10)
        be.close()


@pytest.mark.kmsg_allows(r"bound to /dev/vnet", r"/dev/vnet closed")
def test_netns_deletion_completes_while_the_reader_stalls(vnet: Path) -> None:
    """Frames that wait for a reader that never reads must not hold their socket: it holds
    its netns, and `ip netns del` would never tear the namespace (and the device in it)
    down.  The frames in the ring are orphaned; those the qdisc holds behind the stopped
    queue are dropped when the link goes down for the stalled reader (5 s).  The witness:
    the device is deleted, which the bound file sees as POLLHUP."""
    guest.sh("ip", "netns", "add", "vnstall")
    ns = ["ip", "netns", "exec", "vnstall"]
    guest.sh("ip", "link", "add", "vnet5", "netns", "vnstall", "type", "vnet")
    guest.sh(*ns, "sh", "-ec", "echo 1 >/proc/sys/net/ipv6/conf/vnet5/disable_ipv6; ip link set vnet5 up;"
           " ip addr add 10.9.0.1/24 dev vnet5;"
           " ip neigh add 10.9.0.2 lladdr 02:00:00:00:00:09 dev vnet5 nud permanent")
    from vnet_ebpf.backend import open_in_netns

    be = open_in_netns("vnstall", "vnet5", nonblock=True)
    try:
        # A process in the namespace sends, and exits; nobody reads its frames.
        guest.sh(*ns, "python3", "-c", "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM);"
               " [s.sendto(bytes(100), ('10.9.0.2', 9)) for _ in range(50)]")
        stats = guest.sh(*ns, "ethtool", "-S", "vnet5")
        assert "backend_tx_read: 0" in stats
        guest.sh("ip", "netns", "del", "vnstall")
        end = time.monotonic() + 30
        while not be.poll(select.POLLIN, 0.5) & select.POLLHUP:
            assert time.monotonic() < end, "the namespace was not torn down: its device is still there"
    finally:
        be.close()
        subprocess.run(["ip", "netns", "del", "vnstall"], capture_output=True, check=False)


@pytest.mark.kmsg_allows(r"bound to /dev/vnet", r"/dev/vnet closed", r"too large for /dev/vnet")
@contextlib.contextmanager
def too_big_sender() -> Iterator[Callable[[], None]]:
    """A way to post vnet0 a frame larger than any read: a tc redirect from a dummy
    device of MTU 100000, which does not check ours."""
    guest.sh("modprobe", "dummy")
    guest.sh("ip", "link", "add", "dm0", "type", "dummy")

    def send() -> None:
        with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as s:
            s.bind(("dm0", 0))
            try:
                s.send(b"\xff" * 12 + ETHERTYPE.to_bytes(2, "big") + bytes(100000 - 14))
            except OSError as err:
                if err.errno != errno.EMSGSIZE:
                    raise
                # 6.1's AF_PACKET makes no skb that large (6.12's does).
                pytest.skip("this kernel's AF_PACKET refuses a 100000-byte frame")

    try:
        guest.sh("ip", "link", "set", "dm0", "mtu", "100000", "up")
        guest.sh("tc", "qdisc", "add", "dev", "dm0", "clsact")
        guest.sh("tc", "filter", "add", "dev", "dm0", "egress", "matchall", "action", "mirred", "egress",
               "redirect", "dev", "vnet0")
        yield send
    finally:
        guest.sh("ip", "link", "del", "dm0")


def test_a_frame_too_big_for_a_read_is_a_drop_not_a_send(bound: Backend) -> None:
    """A frame larger than any read is dropped: tx_dropped, and not tx_packets, tx_bytes
    or qstats."""
    with too_big_sender() as send:
        before, ip_before = guest.ethtool_stats(), guest.ip_stats()
        q_before = qstats() if guest.kernel_at_least(6, 9) else None
        send()
        guest.wait_until(lambda: guest.ethtool_stats()["tx_other"] > before["tx_other"], what="the frame posted")
        buf = bytearray(65536)
        end = time.monotonic() + 10
        while guest.ethtool_stats()["backend_tx_too_big"] == before["backend_tx_too_big"]:
            assert bound.read(buf) <= 0 and time.monotonic() < end
        guest.wait_until(lambda: guest.tx_idle("vnet0"), what="the frame freed")
        d = guest.delta(guest.ethtool_stats(), before)
        assert (d["backend_tx_too_big"], d["tx_dropped"], d["tx_packets"], d["tx_bytes"]) == (1, 1, 0, 0)
        assert d["tx_completions"] == 1 and d["backend_tx_read"] == 0
        ip = guest.ip_stats()
        assert ip["tx"]["dropped"] - ip_before["tx"]["dropped"] == 1
        assert ip["tx"]["packets"] == ip_before["tx"]["packets"]
        if q_before is not None:
            assert qstats()["tx"]["tx-packets"] == q_before["tx"]["tx-packets"]
        # The next frame goes through as ever.
        assert read_seqs_after_send(bound, "vnet0") == [7]


@pytest.mark.kmsg_allows(r"bound to /dev/vnet", r"/dev/vnet closed")
def test_tx_stop_and_wake_stay_paired_through_a_reset(bound: Backend) -> None:
    """A queue stopped for a full ring, then reset (ethtool -G), then closed: every tx-stop
    has its tx-wake at each rest (netdev.yaml), in ethtool -S and in qstats."""
    prime_bql_for_a_full_ring(bound)
    send_seq("vnet0", range(200))  # nobody reads: the ring fills, the queue stops
    guest.wait_until(lambda: guest.ethtool_stats()["tx_queue_stopped"] >= 1, what="a stop")
    s = guest.ethtool_stats()
    assert s["tx_queue_stopped"] == s["tx_queue_woken"] + 1
    guest.sh("ethtool", "-G", "vnet0", "tx", "128")  # a reset of the rings: what waited is purged
    time.sleep(0.5)  # the qdisc's backlog fills the new ring, which stops again
    guest.sh("ip", "link", "set", "vnet0", "down")
    s = guest.ethtool_stats()
    assert s["tx_queue_stopped"] == s["tx_queue_woken"] >= 1, s
    assert s["tx_purged"] >= 64
    quiet_up()  # qstats report only the queues of a device that is up
    if guest.kernel_at_least(6, 10):
        tx = qstats()["tx"]
        assert tx["tx-stop"] == tx["tx-wake"] == s["tx_queue_stopped"]


def test_qstats_rx_packets_leave_out_what_the_stack_never_saw(vnet: Path) -> None:
    """netdev.yaml: rx-packets are frames passed to the stack (XDP included); frames the
    driver drops for want of a buffer are if_link.h's rx_packets but not qstats'."""
    if not guest.kernel_at_least(6, 9):
        pytest.skip("netlink qstats are 6.9+")
    quiet_up()
    guest.set_knob("rx_rate", 2000)
    guest.set_knob("rx_burst", 8)
    guest.wait_until(lambda: guest.ethtool_stats()["rx_packets"] > 50, what="frames")
    guest.inject("rx_refill", 5)
    guest.wait_until(lambda: guest.injected()["rx_refill"][0] == 0, what="the faults used")
    guest.set_knob("rx_rate", 0)
    time.sleep(0.5)  # the last poll
    s, q = guest.ethtool_stats(), qstats()["rx"]
    assert s["rx_alloc_failed"] == 5 and s["rx_dropped"] == 5
    assert q["rx-packets"] == s["rx_packets"] - 5
    assert q["rx-bytes"] == s["rx_bytes"] - 5 * 60
    assert q["rx-alloc-fail"] == 5


def test_nowait_io_and_zero_length_reads(bound: Backend) -> None:
    """RWF_NOWAIT (what io_uring asks for first) gets EAGAIN instead of a wait, on a
    blocking file; read() of 0 bytes returns 0 and takes no frame."""
    os.set_blocking(bound.fileno(), True)
    buf = bytearray(2048)
    with pytest.raises(OSError) as e:  # nothing to read: would block
        os.preadv(bound.fileno(), [buf], -1, os.RWF_NOWAIT)
    assert e.value.errno == errno.EAGAIN
    send_seq("vnet0", range(3, 4))
    guest.wait_until(lambda: bound.next_len() > 0, what="a frame waiting")
    assert os.read(bound.fileno(), 0) == b""
    assert bound.next_len() == 60  # still there
    assert os.preadv(bound.fileno(), [buf], -1, os.RWF_NOWAIT) == 60
    assert struct.unpack_from("!I", buf, 14)[0] == 3
    # A full RX ring: a NOWAIT write gets EAGAIN rather than waiting for NAPI.
    guest.sh("ip", "link", "set", "vnet0", "down")
    guest.sh("ethtool", "-G", "vnet0", "rx", "16")
    guest.sh("ip", "link", "set", "vnet0", "up")
    guest.sh("ethtool", "-C", "vnet0", "rx-usecs", "1000000")  # the RX interrupt comes late
    frame = seq_frame("vnet0", 0)
    for _ in range(16):
        os.write(bound.fileno(), frame)
    with pytest.raises(OSError) as e:
        os.pwritev(bound.fileno(), [frame], -1, os.RWF_NOWAIT)
    assert e.value.errno == errno.EAGAIN
    with Backend.open() as unbound, pytest.raises(OSError) as e:
        os.read(unbound.fileno(), 0)
    assert e.value.errno == errno.EBADFD


@pytest.mark.kmsg_allows(r"bound to /dev/vnet", r"/dev/vnet closed")
def test_a_stalled_reader_takes_the_link_down_until_it_reads(bound: Backend) -> None:
    """Frames wait 5 s and the reader takes none: carrier off (ip link's carrier, once),
    the qdisc's backlog dropped by the core; the next read brings the link back."""
    carrier = Path("/sys/class/net/vnet0/carrier")
    before = guest.ethtool_stats()
    send_seq("vnet0", range(100))  # BQL stops the queue: most wait in the qdisc
    guest.wait_until(lambda: carrier.read_text().strip() == "0", timeout=30, what="the carrier off")
    assert guest.ethtool_stats()["backend_tx_stalls"] - before["backend_tx_stalls"] == 1
    guest.wait_until(lambda: guest.qdisc_backlog("vnet0") == 0, what="the qdisc emptied")
    seqs = read_seqs(bound, 1)
    assert seqs and seqs[0] == 0  # the ring's frames waited, in order
    assert carrier.read_text().strip() == "1"
    assert read_seqs_after_send(bound, "vnet0")[-1:] == [7]


@pytest.mark.kmsg_allows(r"bound to /dev/vnet", r"/dev/vnet closed", r"too large for /dev/vnet")
def test_a_stall_ends_also_when_the_reader_takes_only_a_too_big_frame(bound: Backend) -> None:
    """The stall is counted once, however long it lasts; and a read that takes a frame
    only to drop it (too big) is the link partner answering too: the carrier comes back.
    Before, it stayed off with nothing left to read."""
    carrier = Path("/sys/class/net/vnet0/carrier")
    with too_big_sender() as send:
        before = guest.ethtool_stats()
        send()
        guest.wait_until(lambda: carrier.read_text().strip() == "0", timeout=30, what="the carrier off")
        time.sleep(6)  # past a second stall period
        assert guest.ethtool_stats()["backend_tx_stalls"] - before["backend_tx_stalls"] == 1
        buf = bytearray(65536)
        assert bound.read(buf) <= 0  # the frame is taken and dropped: nothing to read
        assert guest.ethtool_stats()["backend_tx_too_big"] - before["backend_tx_too_big"] == 1
        assert carrier.read_text().strip() == "1"

