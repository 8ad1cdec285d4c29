"""Rich renderables for --live screens and `vnet-trace top`."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import ConsoleDimensions, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from vnet_ebpf.model import (
    XDP_ACTIONS,
    XDP_CLASSES,
    ArpEvent,
    CostReport,
    NapiReport,
    RingsReport,
    XdpReport,
    fold_queues,
    log2_bounds,
    log2_slots,
    percentile_log2,
)
from vnet_ebpf.views.text import arp_line, event_time, log2_rows

BAR = 30
#: Lines `rings --live` takes besides its queue rows: the panel, the device's rings and
#: facts, three histograms of a few rows each and the cost line.
RINGS_PANEL_LINES = 30


def _hist_table(title: str, rows: Sequence[tuple[str, int]]) -> Table:
    t = Table(title=title, box=None, pad_edge=False, show_header=False)
    t.add_column(justify="right", style="cyan")
    t.add_column(justify="right")
    t.add_column()
    top = max((n for _, n in rows), default=0)
    for key, n in rows:
        t.add_row(key, str(n), Text("█" * (round(BAR * n / top) if top else 0), style="green"))
    if not rows:
        t.add_row("-", "0", "")
    return t


def _occupancy_bar(now: int, size: int, width: int = BAR) -> Text:
    filled = min(width, round(width * now / size)) if size else 0
    style = "red" if size and now >= size else "yellow" if size and now * 2 >= size else "green"
    return Text("█" * filled, style=style) + Text("░" * (width - filled), style="dim")


def queues_table(r: RingsReport, rows: int) -> Table:
    """Each running queue pair in a row (folded into ROWS rows at most): its rings, the
    stops and wakes of its TX queue, BQL, and what went through it."""
    t = Table(box=None)
    for name in ("queue", "TX now", "max", "size", "RX now", "max", "size", "stops", "wakes",
                 "BQL in flight", "xmits", "polls", "pkts/poll"):
        t.add_column(name, style="bold" if name == "queue" else None,
                     justify="left" if name == "queue" else "right")
    for q in fold_queues(r.queues, rows):
        t.add_row(q.label, str(q.tx_now), str(q.tx_max), str(q.tx_size), str(q.rx_now), str(q.rx_max),
                  str(q.rx_size), str(q.stopped), str(q.woken), f"{q.bql_inflight:,}", str(q.xmits),
                  str(q.polls), f"{q.work_mean:.1f}")
    return t


def rings_panel(iface: str, r: RingsReport, cost: CostReport | None = None, queue_rows: int = 8) -> Panel:
    """`vnet-trace rings --live`.  With more than one queue pair running, a row for each
    under the device's, QUEUE_ROWS at most (the rest folded into the last)."""
    t = Table(box=None)
    t.add_column("ring", style="bold")
    t.add_column("now", justify="right")
    t.add_column("max", justify="right")
    t.add_column("size", justify="right")
    t.add_column("occupancy")
    t.add_row("TX", str(r.tx_now), str(r.tx_max), str(r.tx_size), _occupancy_bar(r.tx_now, r.tx_size))
    t.add_row("RX", str(r.rx_now), str(r.rx_max), str(r.rx_size), _occupancy_bar(r.rx_now, r.rx_size))
    facts = Table(box=None, show_header=False)
    facts.add_column(style="bold")
    facts.add_column(justify="right")
    facts.add_row("queue stops / wakes", f"{r.queue_stopped} / {r.queue_woken}")
    facts.add_row("BQL in flight / limit", f"{r.bql_inflight:,} / {r.bql_limit:,} bytes")
    facts.add_row("TX completions", f"{r.completions} in {r.completion_runs} runs")
    parts: list[RenderableType] = [t]
    if len(r.queues) > 1:
        parts.append(queues_table(r, queue_rows))
    parts += [
        facts,
        _hist_table(f"TX occupancy at xmit (of {r.tx_size})", log2_rows(r.tx_hist)),
        _hist_table(f"RX occupancy at poll (of {r.rx_size})", log2_rows(r.rx_hist)),
        _hist_table("descriptors freed per TX-done run", log2_rows(r.freed_hist)),
    ]
    if cost is not None:
        parts.append(Text(cost_summary(cost), style="dim"))
    return Panel(Group(*parts), title=f"rings {iface}", border_style="magenta")


