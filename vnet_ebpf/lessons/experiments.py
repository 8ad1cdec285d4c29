"""Each lesson's experiment and checker, run in the lab guest.

An experiment sets the driver's knobs, drives traffic and shows the real
tools' output; its checks then say, in numbers, what the lesson's README says
the learner will see.  The figures come from witnesses we did not write:
ethtool -S, ip -s link, /sys/class/net, tcpdump, the kernel's napi:napi_poll
tracepoint (bpftrace) and its netdev netlink family (ynl).  Everything stays
inside the guest: no check needs a network outside it.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from vnet_ebpf.lab import pktgen
from vnet_ebpf.lab import witnesses as w
from vnet_ebpf.lessons.session import SYS_NET, Session

Experiment = Callable[[Session], None]
EXPERIMENTS: dict[int, Experiment] = {}


def lesson(number: int) -> Callable[[Experiment], Experiment]:
    def register(fn: Experiment) -> Experiment:
        EXPERIMENTS[number] = fn
        return fn
    return register


def vnet_devices() -> list[str]:
    """The vnet devices of this namespace: those with the simulated NIC's knobs folder."""
    return sorted(p.name for p in SYS_NET.iterdir() if (p / "vnet").is_dir())


@contextlib.contextmanager
def capture(dev: str, bpf_filter: str = "") -> Iterator[list[str]]:
    """tcpdump on DEV while the block runs; the list fills with its lines (one a frame)."""
    lines: list[str] = []
    argv = ["tcpdump", "-l", "-n", "-e", "-i", dev, "--immediate-mode", *bpf_filter.split()]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    proc.stderr.readline()  # "listening on DEV ...": the capture is open
    try:
        yield lines
    finally:
        time.sleep(0.3)
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
        lines.extend(line for line in out.splitlines() if line.strip())


# ---- 1. the module and its log -------------------------------------------------

@lesson(1)
def module(s: Session) -> None:
    s.step("load the driver: two devices (numdevs=2), with its pr_debug lines on (dyndbg=+p)")
    log = w.kmsg_mark()
    s.load("numdevs=2", "dyndbg=+p")
    s.show("ip", "-br", "link", "show", "type", "vnet")
    made = vnet_devices()
    s.step("bring vnet0 up: vnet_open() says so at debug level")
    if "vnet0" in made:
        s.up("vnet0")
        s.show("grep", "vnet_main.c", "/sys/kernel/debug/dynamic_debug/control")
    else:
        s.say("there is no vnet0 to bring up: the module made no device")
    s.step("unload: module_exit deletes every device")
    s.unload()
    left = vnet_devices()
    lines = [line for line in log.read() if line.startswith("vnet")]
    log.close()
    s.say("the kernel log since the load:")
    s.interlude("\n".join(lines))
    g = s.grade
    g.equal("devices made at load with numdevs=2", ["vnet0", "vnet1"], made,
            "vnet_init() makes numdevs devices (vnet_create_one)")
    g.equal("'vnet: loaded, 2 device(s)' lines in the kernel log", 1,
            sum(line == "vnet: loaded, 2 device(s)" for line in lines),
            "a pr_info() at the end of vnet_init()")
    g.equal("pr_debug lines from vnet_open() with dyndbg=+p", 1,
            sum(line.startswith("vnet: vnet0: up, TX ring") for line in lines))
    g.equal("vnet devices left after rmmod", [], left)


# ---- 2. the net_device -----------------------------------------------------------

