"""Pure arithmetic on what the probes read: deltas, rates, histograms, percentiles.

The probes layer hands over cumulative :class:`Snapshot`s; two of them make an
interval.  Nothing here imports BCC or touches the kernel, so all of it is
unit-tested on the host.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

#: Counter names, in the order of the enum in bpf/vnet_trace.bpf.c.
COUNTERS = (
    "xmit", "tx_arp", "tx_ipv4", "tx_ipv6", "tx_other", "tx_fills",
    "polls", "poll_packets", "poll_exhausted", "poll_over_budget", "poll_ns",
    "txc_runs", "txc_freed",
    "arp_events", "arp_lost",
)


@dataclass(frozen=True)
class ProgStat:
    """The kernel's run-time statistics of one BPF program (kernel.bpf_stats_enabled)."""

    run_cnt: int = 0
    run_time_ns: int = 0
    id: int = 0  # the kernel's program id (bpftool prog show id ID)


@dataclass(frozen=True)
class QueueSeen:
    """One queue pair: what the probes counted on it (cumulative in a Snapshot, the
    interval's in an Interval), its rings as last sampled, and BQL's state (sysfs)."""

    id: int
    xmits: int = 0
    polls: int = 0
    packets: int = 0  # taken by its RX polls
    tx_now: int = 0
    tx_max: int = 0  # since the previous read
    tx_size: int = 0
    rx_now: int = 0
    rx_max: int = 0
    rx_size: int = 0
    bql_inflight: int = 0
    bql_limit: int = 0
    running: bool = True  # a Snapshot keeps every queue's counts, running or not

    @property
    def work_mean(self) -> float:
        return mean(self.packets, self.polls)


@dataclass(frozen=True)
class Snapshot:
    """Cumulative state read at one instant (histograms and counters since attach)."""

    t: float
    counters: Mapping[str, int]
    wall: float = 0.0  # time.time() at t: what NDJSON's ts says
    polls_per_cpu: Sequence[int] = ()
    packets_per_cpu: Sequence[int] = ()
    work_hist: Sequence[int] = ()
    poll_ns_hist: Sequence[int] = ()
    tx_hist: Sequence[int] = ()
    rx_hist: Sequence[int] = ()
    freed_hist: Sequence[int] = ()
    tx_now: int = 0
    rx_now: int = 0
    tx_max: int = 0  # since the previous read (the probes reset it)
    rx_max: int = 0
    tx_size: int = 0
    rx_size: int = 0
    budget: int = 0  # the largest budget a poll was given so far (0: no poll seen)
    bql_inflight: int = 0
    bql_limit: int = 0
    driver: Mapping[str, int] = field(default_factory=dict)  # ethtool -S of the device
    progs: Mapping[str, ProgStat] = field(default_factory=dict)
    queues: Sequence[QueueSeen] = ()  # every queue pair the probes count, running or not


def _sub(a: Sequence[int], b: Sequence[int]) -> list[int]:
    if not b:
        return list(a)
    if len(a) != len(b):
        raise ValueError(f"histograms of {len(a)} and {len(b)} slots")
    return list(map(operator.sub, a, b))  # a C loop: this runs every interval


@dataclass(frozen=True)
class Interval:
    """What happened between two snapshots."""

    seconds: float
    counters: dict[str, int]
    polls_per_cpu: list[int]
    packets_per_cpu: list[int]
    work_hist: list[int]
    poll_ns_hist: list[int]
    tx_hist: list[int]
    rx_hist: list[int]
    freed_hist: list[int]
    driver: dict[str, int]
    progs: dict[str, ProgStat]
    end: Snapshot
    queues: list[QueueSeen] = field(default_factory=list)  # counts: the interval's

    def rate(self, name: str) -> float:
        return self.counters.get(name, 0) / self.seconds if self.seconds > 0 else 0.0


def interval(prev: Snapshot, cur: Snapshot) -> Interval:
    progs = {
        name: ProgStat(s.run_cnt - prev.progs.get(name, ProgStat()).run_cnt,
                       s.run_time_ns - prev.progs.get(name, ProgStat()).run_time_ns, s.id)
        for name, s in cur.progs.items()
    }
    return Interval(
        seconds=cur.t - prev.t,
        counters={k: cur.counters.get(k, 0) - prev.counters.get(k, 0) for k in COUNTERS},
        polls_per_cpu=_sub(cur.polls_per_cpu, prev.polls_per_cpu),
        packets_per_cpu=_sub(cur.packets_per_cpu, prev.packets_per_cpu),
        work_hist=_sub(cur.work_hist, prev.work_hist),
        poll_ns_hist=_sub(cur.poll_ns_hist, prev.poll_ns_hist),
        tx_hist=_sub(cur.tx_hist, prev.tx_hist),
        rx_hist=_sub(cur.rx_hist, prev.rx_hist),
        freed_hist=_sub(cur.freed_hist, prev.freed_hist),
        driver={k: v - prev.driver.get(k, 0) for k, v in cur.driver.items()},
        progs=progs,
        end=cur,
        queues=queue_deltas(prev.queues, cur.queues),
    )


