"""Plain text in the bcc tools' style: a header line, aligned columns, and histograms
printed exactly as bcc's print_log2_hist and print_linear_hist print them."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

from vnet_ebpf.model import (
    XDP_ACTIONS,
    ArpEvent,
    CostReport,
    NapiReport,
    QueuesReport,
    RingsReport,
    XdpReport,
    log2_bounds,
    log2_slots,
)
from vnet_ebpf.regs import Regs

#: The width of bcc's histogram bars (bcc/table.py: stars_max).
STARS = 40


def _stars(n: int, top: int, width: int) -> str:
    """A bar of N against the largest count TOP, as bcc draws it: width * n / top
    stars (a float, rounded down), at most WIDTH."""
    return "*" * min(width, math.floor(width * n / top)) if top else ""


def log2_hist_lines(slots: Sequence[int], val_type: str) -> list[str]:
    """Exactly what bcc's print_log2_hist prints for the same slots (slot i holds the
    values with bit_length i).  bcc's slot 1 is "0 -> 1": its BPF helper puts 0 and 1
    there, ours puts 0 in slot 0, so slot 0 is shown inside slot 1 as bcc would."""
    vals = list(slots)
    if len(vals) > 1:
        vals[1] += vals[0]
        vals[0] = 0
    last = max((i for i, n in enumerate(vals) if n), default=-1)
    if last <= 0:
        return []
    top = max(vals)
    if last <= 32:
        head, w, stars = f"     {val_type:<19} : count     distribution", 10, STARS
    else:
        head, w, stars = f"               {val_type:<29} : count     distribution", 20, STARS // 2
    out = [head]
    for i in range(1, last + 1):
        lo, hi = log2_bounds(i)
        lo = 0 if i == 1 else lo
        out.append(f"{lo:>{w}} -> {hi:<{w}} : {vals[i]:<8} |{_stars(vals[i], top, stars):<{stars}}|")
    return out


def linear_hist_lines(hist: dict[int, int], val_type: str) -> list[str]:
    """Exactly what bcc's print_linear_hist prints: every value from 0 to the largest seen."""
    if not hist:
        return []
    top = max(hist.values())
    out = [f"     {val_type:<13} : count     distribution"]
    for v in range(max(hist) + 1):
        n = hist.get(v, 0)
        out.append(f"        {v:<10} : {n:<8} |{_stars(n, top, STARS):<{STARS}}|")
    return out


def log2_rows(hist: dict[int, int]) -> list[tuple[str, int]]:
    """log2 buckets from the smallest to the largest non-empty one, for the Rich screens."""
    if not hist:
        return []
    slots = {lo.bit_length(): n for lo, n in hist.items()}
    rows = []
    for slot in range(min(slots), max(slots) + 1):
        lo, hi = log2_bounds(slot)
        rows.append((f"{lo}-{hi}" if hi > lo else str(lo), slots.get(slot, 0)))
    return rows


def stamp() -> str:
    return time.strftime("%H:%M:%S")


NAPI_HEADER = (
    f"{'TIME':<8} {'POLLS/s':>9} {'PKTS/s':>10} {'PKT/POLL':>8} {'BUDGET':>6} "
    f"{'EXHAUST%':>8} {'AVG_ns':>9} {'P50_ns':>9} {'P99_ns':>9}"
)


def _num(v: float | None, fmt: str = ".0f") -> str:
    """A figure, or "-" where it was not measured."""
    return "-" if v is None else format(v, fmt)