@lesson(2)
def net_device(s: Session) -> None:
    s.step("two devices made at load: look at their addresses and MTU limits")
    s.load("numdevs=2")
    s.show("ip", "-d", "link", "show", "vnet0")
    macs = [s.sysfs(f"{d}/address") for d in ("vnet0", "vnet1")]
    assign = s.sysfs("vnet0/addr_assign_type")
    s.say(f"addr_assign_type of vnet0: {assign} (0 permanent, 1 random, 3 set by a user)")
    s.show("ethtool", "-P", "vnet0")
    s.step("one more from ip link add: a random address, as veth gives")
    s.show("ip", "link", "add", "vnetr", "type", "vnet")
    rnd = s.sysfs("vnetr/address")
    rnd_assign = s.sysfs("vnetr/addr_assign_type")
    s.say(f"vnetr: {rnd}, addr_assign_type {rnd_assign}")
    s.step("jumbo frames: the MTU may go up to max_mtu, 9000")
    s.show("ip", "link", "set", "vnet0", "mtu", "9000", check=False)
    mtu = int(s.sysfs("vnet0/mtu"))
    s.show("ip", "link", "set", "vnet0", "mtu", "9001", check=False)
    s.step("up, then a new address while up (IFF_LIVE_ADDR_CHANGE); the permanent one stays")
    (Path("/proc/sys/net/ipv6/conf/vnet0/disable_ipv6")).write_text("1\n")
    up = subprocess.run(["ip", "link", "set", "vnet0", "up"], check=False).returncode
    live = subprocess.run(["ip", "link", "set", "vnet0", "address", "02:00:00:00:00:42"], check=False).returncode
    s.show("ip", "-br", "link", "show", "vnet0")
    perm = s.show("ethtool", "-P", "vnet0", check=False).strip().removeprefix("Permanent address: ")
    g = s.grade
    hint = "a permanent address from the device's number: vnet_set_permanent_addr() in vnet_create_one()"
    g.equal("vnet0's address (02, then 'vnet', then its number)", "02:76:6e:65:74:00", macs[0], hint)
    g.equal("vnet1's address", "02:76:6e:65:74:01", macs[1], hint)
    g.equal("addr_assign_type of vnet0 (0: permanent)", "0", assign, hint)
    rhint = "a random, locally administered address: eth_hw_addr_random() in vnet_setup()"
    g.equal("vnetr's MAC is unicast and locally administered (first octet & 3)", 2,
            int(rnd.split(":")[0], 16) & 3, rhint)
    g.equal("addr_assign_type of vnetr (1: random)", "1", rnd_assign, rhint)
    g.equal("vnet0's MTU after ip link set mtu 9000", 9000, mtu, "dev->max_mtu in vnet_setup()")
    g.equal("ip link set vnet0 up: exit status (a zero MAC is refused)", 0, up, hint)
    g.equal("address change while up: exit status of ip link", 0, live)
    g.equal("ethtool -P vnet0 after the change: the permanent address", "02:76:6e:65:74:00", perm, hint)
    s.unload()


# ---- 3. the TX ring ---------------------------------------------------------------

FRAMES = 3000


def pktgen_burst(dev: str, count: int) -> None:
    """COUNT frames of 60 bytes from pktgen, as fast as the driver takes them; returns
    once the TX ring has drained (the qdisc empty, no BQL bytes in flight)."""
    pktgen.setup(dev, count=count)
    pktgen.run()
    w.wait_until(lambda: w.tx_idle(dev), timeout=60, what="the TX ring to drain")


@lesson(3)
def tx_ring(s: Session) -> None:
    s.step("a small TX ring (64) whose frames take 2 ms to send; BQL out of the way")
    s.load()
    s.show("ethtool", "-G", "vnet0", "tx", "64")
    s.show("ethtool", "-C", "vnet0", "tx-usecs", "2000")
    s.up("vnet0")
    bql = SYS_NET / "vnet0/queues/tx-0/byte_queue_limits"
    print(f"   $ echo 1000000 > {bql}/limit_min", flush=True)
    (bql / "limit_min").write_text("1000000\n")
    before = s.ethtool()
    s.step(f"pktgen sends {FRAMES} frames as fast as the driver takes them")
    pktgen_burst("vnet0", FRAMES)
    d = s.delta(before)
    s.show("ethtool", "-S", "vnet0")
    g = s.grade
    g.equal("tx_packets: every frame pktgen sent", FRAMES, d["tx_packets"])
    g.equal("tx_busy: xmit never found the ring full", 0, d["tx_busy"],
            "stop the queue when the ring is full, before the next xmit (vnet_tx_maybe_stop)")
    g.at_least("tx_queue_stopped: the driver stopped the queue", 1, d["tx_queue_stopped"])
    g.equal("tx_queue_woken equals tx_queue_stopped (each stop undone once)",
            d["tx_queue_stopped"], d["tx_queue_woken"])
    g.equal("tx_completions: every descriptor was freed", FRAMES, d["tx_completions"])
    s.unload()