def queue_deltas(prev: Sequence[QueueSeen], cur: Sequence[QueueSeen]) -> list[QueueSeen]:
    """Each running queue's counts over the interval, its rings and BQL as at its end.
    The probes count from attach, for every queue: snapshots list all of them, so a queue
    that runs again after ethtool -L counts from where it stopped, not from 0."""
    before = {q.id: q for q in prev}
    out = []
    for q in cur:
        if not q.running:
            continue
        b = before.get(q.id, QueueSeen(q.id))
        out.append(replace(q, xmits=q.xmits - b.xmits, polls=q.polls - b.polls,
                           packets=q.packets - b.packets))
    return out


# ---- histograms ---------------------------------------------------------------


def log2_bounds(slot: int) -> tuple[int, int]:
    """Value range of a log2 slot, as bcc's print_log2_hist shows it: 0, 1, 2-3, 4-7..."""
    if slot == 0:
        return (0, 0)
    return (1 << (slot - 1), (1 << slot) - 1)


def log2_value_slot(value: int) -> int:
    return value.bit_length()


def sparse(hist: Sequence[int], keys: Sequence[int] | None = None) -> dict[int, int]:
    """Non-zero buckets as {key: count} (key: the bucket's low bound, or its index)."""
    return {(keys[i] if keys else i): n for i, n in enumerate(hist) if n}


def log2_sparse(hist: Sequence[int]) -> dict[int, int]:
    return {log2_bounds(i)[0]: n for i, n in enumerate(hist) if n}


def log2_slots(hist: Mapping[int, int]) -> list[int]:
    """The inverse of log2_sparse: {value or bucket low bound: count} as log2 slots
    (values that share a slot are added up)."""
    if not hist:
        return []
    slots = [0] * (max(hist).bit_length() + 1)
    for v, n in hist.items():
        slots[v.bit_length()] += n
    return slots


def percentile_log2(hist: Sequence[int], q: float) -> int | None:
    """The upper bound of the log2 bucket holding the q-quantile (an upper estimate)."""
    total = sum(hist)
    if not total:
        return None
    want = q * total
    seen = 0
    for slot, n in enumerate(hist):
        seen += n
        if seen >= want and n:
            return log2_bounds(slot)[1]
    return log2_bounds(len(hist) - 1)[1]


def mean(total: int, n: int) -> float:
    return total / n if n else 0.0


# ---- reports: what each command shows -------------------------------------------


@dataclass(frozen=True)
class NapiReport:
    interval_s: float
    polls: int
    packets: int
    budget: int | None  # as the polls were given it; None before the first poll
    exhausted: int
    over_budget: int
    work_hist: dict[int, int]
    poll_ns_hist: dict[int, int]  # log2 bucket low bound (ns) -> polls
    poll_ns_mean: float | None  # None where poll time is not measured (other drivers' NAPI)
    poll_ns_p50: int | None
    poll_ns_p99: int | None
    polls_per_cpu: dict[int, int]
    packets_per_cpu: dict[int, int]
    ts: float = 0.0  # wall-clock time (Unix seconds) at the end of the interval
    queues: list[QueueSeen] = field(default_factory=list)  # each RX queue's polls and packets

    @property
    def polls_per_s(self) -> float:
        return self.polls / self.interval_s if self.interval_s else 0.0

    @property
    def packets_per_s(self) -> float:
        return self.packets / self.interval_s if self.interval_s else 0.0

    @property
    def exhausted_pct(self) -> float:
        return 100.0 * self.exhausted / self.polls if self.polls else 0.0

    @property
    def work_mean(self) -> float:
        return mean(self.packets, self.polls)


def napi_report(iv: Interval) -> NapiReport:
    c = iv.counters
    return NapiReport(
        interval_s=iv.seconds,
        polls=c["polls"],
        packets=c["poll_packets"],
        budget=iv.end.budget or None,
        exhausted=c["poll_exhausted"],
        over_budget=c["poll_over_budget"],
        work_hist=sparse(iv.work_hist),
        poll_ns_hist=log2_sparse(iv.poll_ns_hist),
        poll_ns_mean=mean(c["poll_ns"], c["polls"]) if sum(iv.poll_ns_hist) else None,
        poll_ns_p50=percentile_log2(iv.poll_ns_hist, 0.5),
        poll_ns_p99=percentile_log2(iv.poll_ns_hist, 0.99),
        polls_per_cpu=sparse(iv.polls_per_cpu),
        packets_per_cpu=sparse(iv.packets_per_cpu),
        ts=iv.end.wall,
        queues=list(iv.queues),
    )


