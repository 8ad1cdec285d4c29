"""The life of one tracing command: resolve the device, compile and attach with a spinner,
stop on Ctrl-C or SIGTERM, detach on every way out; and the loop that yields one interval
of counters per INTERVAL seconds.  The commands of vnet_ebpf/trace/cli.py run in it."""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Protocol, TypeVar

from vnet_ebpf import model
from vnet_ebpf.errors import UserError

if TYPE_CHECKING:
    from vnet_ebpf.probes.device import Device
    from vnet_ebpf.probes.tracer import Tracer

COMPILE_NOTE = "compiling and attaching the BPF {what}"


#: Set by SIGINT/SIGTERM.  A flag, not KeyboardInterrupt: a signal that lands while
#: BCC runs our ring-buffer callback would raise inside a ctypes callback, where
#: Python prints the exception and drops it, and the tool would never stop.
STOP = threading.Event()


def on_signal(signum: int, frame: FrameType | None) -> None:
    STOP.set()


class _Attachable(Protocol):
    def __enter__(self) -> object: ...
    def close(self) -> None: ...


class Snapshotting(_Attachable, Protocol):
    """What the interval loop reads: the vnet Tracer and the generic NapiTracer."""

    dev: Device

    def alive(self) -> bool: ...
    def snapshot(self) -> model.Snapshot: ...


A = TypeVar("A", bound=_Attachable)


@contextmanager
def attached(iface: str, make: Callable[[Device], A], quiet: bool, what: str = "probes", command: str = "",
             any_driver: bool = False) -> Iterator[A]:
    """Checks, compile with a spinner, attach; detach on every way out (Ctrl-C, SIGTERM, errors).
    MAKE builds the BPF side (probes or an XDP program) for the resolved device, which
    must be a vnet device unless ANY_DRIVER (COMMAND names the command for the error)."""
    from vnet_ebpf.probes import bccglue, device, emulation

    bccglue.require_root()
    bccglue.import_bcc()
    dev = device.resolve(iface, any_driver=any_driver, command=command)
    hazard = emulation.warning()
    if hazard:
        print(hazard, file=sys.stderr)
    signal.signal(signal.SIGTERM, on_signal)
    bpf = make(dev)
    try:
        # Ctrl-C during the compile raises KeyboardInterrupt out of here (the command
        # reports "interrupted", status 130); once attached it only asks to stop.
        if quiet:
            bpf.__enter__()
        else:
            from rich.console import Console

            with Console(stderr=True).status(COMPILE_NOTE.format(what=what)):
                bpf.__enter__()
        signal.signal(signal.SIGINT, on_signal)
        yield bpf
    finally:
        bpf.close()


def tracing(iface: str, groups: list[str], quiet: bool, shows: list[str] | None = None,
            probes: str = "auto", command: str = "") -> AbstractContextManager[Tracer]:
    """The probes of GROUPS on the vnet device IFACE (PROBES: a --probes choice),
    attached for the duration of a `with`."""
    from vnet_ebpf.probes.tracer import Tracer, probe_kind

    return attached(iface, lambda dev: Tracer(dev, groups, shows, probe_kind(probes)), quiet, command=command)


def napi_tracing(iface: str, quiet: bool, probes: str) -> AbstractContextManager[Snapshotting]:
    """The NAPI polls of IFACE: vnet's own events on a vnet device, else the kernel's
    napi:napi_poll tracepoint (any driver)."""
    from vnet_ebpf.probes.napi import NapiTracer
    from vnet_ebpf.probes.tracer import Tracer, probe_kind

    def make(dev: Device) -> Snapshotting:
        if dev.is_vnet:
            return Tracer(dev, ["poll"], ["work_hist", "poll_ns_hist"], probe_kind(probes))
        if probes not in ("auto", "tracepoint"):
            raise UserError(f"--probes {probes} reaches vnet's functions; {iface} is a {dev.driver} device, "
                            "traced through the kernel's napi:napi_poll tracepoint (--probes auto)")
        return NapiTracer(dev)

    return attached(iface, make, quiet, command="napi", any_driver=True)


def check_alive(tracer: Snapshotting) -> None:
    if not tracer.alive():
        why = "vnet module unloaded or device deleted" if tracer.dev.is_vnet else "device deleted"
        raise UserError(f"{tracer.dev.name} went away while tracing ({why})")


def intervals(tracer: Snapshotting, interval: float, count: int,
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


def every(interval: float, count: int, alive: Callable[[], bool], gone: str) -> Iterator[int]:
    """Once per INTERVAL seconds, COUNT times (0: until stopped by a signal); a UserError
    saying GONE when ALIVE() turns false."""
    n = 0
    while (count == 0 or n < count) and not STOP.wait(interval):
        if not alive():
            raise UserError(gone)
        yield n
        n += 1