# ---- 4. deferred completion and BQL -------------------------------------------------

@lesson(4)
def bql(s: Session) -> None:
    s.step("the default ring (256); frames take 1 ms to complete; BQL as the kernel sets it")
    s.load()
    s.show("ethtool", "-C", "vnet0", "tx-usecs", "1000")
    s.up("vnet0")
    bql_dir = SYS_NET / "vnet0/queues/tx-0/byte_queue_limits"
    s.show("grep", ".", *(str(bql_dir / n) for n in ("limit", "limit_min", "limit_max", "inflight")))
    before = s.ethtool()
    s.step(f"pktgen sends {FRAMES} frames; BQL lets only limit bytes be in flight")
    pktgen_burst("vnet0", FRAMES)
    s.show("grep", ".", *(str(bql_dir / n) for n in ("limit", "inflight")))
    d = s.delta(before)
    limit = w.bql("vnet0", "limit")
    g = s.grade
    g.equal("tx_completions == tx_packets: each frame completed once", d["tx_packets"], d["tx_completions"])
    g.equal("tx_packets", FRAMES, d["tx_packets"])
    g.at_least("BQL limit after the run, bytes (it adapted from 0)", 60, limit,
               "report sent bytes at xmit (netdev_tx_sent_queue) and completed ones (netdev_tx_completed_queue)")
    g.equal("BQL inflight once the ring drained", 0, w.bql("vnet0", "inflight"))
    s.unload()


# ---- 5. the RX ring ------------------------------------------------------------------

@lesson(5)
def rx_ring(s: Session) -> None:
    s.step("an RX ring of 16 slots; the generator writes bursts of 64 ARP requests")
    s.load()
    s.show("ethtool", "-G", "vnet0", "rx", "16")
    s.up("vnet0")
    before = s.ethtool()
    s.step("10 interrupts a second for 2 s: each burst fills the ring, the rest is missed")
    s.generate(rate=640, burst=64, seconds=2)
    d = s.delta(before)
    link = s.link_stats()
    s.show("ip", "-s", "link", "show", "vnet0")
    g = s.grade
    bursts = d["rx_packets"] // 16
    g.at_least("rx_packets", 16, d["rx_packets"],
               "the RX interrupt must schedule NAPI (vnet_rx_timer_fn)")
    g.equal("rx_packets is 16 per burst (the ring's size)", 0, d["rx_packets"] % 16)
    g.equal("rx_ring_full: the 48 of each burst the ring had no slot for", 48 * bursts, d["rx_ring_full"])
    g.equal("ip -s link rx missed == rx_ring_full", d["rx_ring_full"], link["rx"].get("missed_errors",
            link["rx"].get("missed", -1)))
    g.equal("arp_generated == rx_packets: every frame written was received", d["arp_generated"], d["rx_packets"])
    s.unload()


# ---- 6. NAPI and its budget ------------------------------------------------------------

def napi_view(seconds: int) -> str:
    """`vnet-trace napi` for SECONDS one-second intervals, its output as text."""
    proc = subprocess.run(["vnet-trace", "napi", "-i", "vnet0", "1", str(seconds)],
                          capture_output=True, text=True, check=False)
    return proc.stdout + proc.stderr


