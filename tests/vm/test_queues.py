"""Queue pairs: ethtool -L, each queue's traffic, CPUs and counters, checked against the
kernel's own witnesses (ethtool -S, netdev netlink through ynl, the napi:napi_poll
trace event, sysfs), exactly."""

from __future__ import annotations

import errno
import fcntl
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.vm import guest
from tests.vm.test_netdev_nl import napis, needs_qstats, needs_queue_napi, qstats, queues
from tests.vm.test_rx import generate
from tests.vm.test_userns import in_userns
from vnet_ebpf import rss
from vnet_ebpf.backend import VNET_BIND, Backend, pack_bind

pytestmark = pytest.mark.smoke

PEER_IP, PEER_MAC = "10.0.0.2", "02:76:6e:65:74:02"
TRACING = Path("/sys/kernel/tracing")

# N datagrams to the peer from one CPU (argv: cpu, count).
PINNED_SENDER = """
import os, socket, sys
os.sched_setaffinity(0, {int(sys.argv[1])})
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(int(sys.argv[2])):
    s.sendto(bytes(100), ("10.0.0.2", 9000 + i % 8))
"""


def sysfs_queues(dev: str = "vnet0") -> list[str]:
    return sorted(p.name for p in Path(f"/sys/class/net/{dev}/queues").iterdir())


def per_queue(stats: dict[str, int]) -> dict[str, list[int]]:
    """ethtool -S's per-queue counters, of every queue pair the device has, running or
    not: {"rx_packets": [q0, q1, ...], ...}."""
    found: dict[str, dict[int, int]] = {}
    for name, value in stats.items():
        m = re.fullmatch(r"(rx|tx)(\d+)_(\w+)", name)
        if m:
            found.setdefault(f"{m[1]}_{m[3]}", {})[int(m[2])] = value
    return {k: [v[i] for i in sorted(v)] for k, v in found.items()}


def two_queues_up() -> None:
    guest.quiet_link_up("vnet0")
    guest.sh("ip", "addr", "add", "10.0.0.1/24", "dev", "vnet0")
    guest.sh("ip", "neigh", "replace", PEER_IP, "lladdr", PEER_MAC, "dev", "vnet0", "nud", "permanent")
    guest.sh("ethtool", "-L", "vnet0", "combined", "2")


def send_from(cpu: int, count: int) -> None:
    subprocess.run([sys.executable, "-c", PINNED_SENDER, str(cpu), str(count)], check=True)


def test_channels_grow_and_shrink_and_sysfs_follows(vnet: Path) -> None:
    """The maximum is the pairs the device was made with (queues=2); -L moves the count
    up and down, up or down the device, and sysfs shows exactly the running queues."""
    guest.quiet_link_up("vnet0")
    assert sysfs_queues() == ["rx-0", "tx-0"]
    guest.sh("ethtool", "-L", "vnet0", "combined", "2")
    assert sysfs_queues() == ["rx-0", "rx-1", "tx-0", "tx-1"]
    guest.sh("ip", "link", "set", "vnet0", "down")
    guest.sh("ethtool", "-L", "vnet0", "combined", "1")
    assert sysfs_queues() == ["rx-0", "tx-0"]
    guest.sh("ethtool", "-L", "vnet0", "combined", "2")
    guest.sh("ip", "link", "set", "vnet0", "up")
    assert sysfs_queues() == ["rx-0", "rx-1", "tx-0", "tx-1"]
    # The rings are rebuilt for both queues by -G and an MTU that changes the buffers.
    guest.sh("ethtool", "-G", "vnet0", "rx", "64", "tx", "32")
    guest.sh("ip", "link", "set", "vnet0", "mtu", "4000")
    guest.sh("ip", "link", "set", "vnet0", "mtu", "1500")
    assert guest.sh("ethtool", "-t", "vnet0", "offline").count("PASS") == 1
    guest.sh("ethtool", "-L", "vnet0", "combined", "1")
    assert sysfs_queues() == ["rx-0", "tx-0"]