@dataclass(frozen=True)
class RingsReport:
    interval_s: float
    tx_size: int
    rx_size: int
    tx_now: int
    rx_now: int
    tx_max: int
    rx_max: int
    tx_hist: dict[int, int]  # log2 bucket low bound (descriptors) -> samples
    rx_hist: dict[int, int]
    xmits: int
    polls: int
    tx_fills: int
    queue_stopped: int
    queue_woken: int
    bql_inflight: int
    bql_limit: int
    completion_runs: int
    completions: int
    freed_hist: dict[int, int]
    tx_proto: dict[str, int] = field(default_factory=dict)  # EtherType class -> frames
    ts: float = 0.0
    queues: list[QueueRings] = field(default_factory=list)


@dataclass(frozen=True)
class QueueRings(QueueSeen):
    """One queue pair in `vnet-trace rings`: QueueSeen, with its TX queue's stops and
    wakes in the interval (the driver's txN_queue_stopped/woken counters)."""

    stopped: int = 0
    woken: int = 0
    folded: int = 1  # how many queues this row stands for (fold_queues)

    @property
    def label(self) -> str:
        return str(self.id) if self.folded == 1 else f"{self.id}-{self.id + self.folded - 1}"


def queue_rings(iv: Interval) -> list[QueueRings]:
    return [QueueRings(**{f: getattr(q, f) for f in QueueSeen.__dataclass_fields__ if f != "running"},
                       stopped=iv.driver.get(f"tx{q.id}_queue_stopped", 0),
                       woken=iv.driver.get(f"tx{q.id}_queue_woken", 0))
            for q in iv.queues]


def fold_queues(queues: Sequence[QueueRings], rows: int) -> list[QueueRings]:
    """QUEUES in at most ROWS rows, for a small terminal: the first ROWS - 1 as they are,
    the rest folded into one row that adds up their counts, rings and BQL (so its
    occupancy is theirs together) and keeps their largest maximum."""
    rows = max(rows, 1)
    if len(queues) <= rows:
        return list(queues)
    keep, rest = list(queues[:rows - 1]), queues[rows - 1:]

    def total(name: str) -> int:
        return sum(getattr(q, name) for q in rest)

    folded = replace(
        rest[0], folded=len(rest), xmits=total("xmits"), polls=total("polls"), packets=total("packets"),
        tx_now=total("tx_now"), tx_size=total("tx_size"), rx_now=total("rx_now"), rx_size=total("rx_size"),
        bql_inflight=total("bql_inflight"), bql_limit=total("bql_limit"), stopped=total("stopped"),
        woken=total("woken"), tx_max=max(q.tx_max for q in rest), rx_max=max(q.rx_max for q in rest))
    return [*keep, folded]
#: Frame classes by EtherType, as the driver's counters (tx_arp, ...) and its trace
#: events split them, and as bpf/vnet_xdp.bpf.c orders them.
FRAME_CLASSES = ("arp", "ipv4", "ipv6", "other")


def rings_report(iv: Interval) -> RingsReport:
    c, e = iv.counters, iv.end
    return RingsReport(
        interval_s=iv.seconds,
        tx_size=e.tx_size,
        rx_size=e.rx_size,
        tx_now=e.tx_now,
        rx_now=e.rx_now,
        tx_max=e.tx_max,
        rx_max=e.rx_max,
        tx_hist=log2_sparse(iv.tx_hist),
        rx_hist=log2_sparse(iv.rx_hist),
        xmits=c["xmit"],
        polls=c["polls"],
        tx_fills=c["tx_fills"],
        queue_stopped=iv.driver.get("tx_queue_stopped", 0),
        queue_woken=iv.driver.get("tx_queue_woken", 0),
        bql_inflight=e.bql_inflight,
        bql_limit=e.bql_limit,
        completion_runs=c["txc_runs"],
        completions=c["txc_freed"],
        freed_hist=log2_sparse(iv.freed_hist),
        tx_proto={p: c[f"tx_{p}"] for p in FRAME_CLASSES},
        ts=e.wall,
        queues=queue_rings(iv),
    )


@dataclass(frozen=True)
class ArpEvent:
    """One generated ARP request, as the probe on vnet_build_arp saw it."""

    ts_ns: int
    ifindex: int
    peer_mac: str
    peer_ip: str
    target_ip: str


@dataclass(frozen=True)
class CostReport:
    """What our own BPF programs cost in the interval, from the kernel's BPF stats."""

    interval_s: float
    progs: dict[str, ProgStat]

    @property
    def run_cnt(self) -> int:
        return sum(p.run_cnt for p in self.progs.values())

    @property
    def run_time_ns(self) -> int:
        return sum(p.run_time_ns for p in self.progs.values())

    @property
    def ns_per_run(self) -> float:
        return mean(self.run_time_ns, self.run_cnt)

    @property
    def cpu_pct(self) -> float:
        """Share of one CPU spent inside our programs."""
        return 100.0 * self.run_time_ns / (self.interval_s * 1e9) if self.interval_s else 0.0


