"""Plain text in the bcc tools' style: a header line, aligned columns, ASCII histograms."""

from __future__ import annotations

import time
from collections.abc import Sequence

from vnet_ebpf.model import XDP_ACTIONS, ArpEvent, CostReport, NapiReport, RingsReport, XdpReport, log2_bounds

BAR = 40


def hist_lines(label: str, rows: Sequence[tuple[str, int]]) -> list[str]:
    """bcc's print_*_hist layout: `label : count  |****   |`."""
    width = max([len(label), *(len(r[0]) for r in rows)])
    top = max((n for _, n in rows), default=0)
    out = [f"{label:>{width}} : count     distribution"]
    for key, n in rows:
        stars = round(BAR * n / top) if top else 0
        out.append(f"{key:>{width}} : {n:<9} |{'*' * stars:<{BAR}}|")
    return out


def linear_rows(hist: dict[int, int], lo: int = 0, hi: int | None = None) -> list[tuple[str, int]]:
    """Every value from the smallest to the largest seen (or lo..hi), zeros included."""
    if not hist:
        return []
    first = min(lo, min(hist)) if hi is not None else min(hist)
    last = max(hist) if hi is None else max(hi, max(hist))
    return [(str(v), hist.get(v, 0)) for v in range(first, last + 1)]


def log2_rows(hist: dict[int, int]) -> list[tuple[str, int]]:
    """log2 buckets from the smallest to the largest non-empty one, like print_log2_hist."""
    if not hist:
        return []
    slots = {lo.bit_length(): n for lo, n in hist.items()}
    rows = []
    for slot in range(min(slots), max(slots) + 1):
        lo, hi = log2_bounds(slot)
        rows.append((f"{lo} -> {hi}", slots.get(slot, 0)))
    return rows


def stamp() -> str:
    return time.strftime("%H:%M:%S")


NAPI_HEADER = (
    f"{'TIME':<8} {'POLLS/s':>9} {'PKTS/s':>10} {'PKT/POLL':>8} {'BUDGET':>6} "
    f"{'EXHAUST%':>8} {'AVG_ns':>9} {'P99_ns':>9}"
)


def napi_lines(r: NapiReport, hists: bool = True) -> list[str]:
    p99 = "-" if r.poll_ns_p99 is None else str(r.poll_ns_p99)
    lines = [
        f"{stamp():<8} {r.polls_per_s:>9.1f} {r.packets_per_s:>10.1f} {r.work_mean:>8.2f} {r.budget:>6} "
        f"{r.exhausted_pct:>8.1f} {r.poll_ns_mean:>9.0f} {p99:>9}"
    ]
    if hists and r.polls:
        lines += ["", *hist_lines("work", linear_rows(r.work_hist)), ""]
        lines += [*hist_lines("poll ns", log2_rows(r.poll_ns_hist)), ""]
        cpus = ", ".join(f"cpu{c}: {n} polls/{r.packets_per_cpu.get(c, 0)} pkts" for c, n in r.polls_per_cpu.items())
        lines += [f"per CPU: {cpus}"]
        if r.over_budget:
            lines += [f"WARNING: {r.over_budget} polls returned more than their budget"]
        lines += [""]
    return lines


RINGS_HEADER = (
    f"{'TIME':<8} {'TX_NOW':>6} {'TX_MAX':>6} {'TX_SIZE':>7} {'RX_NOW':>6} {'RX_MAX':>6} {'RX_SIZE':>7} "
    f"{'STOPS':>5} {'WAKES':>5} {'BQL_INFL':>8} {'BQL_LIM':>8} {'COMPL':>7}"
)


def rings_lines(r: RingsReport, hists: bool = True) -> list[str]:
    lines = [
        f"{stamp():<8} {r.tx_now:>6} {r.tx_max:>6} {r.tx_size:>7} {r.rx_now:>6} {r.rx_max:>6} {r.rx_size:>7} "
        f"{r.queue_stopped:>5} {r.queue_woken:>5} {r.bql_inflight:>8} {r.bql_limit:>8} {r.completions:>7}"
    ]
    if hists:
        if r.tx_hist:
            lines += ["", *hist_lines(f"TX used/{r.tx_size}", log2_rows(r.tx_hist))]
        if r.rx_hist:
            lines += ["", *hist_lines(f"RX used/{r.rx_size}", log2_rows(r.rx_hist))]
        if r.tx_hist or r.rx_hist:
            lines += [""]
    return lines


def cost_line(c: CostReport) -> str:
    if not c.progs:
        return "probe cost: unavailable (the kernel refused BPF_ENABLE_STATS)"
    return (f"probe cost: {c.run_cnt} runs, {c.ns_per_run:.0f} ns/run, "
            f"{c.cpu_pct:.3f}% of one CPU (kernel BPF stats)")


def arp_line(ev: ArpEvent, wall_offset: float) -> str:
    """tcpdump -e -n style."""
    t = ev.ts_ns / 1e9 + wall_offset
    ts = time.strftime("%H:%M:%S", time.localtime(t)) + f".{int((t % 1) * 1e6):06d}"
    return (f"{ts} {ev.peer_mac} > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 60: "
            f"Request who-has {ev.target_ip} tell {ev.peer_ip}, length 46")


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
