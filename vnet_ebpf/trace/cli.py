"""``vnet-trace``: the tracer's command line.

Like the bcc tools: positional ``[interval] [count]``, a header line, then one row per
interval.  The device is ``-i/--interface``, as in tcpdump and ip (in the bcc tools
``-i`` is the interval, and netqtop names its device ``-n``).
"""

from __future__ import annotations

import signal
import sys
import time
from collections import deque
from collections.abc import Callable
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any, TypeVar

import click

from vnet_ebpf import model
from vnet_ebpf.errors import reported
from vnet_ebpf.trace.session import (
    STOP,
    Snapshotting,
    attached,
    check_alive,
    every,
    intervals,
    napi_tracing,
    on_signal,
    tracing,
)
from vnet_ebpf.views import ndjson, text

# Rich's screens, BCC, pyroute2 and the probes are imported by the commands that use
# them: `--help` and a usage error need none of them, and under emulation they cost
# seconds (docs/benchmarks.md).
if TYPE_CHECKING:
    from rich.live import Live

    from vnet_ebpf.probes.xdp import XdpConfig

PROG = "vnet-trace"

iface_option = click.option("-i", "--interface", "iface", default="vnet0", show_default=True,
                            help="The device to trace (as tcpdump -i).")
json_option = click.option("--json", "as_json", is_flag=True, help="One JSON object per line (NDJSON).")
interval_arg = click.argument("interval", type=click.FloatRange(min=0.1), default=1.0, required=False)
count_arg = click.argument("count", type=click.IntRange(min=0), default=0, required=False)
#: Said in every interval command's help, as bcc's tools say it.
INTERVAL_COUNT = ("INTERVAL is the seconds between reports (default 1, at least 0.1); COUNT is how many "
                  "reports to print before exiting (default 0: until Ctrl-C).")
probes_option = click.option(
    "--probes", type=click.Choice(["auto", "tracepoint", "fentry", "kprobe"]), default="auto",
    show_default=True,
    help="How to reach the driver: its trace events (cheapest on the hot path), fentry/fexit on "
         "its functions (needs BCC >= 0.28 and vnet.ko with BTF) or kprobes on them (anywhere).  "
         "auto: the first of these the kernel, BCC and vnet.ko offer.")


def emit(line: str) -> None:
    print(line, flush=True)


R = TypeVar("R")


def print_reports(iface: str, tracer: Snapshotting, interval: float, count: int, as_json: bool, header: str,
                  report: Callable[[model.Interval], R], obj: Callable[[str, R, model.CostReport], dict[str, Any]],
                  lines: Callable[[R], list[str]]) -> None:
    """The interval loop of napi and rings: each interval's REPORT as one NDJSON object
    (OBJ), or as text rows (LINES) under HEADER with the probes' cost on a line of its own."""
    if not as_json:
        emit(header)
    for iv in intervals(tracer, interval, count):
        r, cost = report(iv), model.cost_report(iv)
        if as_json:
            emit(ndjson.dumps(obj(iface, r, cost)))
        else:
            for line in lines(r):
                emit(line)
            emit(text.cost_line(cost))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="vnet-ebpf", prog_name=PROG)
def main() -> None:
    """Trace the vnet driver with BCC: rings, NAPI batching, ARP generation, XDP;
    and NAPI batching and queues of any network device.

    Needs root and BCC's Python bindings (python3-bpfcc); the vnet views need the vnet
    module loaded.  `queues` needs neither.
    """


def examples(*lines: str, intervals: bool = True) -> str:
    """The end of a command's --help, in the bcc tools' manner: what INTERVAL and COUNT
    mean (for the commands that take them), then examples."""
    head = INTERVAL_COUNT + "\n\n" if intervals else ""
    return head + "\b\nexamples:\n" + "\n".join(f"    {line}" for line in lines)


@main.command(epilog=examples(
    "vnet-trace napi                  # vnet0's NAPI polls, a report a second, until Ctrl-C",
    "vnet-trace napi 5 3              # three 5-second reports",
    "vnet-trace napi -i eth0          # any driver's NAPI (the napi:napi_poll tracepoint)",
    "vnet-trace napi --json 1 10      # ten NDJSON objects (docs/json.md)",
))
@iface_option
@json_option
@probes_option
@interval_arg
@count_arg
@reported(PROG)
def napi(iface: str, as_json: bool, probes: str, interval: float, count: int) -> None:
    """NAPI batching: polls/s, packets per poll against the budget, poll time, per CPU.

    On a vnet device from vnet's own events (poll time included); on any other device
    from the kernel's napi:napi_poll tracepoint, which has no poll time.
    """
    with napi_tracing(iface, as_json, probes) as tracer:
        if not as_json:
            emit(f"Tracing NAPI polls of {iface}... Hit Ctrl-C to end.")
        print_reports(iface, tracer, interval, count, as_json, text.NAPI_HEADER, model.napi_report, ndjson.napi_obj,
                      text.napi_lines)