def napi_lines(r: NapiReport, hists: bool = True) -> list[str]:
    """One row per interval; then, for intervals with polls, the histograms.  Poll-time
    percentiles are the upper bounds of their log2 buckets."""
    lines = [
        f"{stamp():<8} {r.polls_per_s:>9.1f} {r.packets_per_s:>10.1f} {r.work_mean:>8.2f} {_num(r.budget):>6} "
        f"{r.exhausted_pct:>8.1f} {_num(r.poll_ns_mean):>9} {_num(r.poll_ns_p50):>9} {_num(r.poll_ns_p99):>9}"
    ]
    if hists and r.polls:
        lines += ["", *linear_hist_lines(r.work_hist, "work"), ""]
        if r.poll_ns_hist:
            lines += [*log2_hist_lines(log2_slots(r.poll_ns_hist), "nsecs"), ""]
        cpus = ", ".join(f"cpu{c}: {n} polls/{r.packets_per_cpu.get(c, 0)} pkts" for c, n in r.polls_per_cpu.items())
        lines += [f"per CPU: {cpus}"]
        if len(r.queues) > 1:
            lines += ["per queue: " + ", ".join(f"rx{q.id}: {q.polls} polls/{q.packets} pkts"
                                                for q in r.queues)]
        if r.over_budget:
            lines += [f"WARNING: {r.over_budget} polls returned more than their budget"]
        lines += [""]
    return lines


RINGS_HEADER = (
    f"{'TIME':<8} {'TX_NOW':>6} {'TX_MAX':>6} {'TX_SIZE':>7} {'RX_NOW':>6} {'RX_MAX':>6} {'RX_SIZE':>7} "
    f"{'STOPS':>5} {'WAKES':>5} {'BQL_INFL':>8} {'BQL_LIM':>8} {'COMPL':>7}"
)


def rings_lines(r: RingsReport, hists: bool = True) -> list[str]:
    """One row per interval (the device: its latest ring samples, stops and wakes of all
    queues, BQL of queue 0); with more than one queue running, a row for each under it."""
    lines = [
        f"{stamp():<8} {r.tx_now:>6} {r.tx_max:>6} {r.tx_size:>7} {r.rx_now:>6} {r.rx_max:>6} {r.rx_size:>7} "
        f"{r.queue_stopped:>5} {r.queue_woken:>5} {r.bql_inflight:>8} {r.bql_limit:>8} {r.completions:>7}"
    ]
    if len(r.queues) > 1:
        lines += [f"{'q' + q.label:>8} {q.tx_now:>6} {q.tx_max:>6} {q.tx_size:>7} {q.rx_now:>6} {q.rx_max:>6} "
                  f"{q.rx_size:>7} {q.stopped:>5} {q.woken:>5} {q.bql_inflight:>8} {q.bql_limit:>8}"
                  for q in r.queues]
    if hists:
        for hist, val_type in ((r.tx_hist, f"TX used/{r.tx_size}"), (r.rx_hist, f"RX used/{r.rx_size}"),
                               (r.freed_hist, "TX freed/run")):
            if hist:
                lines += ["", *log2_hist_lines(log2_slots(hist), val_type)]
        if r.tx_hist or r.rx_hist or r.freed_hist:
            lines += [""]
    return lines


def cost_line(c: CostReport) -> str:
    if not c.progs:
        return "probe cost: unavailable (the kernel refused BPF_ENABLE_STATS)"
    ids = ",".join(str(p.id) for _, p in sorted(c.progs.items()))
    return (f"probe cost: {c.run_cnt} runs, {c.ns_per_run:.0f} ns/run, "
            f"{c.cpu_pct:.3f}% of one CPU (kernel BPF stats; prog ids {ids})")


QUEUES_HEADER = (
    f"{'TIME':<8} {'QUEUE':<6} {'PKTS/s':>10} {'BYTES/s':>12} {'STOPS':>5} {'WAKES':>5} "
    f"{'BQL_INFL':>8} {'BQL_LIM':>8}  OTHER"
)


