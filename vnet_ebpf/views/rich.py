"""Rich renderables for --live screens and `vnet-trace top`."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from vnet_ebpf.model import XDP_ACTIONS, XDP_CLASSES, CostReport, NapiReport, RingsReport, XdpReport
from vnet_ebpf.views.text import linear_rows, log2_rows

BAR = 30


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
    filled = round(width * now / size) if size else 0
    style = "red" if size and now >= size else "yellow" if size and now * 2 >= size else "green"
    return Text("█" * filled, style=style) + Text("░" * (width - filled), style="dim")


def napi_panel(iface: str, r: NapiReport) -> Panel:
    summary = Table(box=None, show_header=False)
    summary.add_column(style="bold")
    summary.add_column(justify="right")
    summary.add_row("polls/s", f"{r.polls_per_s:,.1f}")
    summary.add_row("packets/s", f"{r.packets_per_s:,.1f}")
    summary.add_row("packets/poll", f"{r.work_mean:.2f} of budget {r.budget}")
    summary.add_row("budget exhausted", f"{r.exhausted_pct:.1f} %")
    summary.add_row("poll time", f"avg {r.poll_ns_mean:,.0f} ns, p99 <= {r.poll_ns_p99 or 0:,} ns")
    cpus = "  ".join(f"cpu{c}:{n}" for c, n in r.polls_per_cpu.items()) or "-"
    summary.add_row("polls per CPU", cpus)
    if r.over_budget:
        summary.add_row(Text("over budget", style="red"), Text(str(r.over_budget), style="red"))
    body = Group(
        summary,
        _hist_table("packets per poll", linear_rows(r.work_hist)),
        _hist_table("poll duration (ns)", log2_rows(r.poll_ns_hist)),
    )
    return Panel(body, title=f"NAPI {iface}", border_style="blue")


def rings_panel(iface: str, r: RingsReport) -> Panel:
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
    body = Group(
        t, facts,
        _hist_table(f"TX occupancy at xmit (of {r.tx_size})", log2_rows(r.tx_hist)),
        _hist_table(f"RX occupancy at poll (of {r.rx_size})", log2_rows(r.rx_hist)),
    )
    return Panel(body, title=f"rings {iface}", border_style="magenta")


def cost_panel(c: CostReport) -> RenderableType:
    if not c.progs:
        return Text("probe cost: unavailable", style="dim")
    t = Table(box=None, title="what the probes cost (kernel BPF stats)")
    t.add_column("program")
    t.add_column("runs", justify="right")
    t.add_column("ns/run", justify="right")
    for name, p in sorted(c.progs.items()):
        t.add_row(name, f"{p.run_cnt:,}", f"{p.run_time_ns / p.run_cnt:,.0f}" if p.run_cnt else "-")
    t.add_row(Text("total", style="bold"), f"{c.run_cnt:,}", f"{c.ns_per_run:,.0f}")
    return Group(t, Text(f"{c.cpu_pct:.3f} % of one CPU", style="dim"))


def top_screen(iface: str, napi: NapiReport, rings: RingsReport, cost: CostReport,
               arp_lines: Sequence[str]) -> RenderableType:
    grid = Table.grid(expand=True)
    grid.add_column(ratio=1)
    grid.add_column(ratio=1)
    grid.add_row(rings_panel(iface, rings), napi_panel(iface, napi))
    arp = Panel(Text("\n".join(arp_lines[-6:]) or "(no ARP frames generated)"), title="generated ARP frames",
                border_style="green")
    return Group(grid, arp, cost_panel(cost))


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