@lesson(6)
def napi(s: Session) -> None:
    s.step("bursts of 8: each RX interrupt schedules one poll, which takes the 8 frames")
    s.load()
    s.up("vnet0")
    with w.NapiWitness() as small:
        s.generate(rate=80, burst=8, seconds=2)
        work8, over8 = small.stop()
    s.say(f"napi:napi_poll (bpftrace): polls by work {dict(sorted(work8.items()))}")
    s.step("bursts of 200 against a budget of 64: polls of 64, 64, 64, then 8")
    before = s.ethtool()
    with w.NapiWitness() as big:
        s.generate(rate=400, burst=200, seconds=2)
        work200, over200 = big.stop()
    d = s.delta(before)
    s.say(f"napi:napi_poll (bpftrace): polls by work {dict(sorted(work200.items()))}, budget {big.budget}")
    s.step("the same, seen by vnet-trace napi")
    s.knob("rx_burst", 200)
    s.knob("rx_rate", 400)
    s.interlude(napi_view(2))
    s.knob("rx_rate", 0)
    g = s.grade
    busy8 = {k: v for k, v in work8.items() if k > 0}
    g.equal("bursts of 8: the work of every poll that found frames", [8], sorted(busy8))
    g.equal("no poll did more work than its budget", 0, over8 + over200,
            "stop at the budget: the core polls again (vnet_napi_poll)")
    g.equal("the budget NAPI gave the poll", 64, big.budget)
    g.at_least("bursts of 200: polls that used the whole budget", 3, work200.get(64, 0))
    g.equal("napi_budget_exhausted (ethtool) == polls of work 64 (napi:napi_poll)",
            work200.get(64, 0), d["napi_budget_exhausted"])
    g.equal("frames polled (napi:napi_poll) == rx_packets", d["rx_packets"],
            sum(k * v for k, v in work200.items() if k > 0))
    s.unload()


# ---- 7. statistics -------------------------------------------------------------------

@lesson(7)
def stats(s: Session) -> None:
    s.step("traffic both ways: 40 ARP requests in, 40 replies and 500 pktgen frames out")
    s.load()
    s.up("vnet0", "10.0.0.1/24")
    s.generate(rate=20, burst=1, seconds=2)
    pktgen_burst("vnet0", 500)
    eth = s.ethtool()
    s.show("ip", "-s", "link", "show", "vnet0")
    s.show("ethtool", "-S", "vnet0")
    link = s.link_stats()
    g = s.grade
    hint = "fill rtnl_link_stats64 from the driver's counters (vnet_get_stats64)"
    # ethtool -S reads its first counters through the same function: the generator's
    # own count is the witness that does not.
    g.equal("ip -s link rx packets == arp_generated (every generated frame arrived)",
            eth["arp_generated"], link["rx"]["packets"], hint)
    for way in ("rx", "tx"):
        for what in ("packets", "bytes"):
            g.equal(f"ip -s link {way} {what} == ethtool {way}_{what}", eth[f"{way}_{what}"],
                    link[way][what], hint)
            g.equal(f"/sys/class/net/vnet0/statistics/{way}_{what} == ethtool",
                    eth[f"{way}_{what}"], int(s.sysfs(f"vnet0/statistics/{way}_{what}")), hint)
    if not w.kernel_at_least(6, 10):
        s.say("netlink qstats: this kernel has no qstats-get (6.10+)")
        return
    s.step("the kernel's netlink CLI (ynl) asks for the queue statistics")
    ifindex = int(s.sysfs("vnet0/ifindex"))
    q = w.ynl("netdev", "qstats-get", {"ifindex": ifindex}, dump=True)
    print("     " + json.dumps(q))
    (mine,) = [x for x in q if x.get("ifindex") == ifindex]
    g.equal("qstats tx-packets == ethtool tx_packets", eth["tx_packets"], mine.get("tx-packets"))
    g.equal("qstats rx-packets == ethtool rx_packets", eth["rx_packets"], mine.get("rx-packets"))
    s.unload()


# ---- 8. ARP frames -------------------------------------------------------------------