def test_both_queues_carry_frames_each_from_its_own_cpu(vnet: Path) -> None:
    """After -L 2, a sender on CPU 0 uses TX queue 0 and one on CPU 1 TX queue 1 (XPS),
    each frame once; the generator's flows reach both RX queues, as RSS steers them; each RX
    queue's NAPI polls on its own CPU, as the kernel's napi:napi_poll event shows."""
    two_queues_up()
    guest.sh("ethtool", "-X", "vnet0", "hkey", rss.VERIFICATION_KEY.hex(":"))
    guest.set_knob("rx_proto", "udp4")
    guest.set_knob("rx_flows", 4)
    before = guest.ethtool_stats()
    send_from(0, 300)
    send_from(1, 200)
    guest.wait_until(guest.tx_idle, timeout=30, what="the TX rings to drain")
    sent = guest.delta(guest.ethtool_stats(), before)
    assert per_queue(sent)["tx_packets"] == [300, 200]
    assert sent["tx_packets"] == 500
    # The stack answers the flows' datagrams (ICMP port unreachable): TX from here on
    # is its answers, sent from the CPU that received.
    before = guest.ethtool_stats()
    (TRACING / "trace").write_text("")
    (TRACING / "events/napi/napi_poll/enable").write_text("1\n")
    try:
        generate(rate=200, burst=8, seconds=1)
    finally:
        (TRACING / "events/napi/napi_poll/enable").write_text("0\n")
    d = guest.delta(guest.ethtool_stats(), before)
    q = per_queue(d)

    # RSS: each of the 4 flows (ports 1024 + N to 9) goes to the queue its Toeplitz
    # hash names in the default table; each tick of 8 frames carries 2 of each flow.
    table = [i % 2 for i in range(128)]
    on = [rss.queue(rss.toeplitz(rss.VERIFICATION_KEY,
                                 rss.flow_input(PEER_IP, "10.0.0.1", 1024 + n, 9)), table)
          for n in range(4)]
    assert d["udp_generated"] > 0 and d["udp_generated"] % 8 == 0
    assert q["rx_packets"] == [on.count(i) * d["udp_generated"] // 4 for i in (0, 1)]
    assert sum(q["rx_packets"]) == d["rx_packets"]
    # Each RX NAPI (the event names it by its address; TX polls report no work) polled
    # on one CPU, each on another.
    cpus: dict[str, set[int]] = {}
    for line in (TRACING / "trace").read_text().splitlines():
        m = re.search(r"\[(\d+)\].*napi_poll: napi poll on napi struct (\S+) for device vnet0 "
                      r"work (\d+)", line)
        if m and int(m[3]) > 0:
            cpus.setdefault(m[2], set()).add(int(m[1]))
    assert sorted(cpus.values(), key=min) == [{0}, {1}], cpus


def test_arp_stays_on_queue_zero(vnet: Path) -> None:
    two_queues_up()
    before = guest.ethtool_stats()
    generate(rate=200, burst=4, seconds=0.5)
    q = per_queue(guest.delta(guest.ethtool_stats(), before))
    assert q["rx_packets"][0] > 0
    assert q["rx_packets"][1] == 0


@needs_qstats
def test_qstats_per_queue_equal_ethtool_per_queue_and_the_base_keeps_history(vnet: Path) -> None:
    """Queue by queue, netlink's qstats equal ethtool -S's counters of that queue; the
    queues plus the base equal the device's counters; after -L 1, queue 1's history
    moves to the base and the sums stay exact."""
    two_queues_up()
    # A known key, under which the two flows hash to different queues (test_rss.py).
    guest.sh("ethtool", "-X", "vnet0", "hkey", rss.VERIFICATION_KEY.hex(":"))
    guest.set_knob("rx_proto", "udp4")
    guest.set_knob("rx_flows", 2)
    send_from(0, 50)
    send_from(1, 70)
    generate(rate=200, burst=8, seconds=0.5)
    # The stack's answers to the flows (ICMP) go out too; then nothing moves.
    guest.wait_until(guest.tx_idle, timeout=30, what="the TX rings to drain")

    def check(n: int) -> None:
        eth = guest.ethtool_stats()
        q = per_queue(eth)
        by_q = {(s["queue-type"], s["queue-id"]): s for s in qstats(scope="queue")}
        assert set(by_q) == {(t, i) for t in ("rx", "tx") for i in range(n)}
        for i in range(n):
            assert by_q["rx", i]["rx-packets"] == q["rx_packets"][i]
            assert by_q["rx", i]["rx-bytes"] == q["rx_bytes"][i]
            assert by_q["tx", i]["tx-packets"] == q["tx_packets"][i]
            assert by_q["tx", i]["tx-bytes"] == q["tx_bytes"][i]
        (dev,) = qstats()
        ip = guest.ip_stats()
        assert dev["rx-packets"] == eth["rx_packets"] == ip["rx"]["packets"] > 0
        assert dev["tx-packets"] == eth["tx_packets"] == ip["tx"]["packets"] >= 120
        assert dev["tx-bytes"] == eth["tx_bytes"] == ip["tx"]["bytes"]
        # Every queue's counters, running or not, and nothing else, make the device's:
        # ethtool -S lists both pairs always, qstats the running ones and the base.
        assert len(q["tx_packets"]) == 2
        assert sum(q["tx_packets"]) == eth["tx_packets"]
        assert sum(q["rx_packets"]) == eth["rx_packets"]
        assert min(q["rx_packets"]) > 0 and min(q["tx_packets"]) >= 50

    check(2)
    guest.sh("ethtool", "-L", "vnet0", "combined", "1")
    check(1)


@needs_queue_napi
def test_queue_get_lists_every_running_queue_with_its_own_napi(vnet: Path) -> None:
    two_queues_up()
    ids = {n["id"] for n in napis()}
    rx = {q["id"]: q.get("napi-id") for q in queues() if q["type"] == "rx"}
    assert sorted(rx) == [0, 1]
    # Each RX queue has a NAPI of its own, one the kernel lists for the device.
    assert len(set(rx.values())) == 2 and set(rx.values()) <= ids
    guest.sh("ethtool", "-L", "vnet0", "combined", "1")
    after = {q["id"]: q.get("napi-id") for q in queues() if q["type"] == "rx"}
    assert after == {0: rx[0]}


def test_more_queue_pairs_as_an_unprivileged_user(vnet: Path) -> None:
    """nobody in `unshare -Urn` makes a device of 8 pairs and runs all of them."""
    script = ("ip link add v0 numtxqueues 8 numrxqueues 8 type vnet\n"
              "ip link set v0 up\n"
              "ethtool -L v0 combined 8\n"
              "ethtool -L v0 combined 9 2>/dev/null && exit 3\n"
              "ethtool -l v0 | grep Combined\n"
              "ethtool -L v0 combined 3\n"
              "ethtool -l v0 | grep Combined\n")
    p = in_userns(script, timeout=120)
    assert p.returncode == 0, p.stderr
    # ethtool -l prints the maximum, then the current count.
    assert p.stdout.split() == ["Combined:", "8", "Combined:", "8", "Combined:", "8", "Combined:", "3"]


def test_a_bound_backend_serves_one_queue_pair(vnet: Path) -> None:
    """A /dev/vnet file carries one queue pair: while one is bound, ethtool -l's maximum
    is 1 and the core refuses more; a device running two pairs cannot be bound."""
    def channels() -> list[str]:
        return re.findall(r"Combined:\s+(\d+)", guest.sh("ethtool", "-l", "vnet0"))

    two_queues_up()
    with Backend.open() as be:
        with pytest.raises(OSError) as e:
            fcntl.ioctl(be.fileno(), VNET_BIND, pack_bind("vnet0"))
        assert e.value.errno == errno.EOPNOTSUPP
    guest.sh("ethtool", "-L", "vnet0", "combined", "1")
    with Backend.open() as be:
        be.bind("vnet0")
        assert channels() == ["1", "1"]
        p = subprocess.run(["ethtool", "-L", "vnet0", "combined", "2"], capture_output=True, text=True)
        assert p.returncode != 0 and sysfs_queues() == ["rx-0", "tx-0"]
    assert channels() == ["2", "1"]


def napi_threads(dev: str) -> int:
    """The kernel threads of DEV's threaded NAPIs (napi/DEV-ID), from ps."""
    comms = subprocess.run(["ps", "-e", "-o", "comm="], capture_output=True, text=True, check=True)
    return sum(c.startswith(f"napi/{dev}-") for c in comms.stdout.split())


def test_threaded_napi_turns_off_with_a_queue_idle_and_with_the_device_down(vnet: Path) -> None:
    """As an unprivileged user: threaded NAPI on and off on a device of two pairs with one
    running, across ethtool -L and down/up.  On 7.x turning it off waits for every NAPI of
    the device to be idle; a NAPI left registered but disabled (a queue that does not run,
    a device that is down) never is, and the write hung for good.  A queue's NAPIs live
    only while it runs, so a device that is down has none to make threaded."""
    script = ("mount -t sysfs none /sys\n"
              "T=/sys/class/net/v0/threaded\n"
              "ip link add v0 numtxqueues 2 numrxqueues 2 type vnet\n"
              "if echo 1 2>/dev/null > $T; then exit 3; fi\n"
              "ip link set v0 up\n"
              "echo 1 > $T; echo 0 > $T; echo 1 > $T\n"
              "ethtool -L v0 combined 2\n"
              "ethtool -L v0 combined 1\n"
              "echo 0 > $T\n"
              "ip link set v0 down; ip link set v0 up\n"
              "echo 1 > $T\n"
              "ip link set v0 down\n"
              "ip link set v0 up\n"
              "cat $T\n")
    p = in_userns(script, mount=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["1"]
    # As root, the threads: one per NAPI of the running pairs (an RX and a TX NAPI each).
    guest.quiet_link_up("vnet0")
    Path("/sys/class/net/vnet0/threaded").write_text("1\n")
    assert napi_threads("vnet0") == 2
    guest.sh("ethtool", "-L", "vnet0", "combined", "2")
    assert napi_threads("vnet0") == 4
    guest.sh("ethtool", "-L", "vnet0", "combined", "1")
    assert napi_threads("vnet0") == 2
    Path("/sys/class/net/vnet0/threaded").write_text("0\n")
    guest.sh("ip", "link", "set", "vnet0", "down")
    assert napi_threads("vnet0") == 0


# As an unprivileged user: threaded NAPI toggled while the device goes down and up and
# changes its queue count and rings (argv: seconds).  Prints how many toggles ran.
THREADED_RACE = """
mount -t sysfs none /sys
T=/sys/class/net/v0/threaded
ip link add v0 numtxqueues 4 numrxqueues 4 type vnet
ip link set v0 up
end=$(( $(date +%s) + $1 ))
while [ "$(date +%s)" -lt "$end" ]; do
    ip link set v0 down; ip link set v0 up
    ethtool -L v0 combined 4; ethtool -G v0 rx 64; ethtool -L v0 combined 1; ethtool -G v0 rx 256
done &
n=0
while [ "$(date +%s)" -lt "$end" ]; do
    echo 1 2>/dev/null > $T || true
    echo 0 2>/dev/null > $T || true
    n=$((n + 1))
done
wait
echo $n
"""


def test_threaded_napi_toggles_race_reconfiguration_without_a_hang(vnet: Path) -> None:
    """Each down/up, -L and -G lists NAPIs that are disabled for a moment.  On 7.x a
    write of 0 to `threaded` in that moment waited for them forever, with the netdev
    lock held, and the driver's next NAPI call waited for that lock with RTNL held:
    every network command on the machine hung.  The driver holds the lock itself
    across those moments (vnet_napi_lock())."""
    p = in_userns(f"set -- 6\n{THREADED_RACE}", mount=True, timeout=150)
    assert p.returncode == 0, p.stderr
    assert int(p.stdout.split()[-1]) > 10
