"""``vnet-wire``: join two vnet devices with a wire through /dev/vnet.

What one device transmits the other receives, both ways, until Ctrl-C or SIGTERM (both
a normal end: exit 0 and the counters) or --seconds/--count.  The parsing here is pure
(the unit tests call it); the forwarding is vnet_ebpf.wire.pump's.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import Any, TypeVar

import click

from vnet_ebpf.backend import check_ifname, open_in_netns
from vnet_ebpf.errors import UserError, reported
from vnet_ebpf.units import format_duration, format_rate, parse_duration, parse_percent, parse_rate
from vnet_ebpf.wire.link import Cable, LinkEnd
from vnet_ebpf.wire.pcap import PcapWriter
from vnet_ebpf.wire.pump import Counters, Pump, Shaping, Side

PROG = "vnet-wire"
SCHEMA = "vnet-wire/1"

@dataclass(frozen=True)
class SideSpec:
    """A side as the user names it: DEV, or NETNS/DEV for a device in a named (ip netns) namespace."""

    netns: str | None
    ifname: str

    def __str__(self) -> str:
        return f"{self.netns}/{self.ifname}" if self.netns else self.ifname


def parse_side(text: str) -> SideSpec:
    """DEV or NETNS/DEV; ValueError saying what is wrong."""
    netns, sep, ifname = text.rpartition("/")
    if sep and (not netns or "/" in netns or netns in (".", "..")):
        raise ValueError(f"{text!r} is not DEV or NETNS/DEV")
    try:
        check_ifname(ifname)
    except UserError as err:
        raise ValueError(str(err)) from None
    if ifname in (".", "..") or ":" in ifname:
        raise ValueError(f"bad interface name {ifname!r}")
    return SideSpec(netns or None, ifname)


def describe(shaping: Shaping) -> str:
    parts = []
    if shaping.delay:
        parts.append(f"delay {format_duration(shaping.delay)}")
    if shaping.rate:
        parts.append(f"rate {format_rate(shaping.rate)}")
    if shaping.loss:
        parts.append(f"loss {shaping.loss:g}%")
    return ", ".join(parts)


Row = tuple[str, str, Counters]


def report_obj(seconds: float, rows: list[Row]) -> dict[str, Any]:
    """The --json object (docs: one per run, on stdout)."""
    return {
        "schema": SCHEMA,
        "seconds": round(seconds, 3),
        "directions": [
            {"from": src, "to": dst, "frames": c.frames, "bytes": c.bytes, "dropped_loss": c.dropped_loss,
             "dropped_write": c.dropped_write, "queued": c.queued}
            for src, dst, c in rows
        ],
    }



def report_lines(seconds: float, rows: list[Row]) -> list[str]:
    """The table printed on exit: a header, one line per direction, the run's length."""
    width = max(len(f"{src} -> {dst}") for src, dst, _ in rows)
    lines = [f"{'DIRECTION':<{width}}  {'FRAMES':>10} {'BYTES':>14} {'DROPPED_LOSS':>12} {'DROPPED_WRITE':>13}"
             f" {'QUEUED':>6}"]
    for src, dst, c in rows:
        lines.append(f"{f'{src} -> {dst}':<{width}}  {c.frames:>10} {c.bytes:>14} {c.dropped_loss:>12}"
                     f" {c.dropped_write:>13} {c.queued:>6}")
    lines.append(f"in {seconds:.3f} s")
    return lines


T = TypeVar("T")


def converted(parse: Callable[[str], T]) -> Callable[[click.Context, click.Parameter, str | None], T | None]:
    """A click callback from one of the parse_* functions: its ValueError is a usage
    error (exit 2).  A callback, not a click.ParamType: that is generic from click 8.2
    on and not before, so a subclass cannot be typed for both."""

    def callback(ctx: click.Context, param: click.Parameter, value: str | None) -> T | None:
        if value is None:
            return None
        try:
            return parse(value)
        except ValueError as err:
            raise click.BadParameter(str(err), ctx, param) from None

    return callback


def _wake(signum: int, frame: FrameType | None) -> None:
    """Nothing to do here: the signal's byte in the wake-up pipe ends the pump's poll()."""