@lesson(8)
def arp(s: Session) -> None:
    s.step("vnet0 at 10.0.0.1; the generator asks 'who has 10.0.0.1? tell 10.0.0.2', 10 a second")
    s.load()
    s.up("vnet0", "10.0.0.1/24")
    peer_mac = s.sysfs("vnet0/vnet/peer_mac")
    before = s.ethtool()
    with capture("vnet0", "arp") as frames:
        s.generate(rate=10, burst=1, seconds=2)
    d = s.delta(before)
    s.interlude("\n".join(frames[:4]))
    requests = [f for f in frames if "Request who-has 10.0.0.1 tell 10.0.0.2" in f]
    replies = [f for f in frames if "Reply 10.0.0.1 is-at" in f]
    s.show("ip", "neigh", "show", "dev", "vnet0")
    neigh = subprocess.run(["ip", "-j", "neigh", "show", "dev", "vnet0", "10.0.0.2"],
                           capture_output=True, text=True, check=False).stdout
    lladdr = (json.loads(neigh or "[]") or [{}])[0].get("lladdr")
    g = s.grade
    hint = "an ARP request: ar_op ARPOP_REQUEST, the sender's MAC and IP (vnet_build_arp)"
    g.at_least("arp_generated", 10, d["arp_generated"])
    g.equal("tcpdump: requests who-has 10.0.0.1 tell 10.0.0.2 == arp_generated", d["arp_generated"],
            len(requests), hint)
    g.equal("tcpdump: the stack's replies == requests", len(requests), len(replies), hint)
    g.equal("tx_arp (ethtool) == replies seen", len(replies), d["tx_arp"])
    g.equal("the neighbour table learnt the peer's MAC", peer_mac, lladdr, hint)
    s.unload()


# ---- 9. XDP -------------------------------------------------------------------------

@lesson(9)
def xdp(s: Session) -> None:
    from vnet_ebpf.lessons import xdp_asm

    s.step("an XDP program of 10 instructions that drops ARP frames, attached in native mode")
    s.load()
    s.up("vnet0")
    s.interlude(xdp_asm.DROP_ARP_LISTING)
    with xdp_asm.attached("vnet0", xdp_asm.DROP_ARP):
        s.show("ip", "-d", "link", "show", "vnet0")
        before = s.ethtool()
        with capture("vnet0", "arp") as frames:
            s.generate(rate=100, burst=10, seconds=2)
        d = s.delta(before)
    s.show("ethtool", "-S", "vnet0")
    g = s.grade
    hint = "XDP_DROP: count it and leave the page in the slot (vnet_xdp_run)"
    g.at_least("arp_generated", 100, d["arp_generated"])
    g.equal("xdp_drop == arp_generated: every frame dropped", d["arp_generated"], d["xdp_drop"], hint)
    g.equal("tcpdump saw none of them (XDP runs before the stack's taps)", 0, len(frames), hint)
    g.equal("rx_packets counts them all the same (if_link.h)", d["arp_generated"], d["rx_packets"])
    g.equal("xdp_pass", 0, d["xdp_pass"], hint)
    s.unload()


# ---- 10. page_pool ---------------------------------------------------------------------