def cost_report(iv: Interval) -> CostReport:
    return CostReport(iv.seconds, dict(iv.progs))


# ---- XDP (`vnet-trace xdp`) -----------------------------------------------------

#: Frame classes and verdicts, in the order of bpf/vnet_xdp.bpf.c (actions: enum xdp_action).
XDP_CLASSES = FRAME_CLASSES
XDP_ACTIONS = ("aborted", "drop", "pass", "tx", "redirect")
#: The driver's own XDP counters (ethtool -S), shown beside the program's.
XDP_DRIVER_STATS = (
    "xdp_packets", "xdp_pass", "xdp_drop", "xdp_tx", "xdp_redirect", "xdp_aborted",
    "xdp_tx_errors", "xdp_redirect_errors", "xdp_xmit", "xdp_xmit_errors",
)


@dataclass(frozen=True)
class XdpSnapshot:
    """Cumulative verdict counts of our program since attach, and the driver's counters."""

    t: float
    verdicts: Mapping[tuple[str, str], int]  # (class, action) -> frames
    driver: Mapping[str, int] = field(default_factory=dict)
    prog: ProgStat = ProgStat()
    wall: float = 0.0


@dataclass(frozen=True)
class XdpReport:
    interval_s: float
    verdicts: dict[tuple[str, str], int]
    driver: dict[str, int]  # deltas of XDP_DRIVER_STATS
    prog: ProgStat
    ts: float = 0.0

    def by_action(self) -> dict[str, int]:
        return {a: sum(self.verdicts.get((c, a), 0) for c in XDP_CLASSES) for a in XDP_ACTIONS}

    def by_class(self) -> dict[str, int]:
        return {c: sum(self.verdicts.get((c, a), 0) for a in XDP_ACTIONS) for c in XDP_CLASSES}

    @property
    def packets(self) -> int:
        return sum(self.verdicts.values())

    @property
    def packets_per_s(self) -> float:
        return self.packets / self.interval_s if self.interval_s else 0.0

    @property
    def ns_per_run(self) -> float:
        return mean(self.prog.run_time_ns, self.prog.run_cnt)


def xdp_report(prev: XdpSnapshot, cur: XdpSnapshot) -> XdpReport:
    """What happened between two snapshots (PREV may be the empty snapshot at attach)."""
    return XdpReport(
        interval_s=cur.t - prev.t,
        verdicts={k: cur.verdicts.get(k, 0) - prev.verdicts.get(k, 0)
                  for k in ((c, a) for c in XDP_CLASSES for a in XDP_ACTIONS)},
        driver={k: cur.driver.get(k, 0) - prev.driver.get(k, 0) for k in XDP_DRIVER_STATS if k in cur.driver},
        prog=ProgStat(cur.prog.run_cnt - prev.prog.run_cnt, cur.prog.run_time_ns - prev.prog.run_time_ns,
                      cur.prog.id),
        ts=cur.wall,
    )


# ---- queues (`vnet-trace queues`, any device) -------------------------------------


@dataclass(frozen=True)
class QueueStats:
    """The counters of one queue (kind "rx"/"tx" and its id), or of the whole device
    (kind "dev", id -1) where the driver has no per-queue statistics."""

    kind: str
    id: int
    counters: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class QueuesSnapshot:
    t: float
    wall: float
    source: str  # "qstats" (netdev netlink) or "sysfs" (/sys/class/net/DEV/statistics)
    queues: Sequence[QueueStats]
    bql: Mapping[int, tuple[int, int]]  # TX queue -> (bytes in flight, limit)


@dataclass(frozen=True)
class QueuesReport:
    interval_s: float
    ts: float
    source: str
    queues: list[QueueStats]  # counters: what changed in the interval
    bql: dict[int, tuple[int, int]]  # at the end of the interval

    def rate(self, q: QueueStats, name: str) -> float:
        return q.counters.get(name, 0) / self.interval_s if self.interval_s else 0.0


def queues_report(prev: QueuesSnapshot, cur: QueuesSnapshot) -> QueuesReport:
    """What each queue counted between two snapshots (a queue new in CUR counts from 0)."""
    before = {(q.kind, q.id): q.counters for q in prev.queues}
    queues = [QueueStats(q.kind, q.id, {k: v - before.get((q.kind, q.id), {}).get(k, 0)
                                         for k, v in q.counters.items()})
              for q in cur.queues]
    return QueuesReport(cur.t - prev.t, cur.wall, cur.source, queues, dict(cur.bql))
