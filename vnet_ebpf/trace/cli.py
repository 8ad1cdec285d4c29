"""``vnet-trace``: the tracer's command line (bcc conventions: -i, [interval] [count])."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from types import FrameType
from typing import TYPE_CHECKING, Protocol, TypeVar

import click
from rich.console import Console
from rich.live import Live

from vnet_ebpf import model
from vnet_ebpf.errors import UserError, reported
from vnet_ebpf.probes.xdp import XdpConfig
from vnet_ebpf.views import ndjson, text
from vnet_ebpf.views import rich as rviews

if TYPE_CHECKING:
    from vnet_ebpf.probes.device import Device
    from vnet_ebpf.probes.tracer import Tracer

PROG = "vnet-trace"
COMPILE_NOTE = "compiling and attaching the BPF {what} (about 35 s under emulation)"

iface_option = click.option("-i", "--interface", "iface", default="vnet0", show_default=True,
                            help="The vnet device to trace.")
json_option = click.option("--json", "as_json", is_flag=True, help="One JSON object per line (NDJSON).")
interval_arg = click.argument("interval", type=click.FloatRange(min=0.1), default=1.0, required=False)
count_arg = click.argument("count", type=click.IntRange(min=0), default=0, required=False)
probes_option = click.option(
    "--probes", type=click.Choice(["auto", "tracepoint", "fentry", "kprobe"]), default="auto",
    show_default=True,
    help="How to reach the driver: its trace events (cheapest on the hot path), fentry/fexit on "
         "its functions (needs BCC >= 0.28 and vnet.ko with BTF) or kprobes on them (anywhere).  "
         "auto: the first of these the kernel, BCC and vnet.ko offer.")


#: Set by SIGINT/SIGTERM.  A flag, not KeyboardInterrupt: a signal that lands while
#: BCC runs our ring-buffer callback would raise inside a ctypes callback, where
#: Python prints the exception and drops it, and the tool would never stop.
STOP = threading.Event()


def _on_signal(signum: int, frame: FrameType | None) -> None:
    STOP.set()


class _Attachable(Protocol):
    def __enter__(self) -> object: ...
    def close(self) -> None: ...


A = TypeVar("A", bound=_Attachable)


@contextmanager
def attached(iface: str, make: Callable[[Device], A], quiet: bool, what: str = "probes") -> Iterator[A]:
    """Checks, compile with a spinner, attach; detach on every way out (Ctrl-C, SIGTERM, errors).
    MAKE builds the BPF side (probes or an XDP program) for the resolved device."""
    from vnet_ebpf.probes import bccglue, device, emulation

    bccglue.require_root()
    bccglue.import_bcc()
    dev = device.resolve(iface)
    hazard = emulation.warning()
    if hazard:
        print(hazard, file=sys.stderr)
    signal.signal(signal.SIGTERM, _on_signal)
    bpf = make(dev)
    try:
        # Ctrl-C during the compile interrupts it; after that it only asks to stop.
        if quiet:
            bpf.__enter__()
        else:
            with Console(stderr=True).status(COMPILE_NOTE.format(what=what)):
                bpf.__enter__()
        signal.signal(signal.SIGINT, _on_signal)
        yield bpf
    except KeyboardInterrupt:
        pass
    finally:
        bpf.close()


def tracing(iface: str, groups: list[str], quiet: bool, shows: list[str] | None = None,
            probes: str = "auto") -> AbstractContextManager[Tracer]:
    """The probes of GROUPS on IFACE (PROBES: a --probes choice), attached for the
    duration of a `with`."""
    from vnet_ebpf.probes.tracer import Tracer, probe_kind

    return attached(iface, lambda dev: Tracer(dev, groups, shows, probe_kind(probes)), quiet)


def check_alive(tracer: Tracer) -> None:
    if not tracer.alive():
        raise UserError(f"{tracer.dev.name} went away while tracing (vnet module unloaded or device deleted)")


def intervals(tracer: Tracer, interval: float, count: int,
              tick: Callable[[float], None] | None = None) -> Iterator[model.Interval]:
    """One Interval per INTERVAL seconds, COUNT times (0: until interrupted)."""
    prev = tracer.snapshot()
    n = 0
    while count == 0 or n < count:
        deadline = time.monotonic() + interval
        while (left := deadline - time.monotonic()) > 0 and not STOP.is_set():
            if tick:
                tick(min(left, 0.2))
            else:
                # One wake-up per interval: a signal's handler sets STOP, which ends the wait.
                STOP.wait(left)
        if STOP.is_set():
            return
        check_alive(tracer)
        cur = tracer.snapshot()
        yield model.interval(prev, cur)
        prev = cur
        n += 1


def emit(line: str) -> None:
    print(line, flush=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="vnet-ebpf", prog_name=PROG)
def main() -> None:
    """Trace the vnet driver with BCC: rings, NAPI batching, ARP generation, XDP.

    Needs root, BCC's Python bindings (python3-bpfcc) and the vnet module loaded.
    """


@main.command()
@iface_option
@json_option
@probes_option
@interval_arg
@count_arg
@reported(PROG)
def napi(iface: str, as_json: bool, probes: str, interval: float, count: int) -> None:
    """NAPI batching: polls/s, packets per poll against the budget, poll time, per CPU."""
    with tracing(iface, ["poll"], as_json, shows=["work_hist", "poll_ns_hist"], probes=probes) as tracer:
        if not as_json:
            emit(f"Tracing NAPI polls of {iface}... Hit Ctrl-C to end.")
            emit(text.NAPI_HEADER)
        for iv in intervals(tracer, interval, count):
            r = model.napi_report(iv)
            if as_json:
                emit(ndjson.dumps(ndjson.napi_obj(iface, r, model.cost_report(iv))))
            else:
                for line in text.napi_lines(r):
                    emit(line)
                emit(text.cost_line(model.cost_report(iv)))


@main.command()
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
    with tracing(iface, ["xmit", "poll", "txc"], as_json,
                 shows=["tx_hist", "rx_hist", "freed_hist", "driver"], probes=probes) as tracer:
        if live:
            console = Console()
            with Live(console=console, refresh_per_second=4, screen=False) as screen:
                for iv in intervals(tracer, interval, count):
                    screen.update(rviews.rings_panel(iface, model.rings_report(iv)))
            return
        if not as_json:
            emit(f"Tracing the rings of {iface}... Hit Ctrl-C to end.")
            emit(text.RINGS_HEADER)
        for iv in intervals(tracer, interval, count):
            r = model.rings_report(iv)
            if as_json:
                emit(ndjson.dumps(ndjson.rings_obj(iface, r, model.cost_report(iv))))
            else:
                for line in text.rings_lines(r):
                    emit(line)


@main.command()
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
        emit(ndjson.dumps(ndjson.arp_obj(iface, ev)) if as_json else text.arp_line(ev, wall))

    with tracing(iface, ["arp"], as_json, shows=[], probes=probes) as tracer:
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
                emit(ndjson.dumps(ndjson.arp_summary_obj(iface, seen, lost)))
            elif lost:
                print(f"{PROG}: {lost} events lost (ring buffer full)", file=sys.stderr)


def show_top(iface: str, interval: float, count: int, after_attach: Callable[[], None] | None = None,
             before_detach: Callable[[], None] | None = None, probes: str = "auto") -> None:
    """The `top` screen.  AFTER_ATTACH runs once the probes are attached, BEFORE_DETACH
    while they still are (the demo starts and stops its traffic there)."""
    arp_lines: deque[str] = deque(maxlen=6)
    wall = time.time() - time.monotonic()
    with tracing(iface, ["xmit", "poll", "txc", "arp"], False, probes=probes) as tracer:
        tracer.open_arp(lambda ev: arp_lines.append(text.arp_line(ev, wall)))
        if after_attach:
            after_attach()
        console = Console()
        try:
            with Live(console=console, refresh_per_second=4, screen=False) as screen:
                for iv in intervals(tracer, interval, count, tick=lambda s: tracer.poll_arp(int(s * 1000))):
                    screen.update(rviews.top_screen(iface, model.napi_report(iv), model.rings_report(iv),
                                                    model.cost_report(iv), list(arp_lines)))
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


@main.command()
@iface_option
@json_option
@click.option("--live", is_flag=True, help="A live screen refreshed every interval.")
@click.option("--mode", type=click.Choice(["native", "generic"]), default="native", show_default=True,
              help="native: run in the driver's NAPI poll; generic: the kernel's skb-based fallback.")
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
    from vnet_ebpf.probes.xdp import XdpProgram

    if live and as_json:
        raise click.UsageError("--live and --json do not go together")
    if bounce and redirect:
        raise click.UsageError("--tx and --redirect do not go together")
    cfg = XdpConfig(mode=mode, drop_arp=drop_arp, drop_every=drop_every or 0,
                    action="tx" if bounce else "redirect" if redirect else "pass", redirect=redirect, force=force)
    program = {"mode": mode, "drop_arp": drop_arp, "drop_every": cfg.drop_every, "action": cfg.action,
               "redirect": redirect}
    with attached(iface, lambda dev: XdpProgram(dev, cfg), as_json, what="XDP program") as prog:
        # From the driver's counters read just before the attach: "since attach" covers
        # exactly the frames the program saw.
        first = prev = model.XdpSnapshot(t=time.monotonic(), verdicts={}, driver=prog.before)
        if not (as_json or live):
            emit(f"{_describe(cfg, iface)}. Hit Ctrl-C to end.")
            emit(text.XDP_HEADER)
        screen = Live(console=Console(), refresh_per_second=4, screen=False) if live else nullcontext()
        with screen:
            n = 0
            while (count == 0 or n < count) and not STOP.wait(interval):
                if not prog.alive():
                    raise UserError(f"{iface} went away while its XDP program was attached")
                cur = prog.snapshot()
                r = model.xdp_report(prev, cur)
                if as_json:
                    emit(ndjson.dumps(ndjson.xdp_obj(iface, program, r)))
                elif isinstance(screen, Live):
                    screen.update(rviews.xdp_panel(iface, _describe(cfg, iface), r, model.xdp_report(first, cur)))
                else:
                    emit(text.xdp_line(r))
                prev = cur
                n += 1
        if as_json and prog.alive():
            emit(ndjson.dumps(ndjson.xdp_obj(iface, program, model.xdp_report(first, prog.snapshot()),
                                             schema="vnet-trace.xdp-summary/1")))


@main.command()
@iface_option
@probes_option
@interval_arg
@count_arg
@reported(PROG)
def top(iface: str, probes: str, interval: float, count: int) -> None:
    """Everything on one live screen: rings, NAPI, generated ARP frames, probe cost."""
    show_top(iface, interval, count, probes=probes)


if __name__ == "__main__":
    main(prog_name=PROG if os.environ.get("VNET_LAB_IN_GUEST") else None)