@lesson(10)
def page_pool(s: Session) -> None:
    s.step("vnet0 up: its RX ring's page pool, as the kernel's netlink CLI (ynl) reports it")
    s.load()
    s.up("vnet0")
    ifindex = int(s.sysfs("vnet0/ifindex"))
    if not w.kernel_at_least(6, 8):
        s.say("page-pool-get needs 6.8+: this kernel only shows the counters")
    pools = [p for p in (w.ynl("netdev", "page-pool-get", dump=True) or []) if p.get("ifindex") == ifindex]
    print("     " + json.dumps(pools))
    napis = w.ynl("netdev", "napi-get", {"ifindex": ifindex}, dump=True) or []
    rx_napi = [q.get("napi-id") for q in (w.ynl("netdev", "queue-get", {"ifindex": ifindex}, dump=True) or [])
               if q.get("type") == "rx"]
    s.say(f"NAPI instances of vnet0: {[n.get('id') for n in napis]}; RX queue 0's: {rx_napi}")
    s.step("2,000 frames through the ring: each page comes back to the pool")
    before = s.ethtool()
    stats_before = pool_stats(ifindex)
    s.generate(rate=1000, burst=16, seconds=2)
    d = s.delta(before)
    stats_after = pool_stats(ifindex)
    recycled = None
    if stats_before is not None and stats_after is not None:
        recycled = sum(stats_after.get(k, 0) - stats_before.get(k, 0) for k in ("recycle-cached", "recycle-ring"))
        s.say(f"recycled {recycled} pages for {d['rx_packets']} frames")
    else:
        s.say("this kernel has no page pool statistics (CONFIG_PAGE_POOL_STATS): the recycling is not shown")
    g = s.grade
    hint = "bind the pool to the device and its RX NAPI (vnet_pp_params_bind in vnet_rx_pool_create)"
    g.equal("page pools of vnet0 (ynl page-pool-get)", 1, len(pools), hint)
    g.equal("the pool's NAPI is the RX queue's", rx_napi, [p.get("napi-id") for p in pools], hint)
    g.equal("pages out of the pool while idle == RX ring slots (256)", [256],
            [p.get("inflight") for p in pools], hint)
    if recycled is not None:
        g.equal("pages recycled == frames received (page-pool-stats-get)", d["rx_packets"], recycled, hint)
    s.unload()


def pool_stats(ifindex: int) -> dict[str, int] | None:
    """vnet0's page pool statistics, summed over its pools; None on a kernel without
    them (CONFIG_PAGE_POOL_STATS, which Debian leaves off)."""
    if not w.kernel_config("CONFIG_PAGE_POOL_STATS"):
        return None
    proc = w.ynl("netdev", "page-pool-stats-get", dump=True, check=False)
    if proc.returncode != 0:
        return None
    total: dict[str, int] = {}
    for row in json.loads(proc.stdout or "[]"):
        if row.get("info", {}).get("ifindex") == ifindex:
            for k, v in row.items():
                if isinstance(v, int):
                    total[k] = total.get(k, 0) + v
    return total


# ---- 11. the userspace backend and the wire --------------------------------------------

