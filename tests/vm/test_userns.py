"""vnet devices made every way a user can: module load, `ip link add` with each queue-count
attribute, as root and as an unprivileged user in a user namespace (`unshare -Urn`, which
Debian allows any local user).  Each way is either refused in one line, with the driver's
own reason, or gives a device that works under traffic from both CPUs; the splat gate
watches every test.  The witnesses: ip's exit status and message (the kernel's extack),
/sys/class/net/DEV/queues, ethtool -S, ip -s link and tc's qdisc counters."""

from __future__ import annotations

import json
import os
import re
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from tests.vm import guest

#: Any local user: nobody, with no capability outside the namespaces it makes.
AS_NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
#: The bounds of the generator of a device in such a namespace (kmod/vnet_sim.c).
RATE_BOUND, BURST_BOUND = 1000, 64

#: (ip link add attributes, the line the kernel's extack gives, or None: accepted)
QUEUE_COUNTS: list[tuple[list[str], str | None]] = [
    ([], None),
    (["numtxqueues", "1", "numrxqueues", "1"], None),
    (["numtxqueues", "8", "numrxqueues", "8"], None),
    # A count not given is the module's default (queues=2): the pairs must match.
    (["numtxqueues", "4"], "vnet has queue pairs: numtxqueues must equal numrxqueues"),
    (["numrxqueues", "4"], "vnet has queue pairs: numtxqueues must equal numrxqueues"),
    (["numtxqueues", "2", "numrxqueues", "1"], "vnet has queue pairs: numtxqueues must equal numrxqueues"),
    (["numtxqueues", "9", "numrxqueues", "9"], "vnet has at most 8 TX queues"),
    (["numtxqueues", "1", "numrxqueues", "64"], "vnet has at most 8 RX queues"),
    (["numtxqueues", "0", "numrxqueues", "0"], "vnet needs at least one queue pair"),
    (["numtxqueues", "4096"], "vnet has at most 8 TX queues"),
]