@contextmanager
def stop_on_signals(wake_fd: int) -> Iterator[None]:
    """SIGINT and SIGTERM make WAKE_FD's pipe readable instead of raising.

    A KeyboardInterrupt could land between the read of a frame and its write and lose
    it; a byte in a pipe the pump polls ends the run between two rounds instead."""
    old_fd = signal.set_wakeup_fd(wake_fd, warn_on_full_buffer=False)
    old = {sig: signal.signal(sig, _wake) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        signal.set_wakeup_fd(old_fd)


EPILOG = """\b
examples:
    vnet-wire vnet0 vnet1                        # join vnet0 and vnet1, until Ctrl-C
    vnet-wire ns1/vnet0 ns2/vnet1                # devices in two ip netns namespaces
    vnet-wire ns1/vnet0 ns2/vnet1 --pcap w.pcap  # and record what crosses (tcpdump -r w.pcap)
    vnet-wire vnet0 vnet1 --delay 10ms --rate 10M --loss 1 --seed 7
    vnet-wire vnet0 vnet1 --seconds 10 --json    # ten seconds, then the counters as JSON
"""


@click.command(context_settings={"help_option_names": ["-h", "--help"]}, epilog=EPILOG)
@click.version_option(package_name="vnet-ebpf", prog_name=PROG)
@click.argument("a", metavar="A", callback=converted(parse_side))
@click.argument("b", metavar="B", callback=converted(parse_side))
@click.option("--pcap", "pcap_path", metavar="FILE", type=click.Path(dir_okay=False),
              help="Record every frame the wire delivers, both ways, in a pcap file (tcpdump -r FILE).")
@click.option("--delay", callback=converted(parse_duration), metavar="DURATION",
              help="One-way delay, each direction: 10ms, 500us, 1s (poll()'s resolution: 1 ms).")
@click.option("--rate", callback=converted(parse_rate), metavar="RATE",
              help="Bit rate of each direction: 64k, 10M, 1.5G (bit/s of Ethernet frames).")
@click.option("--loss", callback=converted(parse_percent), metavar="PERCENT",
              help="Drop this percentage of frames at random, each direction.")
@click.option("--seed", type=int, default=None, metavar="N", help="Seed --loss's drops, for a repeatable pattern.")
@click.option("--seconds", type=click.FloatRange(min=0, min_open=True), default=None, metavar="SECONDS",
              help="Stop after this many seconds.")
@click.option("--count", type=click.IntRange(min=1), default=None, metavar="N",
              help="Stop after delivering this many frames (both directions together).")
@click.option("--json", "as_json", is_flag=True, help="The counters as one JSON object on stdout.")
@reported(PROG)
def main(a: SideSpec, b: SideSpec, pcap_path: str | None, delay: float | None, rate: float | None,
         loss: float | None, seed: int | None, seconds: float | None, count: int | None, as_json: bool) -> None:
    """Join the vnet devices A and B with a wire: what one transmits, the other receives.

    A and B are DEV, or NETNS/DEV for a device in the network namespace NETNS (ip netns).
    Needs root (/dev/vnet is mode 0600) and the vnet module.  Stops on Ctrl-C or SIGTERM
    (exit 0) and prints what crossed each way.

    With --delay or --rate, frames wait in the wire, at most 1000 a direction; then it
    stops reading that side, as it does whenever the far side's RX ring is full, so the
    near device's TX ring fills rather than the wire dropping frames.
    """
    if a == b:
        raise click.UsageError(f"A and B are the same device ({a})")
    shaping = Shaping(delay=delay or 0.0, rate=rate or 0.0, loss=loss or 0.0, seed=seed)
    with ExitStack() as stack:
        ea = stack.enter_context(open_in_netns(a.netns, a.ifname))
        eb = stack.enter_context(open_in_netns(b.netns, b.ifname))
        pcap = None
        if pcap_path:
            pcap = PcapWriter.create(pcap_path)
            stack.callback(pcap.close)
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        stack.callback(os.close, wake_r)
        stack.callback(os.close, wake_w)
        stack.enter_context(stop_on_signals(wake_w))
        # The cable: each device's carrier follows the other's `ip link set up/down`.
        ends = []
        for side, backend in ((a, ea), (b, eb)):
            if backend.ifindex is None:  # bound by open_in_netns: never
                raise UserError(f"{side} is not bound")
            ends.append(stack.enter_context(closing(LinkEnd(side.netns, backend.ifindex, str(side)))))
        cable = Cable(*ends)
        cable.sync()
        pump = Pump(Side(ea.fd, str(a)), Side(eb.fd, str(b)), shaping=shaping, pcap=pcap, stop_fd=wake_r,
                    watch=dict.fromkeys(cable.fds, cable.on_event))
        if not as_json:
            how = describe(shaping)
            click.echo(f"Wiring {a} <-> {b}{f' ({how})' if how else ''}... Hit Ctrl-C to end.")
        try:
            pump.run(seconds=seconds, count=count)
        finally:
            # Also when a device goes away mid-run: what crossed until then, then the error.
            rows = [(str(a), str(b), pump.counters[0]), (str(b), str(a), pump.counters[1])]
            if as_json:
                click.echo(json.dumps(report_obj(pump.seconds, rows)))
            else:
                for line in report_lines(pump.seconds, rows):
                    click.echo(line)


# `python3 -m vnet_ebpf.wire.cli`; the console script is vnet_ebpf.entry's, which also
# covers Ctrl-C during these imports.
if __name__ == "__main__":
    main()