@main.command(epilog=examples(
    "vnet-trace rings                 # a row a second: occupancy, stops/wakes, BQL, completions",
    "vnet-trace rings --live          # the same as a live screen",
    "vnet-trace rings --json 0.5 20   # twenty NDJSON objects, two a second",
))
@iface_option
@json_option
@click.option("--live", is_flag=True, help="A live screen refreshed every interval.")
@probes_option
@interval_arg
@count_arg
@reported(PROG)
def rings(iface: str, as_json: bool, live: bool, probes: str, interval: float, count: int) -> None:
    """TX/RX ring occupancy (now, max, histogram), queue stops/wakes, BQL, TX completions."""
    if live and as_json:
        raise click.UsageError("--live and --json do not go together")
    from vnet_ebpf.views import rich as rviews

    with tracing(iface, ["xmit", "poll", "txc"], as_json,
                 shows=["tx_hist", "rx_hist", "freed_hist", "driver"], probes=probes, command="rings") as tracer:
        if live:
            with live_screen() as screen:
                for iv in intervals(tracer, interval, count):
                    # The queue rows fit what the terminal has beside the histograms.
                    rows = max(2, screen.console.size.height - rviews.RINGS_PANEL_LINES)
                    screen.update(rviews.rings_panel(iface, model.rings_report(iv), model.cost_report(iv),
                                                     queue_rows=rows), refresh=True)
            return
        if not as_json:
            emit(f"Tracing the rings of {iface}... Hit Ctrl-C to end.")
        print_reports(iface, tracer, interval, count, as_json, text.RINGS_HEADER, model.rings_report,
                      ndjson.rings_obj, text.rings_lines)


@main.command(epilog=examples(
    "vnet-trace arp                   # every generated ARP request, until Ctrl-C",
    "vnet-trace arp -c 5 --json       # five of them as NDJSON, then a summary object",
    intervals=False,
))
@iface_option
@json_option
@click.option("-c", "--count", "limit", type=click.IntRange(min=0), default=0,
              help="Exit after this many frames (0: until interrupted).")
@probes_option
@reported(PROG)
def arp(iface: str, as_json: bool, limit: int, probes: str) -> None:
    """One line per ARP frame the driver generates, like tcpdump -e -n."""
    seen = 0
    wall = time.time() - time.monotonic()  # bpf_ktime_get_ns is CLOCK_MONOTONIC

    def show(ev: model.ArpEvent) -> None:
        nonlocal seen
        if limit and seen >= limit:
            return
        seen += 1
        emit(ndjson.dumps(ndjson.arp_obj(iface, ev, wall)) if as_json else text.arp_line(ev, wall))

    with tracing(iface, ["arp"], as_json, shows=[], probes=probes, command="arp") as tracer:
        tracer.open_arp(show)
        if not as_json:
            emit(f"Tracing ARP frames generated by {iface}... Hit Ctrl-C to end.")
        try:
            last_check = time.monotonic()
            while (not limit or seen < limit) and not STOP.is_set():
                tracer.poll_arp(200)
                if time.monotonic() - last_check > 1:
                    check_alive(tracer)
                    last_check = time.monotonic()
        finally:
            counters = tracer.snapshot().counters if tracer.bpf is not None else {}
            lost = counters.get("arp_lost", 0)
            if as_json:
                emit(ndjson.dumps(ndjson.arp_summary_obj(iface, seen, lost, time.time())))
            elif lost:
                print(f"{PROG}: {lost} events lost (ring buffer full)", file=sys.stderr)


def live_screen() -> Live:
    """A Rich Live screen redrawn when a report arrives (once an interval), not on a timer."""
    from rich.console import Console
    from rich.live import Live

    return Live(console=Console(), auto_refresh=False, screen=False, redirect_stderr=False)