@lesson(11)
def backend(s: Session) -> None:
    from vnet_ebpf.lab.demo import WIRE_A, WIRE_B, place

    s.step("vnet0 in namespace wire-a, vnet1 in wire-b, joined by vnet-wire through /dev/vnet")
    s.load("numdevs=2")
    for ns, dev, ip in (WIRE_A, WIRE_B):
        place(ns, dev, ip)
    wire = subprocess.Popen(["vnet-wire", f"{WIRE_A[0]}/{WIRE_A[1]}", f"{WIRE_B[0]}/{WIRE_B[1]}", "--json"],
                            stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(1.5)  # bound
        s.say(f"hw of vnet0 now: {netns_read(WIRE_A[0], 'vnet0/vnet/hw')}")
        s.step("10 pings from a to b")
        ping = s.show("ip", "netns", "exec", WIRE_A[0], "ping", "-c", "10", "-i", "0.2", "-W", "2", WIRE_B[2],
                      check=False)
    finally:
        wire.send_signal(2)
        out, _ = wire.communicate(timeout=30)
    a, b = (w.ethtool_stats(dev, ns) for ns, dev, _ in (WIRE_A, WIRE_B))
    for ns, _, _ in (WIRE_A, WIRE_B):
        subprocess.run(["ip", "netns", "del", ns], check=False)
    report = json.loads(out) if out.strip() else {}
    s.say(f"vnet-wire --json: {json.dumps(report)}")
    received = next((int(x.split()[0]) for x in ping.split(",") if "received" in x), 0)
    g = s.grade
    hint = "after writing a frame into the RX ring, raise the RX interrupt (vnet_be_put)"
    g.equal("ping replies", 10, received, hint)
    g.equal("vnet1 rx_packets == backend_rx_written (every frame written was received)",
            b["backend_rx_written"], b["rx_packets"], hint)
    g.equal("vnet0 rx_packets == backend_rx_written", a["backend_rx_written"], a["rx_packets"], hint)
    g.equal("vnet0 tx_packets == backend_tx_read (each frame read once, then completed)",
            a["backend_tx_read"], a["tx_packets"])
    s.unload()


def netns_read(ns: str, path: str) -> str:
    return subprocess.run(["ip", "netns", "exec", ns, "cat", str(SYS_NET / path)],
                          capture_output=True, text=True, check=False).stdout.strip()


# ---- 12. queue pairs and RSS -------------------------------------------------------

#: The generator's flows: from the peer (rx_proto udp4), source port 1024 + N, to port 9.
RSS_FLOWS = 16


def rss_prediction(key: bytes, table: list[int], queues: int) -> list[int]:
    """How many of the RSS_FLOWS flows each of QUEUES RX queues gets, by the Toeplitz
    hash computed here (vnet_ebpf.rss, from its definition) over each flow's addresses
    and ports, looked up in TABLE as the NIC does."""
    from vnet_ebpf import rss

    on = [rss.queue(rss.toeplitz(key, rss.flow_input("10.0.0.2", "10.0.0.1", 1024 + n, 9)), table)
          for n in range(RSS_FLOWS)]
    return [on.count(q) for q in range(queues)]


@lesson(12)
def queues_rss(s: Session) -> None:
    from vnet_ebpf import rss

    s.step("a device of 4 queue pairs (queues=4); one runs at first, as ethtool -l shows")
    s.load("queues=4")
    s.up("vnet0", "10.0.0.1/24")
    s.show("ethtool", "-l", "vnet0")
    s.step("ethtool -L vnet0 combined 4: four queue pairs, each RX queue with its own NAPI and CPU")
    s.show("ethtool", "-L", "vnet0", "combined", "4")
    s.say("queues in sysfs: " + " ".join(sorted(p.name for p in (SYS_NET / "vnet0/queues").iterdir())))
    s.step("the RSS key set to the datasheets' verification key; the table as the driver spread it")
    s.show("ethtool", "-X", "vnet0", "hkey", rss.VERIFICATION_KEY.hex(":"))
    s.show("ethtool", "-x", "vnet0")
    results = []
    for weights in (None, ["3", "1", "0", "0"]):
        if weights:
            s.step(f"ethtool -X vnet0 weight {' '.join(weights)}: a table of queues 0 and 1 only, 3 to 1")
            s.show("ethtool", "-X", "vnet0", "weight", *weights)
        table, key = w.rss_table("vnet0"), w.rss_key("vnet0")
        s.step(f"{RSS_FLOWS} UDP flows from the generator, 16 frames a tick: one of each flow")
        s.knob("rx_proto", "udp4")
        s.knob("rx_flows", RSS_FLOWS)
        before = s.ethtool()
        s.generate(rate=320, burst=16, seconds=1)
        d = s.delta(before)
        got = [d[f"rx{q}_packets"] for q in range(4)]
        flows = rss_prediction(key, table, 4)
        # Every tick carries each flow once: a queue's frames are its flows' share.
        want = [n * d["udp_generated"] // RSS_FLOWS for n in flows]
        s.say(f"flows per queue by Toeplitz: {flows}; frames per queue (ethtool -S rxN_packets): {got}")
        results.append((weights, want, got, d))
    g = s.grade
    hint = "steer each frame by the indirection table: entry hash % size (vnet_rss_steer)"
    for weights, want, got, d in results:
        which = "the default table" if weights is None else f"weight {' '.join(weights)}"
        g.at_least(f"frames generated ({which})", 16, d["udp_generated"])
        g.equal(f"frames on each RX queue == Toeplitz's prediction ({which})", want, got, hint)
    g.equal("queues that carried frames with the default table", 4, sum(1 for n in results[0][2] if n), hint)
    s.unload()