def in_userns(script: str, *, mount: bool = False, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """SCRIPT (sh) as nobody, root of a new user and network namespace (and mount
    namespace with MOUNT, to mount that netns's sysfs)."""
    flags = "-Urnm" if mount else "-Urn"
    return subprocess.run([*AS_NOBODY, "unshare", flags, "sh", "-ec", script],
                          capture_output=True, text=True, timeout=timeout)


def queue_dirs(sysfs: str = "/sys", dev: str = "v1") -> list[str]:
    return sorted(p.name for p in Path(f"{sysfs}/class/net/{dev}/queues").iterdir())


@pytest.mark.smoke
def test_module_load_runs_one_queue_pair_per_device(vnet: Path) -> None:
    guest.unload()
    guest.load("numdevs=3")
    for dev in ("vnet0", "vnet1", "vnet2"):
        assert sorted(p.name for p in Path(f"/sys/class/net/{dev}/queues").iterdir()) == ["rx-0", "tx-0"]


@pytest.mark.smoke
def test_queue_counts_as_root(vnet: Path) -> None:
    for attrs, refused in QUEUE_COUNTS:
        p = subprocess.run(["ip", "link", "add", "v1", *attrs, "type", "vnet"], capture_output=True, text=True)
        if refused is None:
            assert p.returncode == 0, (attrs, p.stderr)
            assert queue_dirs() == ["rx-0", "tx-0"], attrs
            guest.sh("ip", "link", "del", "v1")
        else:
            # One line, the driver's reason, ip's status for a refused request (2).
            assert (p.returncode, p.stderr.strip().splitlines()) == (2, [f"Error: {refused}."]), (attrs, p.stderr)
            assert not Path("/sys/class/net/v1").exists(), attrs


@pytest.mark.smoke
def test_queue_counts_as_an_unprivileged_user(vnet: Path) -> None:
    """The issue's reproduction, and every other count, from `unshare -Urn` as nobody."""
    script = []
    for i, (attrs, _) in enumerate(QUEUE_COUNTS):
        script.append(f"if ip link add v{i} {' '.join(attrs)} type vnet 2>/tmp/err; then "
                      f"echo \"$(ls /sys/class/net/v{i}/queues | tr '\\n' ' ')\"; "
                      f"else echo \"refused $? $(cat /tmp/err)\"; fi")
    # The namespace's own sysfs shows its devices' queues.
    p = in_userns("mount -t sysfs sysfs /sys\n" + "\n".join(script), mount=True)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.strip().splitlines()
    assert len(lines) == len(QUEUE_COUNTS)
    for line, (attrs, refused) in zip(lines, QUEUE_COUNTS, strict=True):
        if refused is None:
            assert line.split() == ["rx-0", "tx-0"], (attrs, line)
        else:
            assert line == f"refused 2 Error: {refused}.", (attrs, line)


UDP_SENDERS = """
import os, socket, sys
cpu, count, dst = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
os.sched_setaffinity(0, {cpu})
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(count):
    s.sendto(bytes(100), (dst, 9000 + i % 16))
"""


def traffic_script(count: int) -> str:
    """sh that brings v1 up quietly and runs 8 UDP senders of COUNT datagrams, 4 pinned
    to each CPU, then prints v1's counters as ethtool -S, ip -s -j and tc -s -j see them."""
    ncpu = os.cpu_count() or 1
    senders = " ".join(f"python3 -c \"$PY\" {i % ncpu} {count} 10.7.0.2 &" for i in range(8))
    return textwrap.dedent(f"""\
        PY='{UDP_SENDERS}'
        echo 1 >/proc/sys/net/ipv6/conf/v1/disable_ipv6
        ip link set v1 up
        ip addr add 10.7.0.1/24 dev v1
        ip neigh add 10.7.0.2 lladdr 02:00:00:00:00:09 dev v1 nud permanent
        {senders}
        wait
        sleep 1
        echo ETHTOOL; ethtool -S v1
        echo IP; ip -s -j link show v1
        echo TC; tc -s -j qdisc show dev v1
        echo END
        """)


def check_counts(out: str, sent: int) -> None:
    """Every datagram is a frame sent, or one the qdisc dropped: exactly, by three witnesses."""
    ethtool_part = out.split("ETHTOOL\n", 1)[1].split("IP\n", 1)[0]
    stats = {k.strip(): int(v) for k, _, v in (line.partition(":") for line in ethtool_part.splitlines()[1:])}
    (link,) = json.loads(out.split("IP\n", 1)[1].split("TC\n", 1)[0])
    qdiscs = json.loads(out.split("TC\n", 1)[1].split("END\n", 1)[0])
    qdisc_drops = sum(int(q.get("drops", 0)) for q in qdiscs if q.get("root"))
    assert stats["tx_packets"] == link["stats64"]["tx"]["packets"]
    assert stats["tx_packets"] + qdisc_drops == sent, (stats["tx_packets"], qdisc_drops, sent)
    assert stats["tx_ipv4"] == sent - qdisc_drops and stats["tx_dropped"] == stats["tx_busy"] == 0
    assert stats["tx_packets"] > sent // 2


@pytest.mark.smoke
def test_an_unprivileged_users_device_works_under_traffic_from_both_cpus(vnet: Path) -> None:
    count = 2000
    p = in_userns("ip link add v1 numtxqueues 1 numrxqueues 1 type vnet\n" + traffic_script(count))
    assert p.returncode == 0, p.stderr
    check_counts(p.stdout, 8 * count)


def test_roots_device_works_under_traffic_from_both_cpus(vnet: Path) -> None:
    count = 2000
    guest.sh("ip", "netns", "add", "vnetq")
    try:
        guest.sh("ip", "-n", "vnetq", "link", "add", "v1", "numtxqueues", "1", "numrxqueues", "1",
                 "type", "vnet")
        p = subprocess.run(["ip", "netns", "exec", "vnetq", "sh", "-ec", traffic_script(count)],
                           capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stderr
        check_counts(p.stdout, 8 * count)
    finally:
        guest.sh("ip", "netns", "del", "vnetq")


@pytest.mark.smoke
def test_the_generator_of_an_unprivileged_users_device_is_bounded(vnet: Path) -> None:
    """The knobs refuse what is past the bound (EPERM), take what is within it, and the
    frames generated in a measured time stay within rate x time + one burst.  Root's
    module default (10,000,000/s) is not inherited past the bound either."""
    guest.set_param("rx_rate", 10_000_000)
    guest.set_param("rx_burst", 256)
    try:
        p = in_userns(textwrap.dedent(f"""\
            mount -t sysfs sysfs /sys
            ip link add v1 type vnet
            K=/sys/class/net/v1/vnet
            echo "inherited $(cat $K/rx_rate) $(cat $K/rx_burst)"
            for v in 10000000 {RATE_BOUND + 1}; do
                if echo $v >$K/rx_rate 2>/dev/null; then echo "rate $v taken"; else echo "rate $v refused"; fi
            done
            for v in 256 {BURST_BOUND + 1}; do
                if echo $v >$K/rx_burst 2>/dev/null; then echo "burst $v taken"; else echo "burst $v refused"; fi
            done
            echo {RATE_BOUND} >$K/rx_rate; echo {BURST_BOUND} >$K/rx_burst
            echo "set $(cat $K/rx_rate) $(cat $K/rx_burst)"
            echo 1 >/proc/sys/net/ipv6/conf/v1/disable_ipv6
            ip link set v1 up
            sleep 1
            a=$(ethtool -S v1 | awk '/ arp_generated:/ {{print $2}}'); t0=$(date +%s.%N)
            sleep 5
            b=$(ethtool -S v1 | awk '/ arp_generated:/ {{print $2}}'); t1=$(date +%s.%N)
            echo "generated $((b - a)) $t0 $t1"
            """), mount=True)
    finally:
        guest.set_param("rx_rate", 0)
        guest.set_param("rx_burst", 1)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.strip().splitlines()
    assert lines[:6] == [f"inherited {RATE_BOUND} {BURST_BOUND}",
                         "rate 10000000 refused", f"rate {RATE_BOUND + 1} refused",
                         "burst 256 refused", f"burst {BURST_BOUND + 1} refused",
                         f"set {RATE_BOUND} {BURST_BOUND}"], lines
    _, generated, t0, t1 = lines[6].split()
    seconds = float(t1) - float(t0)
    assert 0 < int(generated) <= RATE_BOUND * seconds + BURST_BOUND, lines[6]


def test_a_users_flows_are_standard_frames_at_most(vnet: Path) -> None:
    """In a user's namespace rx_size takes at most 1514 (a jumbo frame costs the softirq
    more than the frame budget counts), imix included; UDP flows at the bound arrive, each
    1514 bytes, under the same frame bound."""
    p = in_userns(textwrap.dedent(f"""\
        mount -t sysfs sysfs /sys
        ip link add v1 type vnet
        K=/sys/class/net/v1/vnet
        for v in 1515 9014; do
            if echo $v >$K/rx_size 2>/dev/null; then echo "size $v taken"; else echo "size $v refused"; fi
        done
        echo imix >$K/rx_size; echo "size $(cat $K/rx_size)"
        echo udp4 >$K/rx_proto; echo 1514 >$K/rx_size; echo 4 >$K/rx_flows
        echo {RATE_BOUND} >$K/rx_rate; echo {BURST_BOUND} >$K/rx_burst
        echo 1 >/proc/sys/net/ipv6/conf/v1/disable_ipv6
        ip link set v1 up
        sleep 3
        ip link set v1 down
        ethtool -S v1 | awk '/ (udp_generated|rx_packets|rx_bytes):/ {{print $1, $2}}'
        """), mount=True)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.strip().splitlines()
    assert lines[:3] == ["size 1515 refused", "size 9014 refused", "size imix"], lines
    stats = {k.rstrip(":"): int(v) for k, v in (line.split() for line in lines[3:])}
    assert 0 < stats["udp_generated"] == stats["rx_packets"] <= RATE_BOUND * 4 + BURST_BOUND, stats
    assert stats["rx_bytes"] == 1514 * stats["rx_packets"], stats


def test_the_bound_is_for_all_of_a_users_devices_together(vnet: Path) -> None:
    """Four devices at the bound each would make 4,000 frames a second; all the bounded
    devices on the machine share one budget of RATE_BOUND a second (kmod/vnet_sim.c)."""
    p = in_userns(textwrap.dedent(f"""\
        mount -t sysfs sysfs /sys
        for i in 1 2 3 4; do
            ip link add v$i type vnet
            echo {RATE_BOUND} >/sys/class/net/v$i/vnet/rx_rate; echo {BURST_BOUND} >/sys/class/net/v$i/vnet/rx_burst
            echo 1 >/proc/sys/net/ipv6/conf/v$i/disable_ipv6
            ip link set v$i up
        done
        total() {{ for i in 1 2 3 4; do ethtool -S v$i | awk '/ arp_generated:/ {{print $2}}'; done |
            awk '{{s += $1}} END {{print s}}'; }}
        sleep 1
        a=$(total); t0=$(date +%s.%N)
        sleep 4
        b=$(total); t1=$(date +%s.%N)
        echo "generated $((b - a)) $t0 $t1"
        """), mount=True)
    assert p.returncode == 0, p.stderr
    _, generated, t0, t1 = p.stdout.split()
    seconds = float(t1) - float(t0)
    # The budget is per second from the first grant: a measured time spans at most
    # seconds + 1 of them.
    assert RATE_BOUND <= int(generated) <= RATE_BOUND * (seconds + 1), p.stdout


#: The generator's timer expiries (the kernel's own timer tracepoint).
GEN_TICKS_BT = r"""
tracepoint:timer:hrtimer_expire_entry /(uint64)args->function == FUNC/ { @ticks = count(); }
"""


def test_a_spent_budget_also_stops_the_ticks(vnet: Path) -> None:
    """Four devices at the bound in bursts of 1 would tick 4,000 times a second; once
    their shared budget is spent each timer sleeps until it refills, so the ticks stay
    near the 1,000 frames a second the budget allows (the timer tracepoint counts them)."""
    script = textwrap.dedent(f"""\
        mount -t sysfs sysfs /sys
        for i in 1 2 3 4; do
            ip link add v$i type vnet
            echo {RATE_BOUND} >/sys/class/net/v$i/vnet/rx_rate; echo 1 >/sys/class/net/v$i/vnet/rx_burst
            echo 1 >/proc/sys/net/ipv6/conf/v$i/disable_ipv6
            ip link set v$i up
        done
        echo up
        sleep 8
        """)
    proc = subprocess.Popen([*AS_NOBODY, "unshare", "-Urnm", "sh", "-ec", script], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "up\n", proc.stderr
        time.sleep(1)
        program = GEN_TICKS_BT.replace("FUNC", str(guest.ksym("vnet_rx_timer_fn")))
        with guest.BpftraceWitness(program, ("@ticks",)) as ticks:
            t0 = time.monotonic()
            time.sleep(3)
            out = ticks.finish()
            seconds = time.monotonic() - t0
    finally:
        proc.wait(timeout=60)
    m = re.search(r"@ticks: (\d+)", out)
    assert m, out
    # 1,000 frames, 4 waits per device and vnet0's idle ticks (20) a second, with room.
    assert int(m.group(1)) <= 1500 * seconds, (m.group(1), seconds)


def test_roots_generator_is_not_bounded(vnet: Path) -> None:
    """Root's devices (the initial user namespace's, also in a netns root made) keep the
    whole range: the bound is for devices any user can make."""
    guest.set_knob("rx_rate", 10_000_000)
    guest.set_knob("rx_burst", 1024)
    assert (guest.get_knob("rx_rate"), guest.get_knob("rx_burst")) == ("10000000", "1024")
    guest.set_knob("rx_rate", 0)
    guest.sh("ip", "netns", "add", "vnetg")
    try:
        guest.sh("ip", "-n", "vnetg", "link", "add", "v1", "type", "vnet")
        guest.sh("ip", "netns", "exec", "vnetg", "sh", "-c", "echo 5000 >/sys/class/net/v1/vnet/rx_rate")
        out = guest.sh("ip", "netns", "exec", "vnetg", "cat", "/sys/class/net/v1/vnet/rx_rate")
        assert out.strip() == "5000"
    finally:
        guest.sh("ip", "netns", "del", "vnetg")
    time.sleep(0.5)


def test_a_users_self_test_loops_and_passes(vnet: Path) -> None:
    """ethtool -t on a device a user made in their namespace: the loopback runs (with the
    shorter wait of such a device, kmod/vnet_selftest.c) and passes."""
    p = in_userns(textwrap.dedent("""\
        ip link add v1 type vnet
        echo 1 >/proc/sys/net/ipv6/conf/v1/disable_ipv6
        ip link set v1 up
        for i in 1 2 3; do ethtool -t v1 | grep -c "^loopback (offline)\\s*0$" || true; done
        ethtool -S v1 | awk '/ (tx_other|rx_other):/ {print $1, $2}'
        """))
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["1", "1", "1", "tx_other:", "48", "rx_other:", "48"], p.stdout