def show_top(iface: str, interval: float, count: int, after_attach: Callable[[], None] | None = None,
             before_detach: Callable[[], None] | None = None, probes: str = "auto") -> None:
    """The `top` screen.  AFTER_ATTACH runs once the probes are attached, BEFORE_DETACH
    while they still are (the demo starts and stops its traffic there)."""
    from vnet_ebpf.views import rich as rviews

    arp_events: deque[model.ArpEvent] = deque(maxlen=rviews.ARP_LINES_MAX)
    wall = time.time() - time.monotonic()
    with tracing(iface, ["xmit", "poll", "txc", "arp"], False, probes=probes, command="top") as tracer:
        tracer.open_arp(arp_events.append)
        if after_attach:
            after_attach()
        try:
            with live_screen() as screen:
                for iv in intervals(tracer, interval, count, tick=lambda s: tracer.poll_arp(int(s * 1000))):
                    screen.update(rviews.top_screen(iface, model.napi_report(iv), model.rings_report(iv),
                                                    model.cost_report(iv), list(arp_events), wall,
                                                    tracer.kind, size=screen.console.size),
                                  refresh=True)
        finally:
            if before_detach:
                before_detach()


def _describe(cfg: XdpConfig, iface: str) -> str:
    rules = ["drop ARP"] if cfg.drop_arp else []
    if cfg.drop_every:
        rules.append(f"drop 1 frame in {cfg.drop_every}")
    rest = {"pass": "XDP_PASS", "tx": "XDP_TX (back out of " + iface + ")",
            "redirect": f"XDP_REDIRECT to {cfg.redirect}"}[cfg.action]
    return f"{cfg.mode} XDP on {iface}: " + ", ".join([*rules, f"{'the rest' if rules else 'every frame'}: {rest}"])


#: --mode names: ours, and those of xdp-loader (skb, native) and iproute2 (xdpdrv, xdpgeneric).
XDP_MODES = {"native": "native", "drv": "native", "xdpdrv": "native",
             "generic": "generic", "skb": "generic", "xdpgeneric": "generic"}


@main.command(epilog=examples(
    "vnet-trace xdp                   # count frames per EtherType and verdict, pass them all",
    "vnet-trace xdp --drop-arp --live # drop ARP, on a live screen",
    "vnet-trace xdp --mode skb --tx   # generic XDP bouncing every frame back out",
    "vnet-trace xdp --redirect vnet1  # XDP_REDIRECT to vnet1 through a devmap",
))
@iface_option
@json_option
@click.option("--live", is_flag=True, help="A live screen refreshed every interval.")
@click.option("--mode", type=click.Choice(list(XDP_MODES)), default="native", show_default=True,
              help="native (also drv, xdpdrv): run in the driver's NAPI poll; generic (also skb, xdpgeneric): "
                   "the kernel's skb-based fallback.")
@click.option("--drop-arp", is_flag=True, help="Drop ARP frames.")
@click.option("--drop-every", type=click.IntRange(min=1), default=None, metavar="N",
              help="Drop every Nth frame (counted per CPU).")
@click.option("--tx", "bounce", is_flag=True, help="XDP_TX what is not dropped: out of the same device.")
@click.option("--redirect", metavar="IFACE", help="XDP_REDIRECT what is not dropped to IFACE (a devmap).")
@click.option("--force", is_flag=True, help="Replace an XDP program vnet-trace did not attach.")
@interval_arg
@count_arg
@reported(PROG)
def xdp(iface: str, as_json: bool, live: bool, mode: str, drop_arp: bool, drop_every: int | None, bounce: bool,
        redirect: str | None, force: bool, interval: float, count: int) -> None:
    """Attach an XDP program that counts frames per EtherType and verdict; detach it on exit.

    By default it passes everything.  --drop-arp and --drop-every decide drops; --tx or
    --redirect IFACE decide what happens to the rest.
    """
    from vnet_ebpf.probes.xdp import XdpConfig, XdpProgram
    from vnet_ebpf.views import rich as rviews

    if live and as_json:
        raise click.UsageError("--live and --json do not go together")
    if bounce and redirect:
        raise click.UsageError("--tx and --redirect do not go together")
    mode = XDP_MODES[mode]
    cfg = XdpConfig(mode=mode, drop_arp=drop_arp, drop_every=drop_every or 0,
                    action="tx" if bounce else "redirect" if redirect else "pass", redirect=redirect, force=force)
    program = {"mode": mode, "drop_arp": drop_arp, "drop_every": cfg.drop_every, "action": cfg.action,
               "redirect": redirect}
    with attached(iface, lambda dev: XdpProgram(dev, cfg), as_json, what="XDP program", command="xdp") as prog:
        # From the driver's counters read just before the attach: "since attach" covers
        # exactly the frames the program saw.
        first = prev = model.XdpSnapshot(t=time.monotonic(), verdicts={}, driver=prog.before, wall=time.time())
        if not (as_json or live):
            emit(f"{_describe(cfg, iface)}. Hit Ctrl-C to end.")
            emit(text.XDP_HEADER)
        screen = live_screen() if live else None
        with screen if screen is not None else nullcontext():
            for _ in every(interval, count, prog.alive, f"{iface} went away while its XDP program was attached"):
                cur = prog.snapshot()
                r = model.xdp_report(prev, cur)
                if as_json:
                    emit(ndjson.dumps(ndjson.xdp_obj(iface, program, r)))
                elif screen is not None:
                    screen.update(rviews.xdp_panel(iface, _describe(cfg, iface), r, model.xdp_report(first, cur)),
                                  refresh=True)
                else:
                    emit(text.xdp_line(r))
                prev = cur
        if as_json and prog.alive():
            emit(ndjson.dumps(ndjson.xdp_obj(iface, program, model.xdp_report(first, prog.snapshot()),
                                             schema="vnet-trace.xdp-summary/2")))