def queues_lines(r: QueuesReport) -> list[str]:
    """One row per queue: its packets and bytes per second, the stop/wake counts where
    the driver reports them, BQL for TX queues, and every other counter that moved."""
    lines = []
    main = {"rx-packets", "rx-bytes", "tx-packets", "tx-bytes", "tx-stop", "tx-wake",
            "rx_packets", "rx_bytes", "tx_packets", "tx_bytes"}
    for q in r.queues:
        d = "rx" if q.kind == "rx" else "tx"
        if q.kind == "dev":
            name, pk, by = "dev", r.rate(q, "rx_packets") + r.rate(q, "tx_packets"), \
                r.rate(q, "rx_bytes") + r.rate(q, "tx_bytes")
        else:
            name, pk, by = f"{q.kind}-{q.id}", r.rate(q, f"{d}-packets"), r.rate(q, f"{d}-bytes")
        stops = str(q.counters["tx-stop"]) if "tx-stop" in q.counters else "-"
        wakes = str(q.counters["tx-wake"]) if "tx-wake" in q.counters else "-"
        infl, lim = r.bql.get(q.id, (None, None)) if q.kind == "tx" else (None, None)
        other = " ".join(f"{k}={v}" for k, v in q.counters.items() if k not in main and v)
        lines.append(f"{stamp():<8} {name:<6} {pk:>10.1f} {by:>12.1f} {stops:>5} {wakes:>5} "
                     f"{_num(infl, 'd'):>8} {_num(lim, 'd'):>8}  {other}".rstrip())
    shown = {q.id for q in r.queues if q.kind == "tx"}
    for qid, (infl, lim) in sorted(r.bql.items()):
        if qid not in shown:  # no per-queue counters: BQL alone
            lines.append(f"{stamp():<8} {f'tx-{qid}':<6} {'-':>10} {'-':>12} {'-':>5} {'-':>5} {infl:>8} {lim:>8}")
    return lines


def event_time(ts_ns: int, wall_offset: float) -> str:
    """A probe's CLOCK_MONOTONIC time as local wall-clock time, to the microsecond."""
    t = ts_ns / 1e9 + wall_offset
    return time.strftime("%H:%M:%S", time.localtime(t)) + f".{int((t % 1) * 1e6):06d}"


def arp_line(ev: ArpEvent, wall_offset: float) -> str:
    """tcpdump -e -n style."""
    return (f"{event_time(ev.ts_ns, wall_offset)} {ev.peer_mac} > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), "
            f"length 60: Request who-has {ev.target_ip} tell {ev.peer_ip}, length 46")


XDP_HEADER = (
    f"{'TIME':<8} {'PKTS/s':>10} " + " ".join(f"{a.upper():>8}" for a in XDP_ACTIONS)
    + f" {'TX_ERR':>7} {'REDIR_ERR':>9} {'ns/run':>7}"
)


def xdp_line(r: XdpReport) -> str:
    """Frames per verdict in the interval (the program's counts), and the driver's errors."""
    acts = r.by_action()
    return (f"{stamp():<8} {r.packets_per_s:>10.1f} " + " ".join(f"{acts[a]:>8}" for a in XDP_ACTIONS)
            + f" {r.driver.get('xdp_tx_errors', 0):>7} {r.driver.get('xdp_redirect_errors', 0):>9}"
            + f" {r.ns_per_run:>7.0f}")


def regs_lines(iface: str, r: Regs) -> list[str]:
    """`vnet-trace regs`: each register with its value, then what the indexes say."""
    w = r.words
    tx, rx = r.ring("tx"), r.ring("rx")
    on = [name for name, set_ in r.irq.items() if set_]
    return [
        f"{iface} registers (ethtool -d, version {r.version}), hardware: {r.hardware}",
        f"TX ring  size {w['tx_size']:>5}  head {w['tx_head']:>10}  doorbell {w['tx_doorbell']:>10}  "
        f"sent {w['tx_sent']:>10}  tail {w['tx_tail']:>10}",
        f"         {tx['posted']} posted, not yet completed; {tx['not_rung']} posted after the last doorbell",
        f"RX ring  size {w['rx_size']:>5}  head {w['rx_head']:>10}  tail {w['rx_tail']:>10}",
        f"         {rx['filled']} filled by the NIC, not yet taken by NAPI",
        f"IRQ      {w['irq']:#04x}: {', '.join(on) if on else 'idle'}",
        f"moderation  tx-usecs {w['tx_usecs']}  rx-usecs {w['rx_usecs']}",
    ]