def cost_summary(c: CostReport) -> str:
    if not c.progs:
        return "probe cost: unavailable (the kernel refused BPF_ENABLE_STATS)"
    return (f"probe cost: {len(c.progs)} programs, {c.run_cnt:,} runs, {c.ns_per_run:,.0f} ns/run, "
            f"{c.cpu_pct:.3f} % of one CPU")


# ---- `vnet-trace top`: one screen that fits the terminal ------------------------

#: The most generated ARP frames `top` keeps to show.
ARP_LINES_MAX = 12
#: Fewest terminal lines `top` lays out for; a smaller terminal shows the top of it.
TOP_MIN_LINES = 16


@dataclass(frozen=True)
class Bucket:
    lo: int
    hi: int  # inclusive; lo == hi for one value
    n: int
    below: bool = False  # folded: also everything under lo
    above: bool = False  # folded: also everything over hi

    @property
    def label(self) -> str:
        if self.below:
            return f"<={self.hi}"
        if self.above:
            return f">={self.lo}"
        return str(self.lo) if self.lo == self.hi else f"{self.lo}-{self.hi}"


def work_buckets(hist: dict[int, int], most: int) -> list[Bucket]:
    """Packets per poll: each value seen, if they fit in MOST rows; else log2 buckets."""
    if len(hist) <= most:
        return [Bucket(v, v, n) for v, n in sorted(hist.items())]
    return log2_buckets(hist)


def log2_buckets(hist: dict[int, int]) -> list[Bucket]:
    """{value or bucket low bound: count} as log2 buckets from the smallest to the largest
    non-empty one, empty ones between included, as bcc shows them."""
    slots = log2_slots(hist)
    first = next((i for i, n in enumerate(slots) if n), len(slots))
    return [Bucket(*log2_bounds(i), slots[i]) for i in range(first, len(slots))]


def fit(buckets: list[Bucket], most: int) -> list[Bucket]:
    """At most MOST rows: the run of MOST consecutive buckets holding the most samples,
    with what lies outside folded into its first and last rows (<=hi, >=lo)."""
    if len(buckets) <= most or most < 1:
        return buckets[:max(most, 0)]
    counts = [b.n for b in buckets]
    start = max(range(len(buckets) - most + 1), key=lambda i: sum(counts[i:i + most]))
    win = list(buckets[start:start + most])
    if start > 0:
        first = win[0]
        win[0] = Bucket(first.lo, first.hi, first.n + sum(counts[:start]), below=True)
    if start + most < len(buckets):
        last = win[-1]
        win[-1] = Bucket(last.lo, last.hi, last.n + sum(counts[start + most:]), above=True,
                         below=last.below)
    return win


def _bars(title: str, buckets: list[Bucket], width: int, rows: int) -> list[Text]:
    """A histogram as ROWS lines of WIDTH columns: label, count, bar."""
    out = [Text(title[:width], style="bold", no_wrap=True, overflow="crop")]
    label_w = max([len(b.label) for b in buckets] + [1])
    count_w = max([len(f"{b.n:,}") for b in buckets] + [1])
    bar_w = max(1, width - label_w - count_w - 3)
    top = max((b.n for b in buckets), default=0)
    for b in buckets:
        bar = "█" * (max(1, round(bar_w * b.n / top)) if top and b.n else 0)
        line = Text(f"{b.label:>{label_w}} {b.n:>{count_w},} ", style="cyan", no_wrap=True, overflow="crop")
        line.append(bar, style="green")
        out.append(line)
    if not buckets:
        out.append(Text("(no polls)", style="dim"))
    while len(out) < rows + 1:
        out.append(Text(""))
    return out