@main.command(epilog=examples(
    "vnet-trace top                   # refreshed every second until Ctrl-C",
    "vnet-trace top 2 30              # every 2 seconds, 30 times",
))
@iface_option
@probes_option
@interval_arg
@count_arg
@reported(PROG)
def top(iface: str, probes: str, interval: float, count: int) -> None:
    """Everything on one live screen: rings, NAPI, generated ARP frames, probe cost.

    It fits the terminal (80x24 and up) and follows its size.
    """
    show_top(iface, interval, count, probes=probes)


@main.command(epilog=examples(
    "vnet-trace queues -i eth0        # a row per queue per second",
    "vnet-trace queues -i eth0 --json # NDJSON (docs/json.md)",
))
@iface_option
@json_option
@interval_arg
@count_arg
@reported(PROG)
def queues(iface: str, as_json: bool, interval: float, count: int) -> None:
    """Per-queue packets, bytes, queue stops/wakes and BQL of any device.

    The counters come from netlink qstats (Linux 6.9+, drivers that report them), else
    the device's totals in /sys/class/net/DEV/statistics; BQL from each TX queue's
    byte_queue_limits/.  Needs neither root nor BPF.
    """
    from vnet_ebpf.probes import device, qstats

    dev = device.resolve(iface, any_driver=True)
    reader = qstats.QueueReader(dev)
    try:
        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        prev = reader.snapshot()
        if not as_json:
            where = "netlink qstats" if prev.source == "qstats" else "sysfs (no per-queue counters: device totals)"
            emit(f"Queues of {iface} ({dev.driver}), counters from {where}... Hit Ctrl-C to end.")
            emit(text.QUEUES_HEADER)
        for _ in every(interval, count, reader.alive, f"{iface} went away while its queues were read"):
            cur = reader.snapshot()
            r = model.queues_report(prev, cur)
            if as_json:
                emit(ndjson.dumps(ndjson.queues_obj(iface, r)))
            else:
                for line in text.queues_lines(r):
                    emit(line)
            prev = cur
    finally:
        reader.close()


@main.command(epilog=examples(
    "vnet-trace regs                  # vnet0's registers, decoded",
    "vnet-trace regs --json           # one NDJSON object (docs/json.md)",
    "ethtool -d vnet0                 # the same words, as ethtool's hex dump",
    intervals=False,
))
@iface_option
@json_option
@reported(PROG)
def regs(iface: str, as_json: bool) -> None:
    """The simulated NIC's registers (ethtool -d), decoded: ring indexes, doorbell, IRQ state.

    The words come from the same ioctl ethtool -d uses; their map is in
    kmod/vnet_uapi.h.  Needs root, as ethtool -d does.
    """
    from vnet_ebpf import regs as vregs
    from vnet_ebpf.probes import device

    device.resolve(iface, command="regs")
    r = vregs.read(iface)
    if as_json:
        emit(ndjson.dumps(ndjson.regs_obj(iface, r, time.time())))
    else:
        for line in text.regs_lines(iface, r):
            emit(line)


# `python3 -m vnet_ebpf.trace.cli`; the console script is vnet_ebpf.entry's, which also
# covers Ctrl-C during these imports.
if __name__ == "__main__":
    main(prog_name=PROG)