def _side_by_side(left: list[Text], right: list[Text], width: int) -> list[Text]:
    col = (width - 2) // 2
    lines = []
    for i in range(max(len(left), len(right))):
        a = left[i] if i < len(left) else Text("")
        b = right[i] if i < len(right) else Text("")
        a = a.copy()
        a.truncate(col, overflow="crop", pad=True)
        lines.append(Text.assemble(a, "  ", b))
    return lines


def arp_short(ev: ArpEvent, wall_offset: float) -> str:
    """A generated ARP request in 60-odd columns (the full tcpdump line needs 130)."""
    return f"{event_time(ev.ts_ns, wall_offset)}  who-has {ev.target_ip} tell {ev.peer_ip} ({ev.peer_mac})"


def top_screen(iface: str, napi: NapiReport, rings: RingsReport, cost: CostReport, arp: Sequence[ArpEvent],
               wall_offset: float, probes: str, size: ConsoleDimensions) -> RenderableType:
    """`vnet-trace top` laid out for a terminal of SIZE: every line fits its width (no
    wrapping, no ellipsis) and the whole screen its height less one line (the cursor's);
    histograms and ARP lines take the rows there are."""
    width = max(size.width, 40)
    lines_total = max(size.height - 1, TOP_MIN_LINES)
    out: list[Text] = []

    def line(*parts: str | tuple[str, str] | Text) -> None:
        t = Text.assemble(*parts, no_wrap=True, overflow="crop")
        t.truncate(width, overflow="crop")
        out.append(t)

    def rule(title: str) -> None:
        line((f"─ {title} ", "bold"), ("─" * max(0, width - len(title) - 3), "dim"))

    line((f" vnet-trace top  {iface}  {time.strftime('%H:%M:%S')}  every {rings.interval_s:.1f} s"
          f"  probes: {probes} ".ljust(width), "reverse bold"))

    # rings: 5 lines, or with several queue pairs a line per pair (folded to fit)
    rule("rings")
    if len(rings.queues) > 1:
        bar_w = max(4, min(20, (width - 56) // 2))
        line((f"{'queue':<6}{'TX':>5}{'max':>5}{'size':>6} ", "bold"), ("".ljust(bar_w), "bold"),
             (f"{'RX':>5}{'max':>5}{'size':>6} ", "bold"), ("".ljust(bar_w), "bold"),
             ("  stops wakes", "bold"))
        for q in fold_queues(rings.queues, max(1, (lines_total - TOP_MIN_LINES) // 2 + 1)):
            t = Text(f"{q.label:<6}{q.tx_now:>5}{q.tx_max:>5}{q.tx_size:>6} ")
            t.append_text(_occupancy_bar(q.tx_now, q.tx_size, bar_w))
            t.append(f"{q.rx_now:>5}{q.rx_max:>5}{q.rx_size:>6} ")
            t.append_text(_occupancy_bar(q.rx_now, q.rx_size, bar_w))
            t.append(f"  {q.stopped:>5} {q.woken:>5}")
            line(t)
    else:
        bar_w = max(8, min(40, width - 48))
        line((f"{'ring':<4}{'now':>6}{'max':>6}{'size':>6}  ", "bold"), ("occupancy".ljust(bar_w), "bold"),
             ("  stops wakes", "bold"))
        for name, now, peak, ring_size, stops, wakes in (
                ("TX", rings.tx_now, rings.tx_max, rings.tx_size, rings.queue_stopped, rings.queue_woken),
                ("RX", rings.rx_now, rings.rx_max, rings.rx_size, None, None)):
            t = Text(f"{name:<4}{now:>6}{peak:>6}{ring_size:>6}  ")
            t.append_text(_occupancy_bar(now, ring_size, bar_w))
            if stops is not None:
                t.append(f"  {stops:>5} {wakes:>5}")
            line(t)
    freed_p50 = percentile_log2(log2_slots(rings.freed_hist), 0.5)
    line(f"BQL {rings.bql_inflight:,} / {rings.bql_limit:,} B   TX done {rings.completions:,} in "
         f"{rings.completion_runs:,} runs" + (f" (p50 <={freed_p50}/run)" if freed_p50 is not None else ""))

    # NAPI: 3 lines, then the histograms
    rule("NAPI")
    budget = "-" if napi.budget is None else str(napi.budget)
    line(f"polls {napi.polls_per_s:,.1f}/s   packets {napi.packets_per_s:,.1f}/s   "
         f"{napi.work_mean:.2f}/poll of budget {budget}   exhausted {napi.exhausted_pct:.1f} %")
    cpus = " ".join(f"cpu{c}:{n}" for c, n in napi.polls_per_cpu.items()) or "-"

    if napi.poll_ns_mean is None:
        timing = "poll time -"
    else:
        timing = (f"poll ns avg {napi.poll_ns_mean:,.0f} p50 <={napi.poll_ns_p50 or 0:,} "
                  f"p99 <={napi.poll_ns_p99 or 0:,}")
    line(f"{timing}   polls per CPU {cpus}")
    if len(napi.queues) > 1:
        line("polls per queue " + " ".join(f"rx{q.id}:{q.polls}" for q in napi.queues))

    fixed = len(out) + 1 + 1 + 1  # + the histograms' titles, the ARP rule, the cost line
    room = max(lines_total - fixed, 3)
    arp_min = min(2, max(1, len(arp)))
    all_ns = log2_buckets(napi.poll_ns_hist)
    want = max(len(napi.work_hist), len(all_ns), 1)
    rows = max(1, min(want, room - arp_min, max(3, room // 2), 12))
    work = fit(work_buckets(napi.work_hist, rows), rows)
    ns = fit(all_ns, rows)
    rows = max(len(work), len(ns), 1)
    if width >= 72:
        out += _side_by_side(_bars("packets per poll", work, (width - 2) // 2, rows),
                             _bars("poll time (ns)", ns, (width - 2) // 2, rows), width)
    else:
        out += _bars("packets per poll", work, width, rows)
        fixed += 1
    # ARP, then the probes' cost (one line, or one per program where there is room)
    arp_rows = max(1, min(len(arp), lines_total - len(out) - 2, ARP_LINES_MAX))
    rule("generated ARP requests")
    full = width >= 132
    for ev in list(arp)[-arp_rows:]:
        line(arp_line(ev, wall_offset) if full else arp_short(ev, wall_offset))
    if not arp:
        line(("(none generated)", "dim"))
    spare = lines_total - len(out) - 1
    if cost.progs and spare >= len(cost.progs) + 1:
        rule("probe cost (kernel BPF stats)")
        for name, p in sorted(cost.progs.items()):
            per = f"{p.run_time_ns / p.run_cnt:,.0f}" if p.run_cnt else "-"
            line(f"id {p.id:<6} {name:<34} {p.run_cnt:>10,} runs {per:>8} ns/run")
    line((cost_summary(cost), "dim"))
    return Group(*out[:lines_total])


def xdp_panel(iface: str, describe: str, r: XdpReport, totals: XdpReport) -> Panel:
    """Verdicts per EtherType (this interval, and since attach) beside the driver's counters."""
    t = Table(box=None, title=f"frames per verdict in {r.interval_s:.1f} s (since attach)")
    t.add_column("ethertype", style="bold")
    for a in XDP_ACTIONS:
        t.add_column(a, justify="right")
    for c in (*XDP_CLASSES, "total"):
        now = r.by_action() if c == "total" else {a: r.verdicts.get((c, a), 0) for a in XDP_ACTIONS}
        all_ = totals.by_action() if c == "total" else {a: totals.verdicts.get((c, a), 0) for a in XDP_ACTIONS}
        t.add_row(c, *(f"{now[a]:,} ({all_[a]:,})" for a in XDP_ACTIONS))
    drv = Table(box=None, title="driver (ethtool -S) since attach")
    drv.add_column("counter")
    drv.add_column("value", justify="right")
    for k, v in totals.driver.items():
        drv.add_row(k, f"{v:,}", style="red" if k.endswith("errors") and v else None)
    facts = Text(f"{r.packets_per_s:,.1f} frames/s, program {r.ns_per_run:,.0f} ns/run", style="dim")
    return Panel(Group(Text(describe), t, facts, drv), title=f"XDP {iface}", border_style="cyan")
