"""The console scripts' entry points, and what Ctrl-C does in each phase of a command.

A command goes through three phases, and SIGINT is handled in each:

1. Start-up (this module's import, ``site`` when the interpreter ran with -S, the CLI
   module's imports, click's parsing, ``--help``): nothing needs cleaning up, so the
   handler installed first thing here writes ``prog: interrupted`` and ends the process
   at once with status 130.  It works at any instant, also in the middle of an import
   or inside click, which would otherwise print a traceback or "Aborted!".
2. The command's body (:func:`vnet_ebpf.errors.reported` wraps it in
   :class:`Interruptible`): SIGINT raises KeyboardInterrupt again, so that ``finally``
   blocks run (detach the probes, stop the VM), and ``reported`` turns it into the
   same line and status.  On the way out the start-up handler is back.
3. The tool's own handling, where it has one (vnet-trace once its probes are attached,
   vnet-wire while it forwards): the tool installs its handler inside the body.

SIGTERM ends a command in phase 1 the same way (``prog: terminated``, status 143);
from phase 2 on it is what the tool makes of it.

This module imports nothing at its top but what the interpreter has loaded before any
code of ours runs (the C halves of ``signal`` and ``os``): ``signal.py`` alone imports
``enum`` and ``functools``, which costs more under emulation than the rest of the
interpreter's start.
"""

# No `from __future__ import annotations` either (an import too): the annotations that
# name types of typing and types are strings.
import posix
import sys

#: typing.TYPE_CHECKING without importing typing (it is the costliest of these imports);
#: mypy takes any constant of this name.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import FrameType, TracebackType
    from typing import NoReturn

#: The C module under signal.py; the interpreter has loaded it before running our code.
_signal = __import__("_signal")

INTERRUPTED = 130
TERMINATED = 143
_WORDS = {_signal.SIGINT: "interrupted", _signal.SIGTERM: "terminated"}
_prog = "vnet-ebpf"


def _stop_now(signum: int, frame: "FrameType | None") -> None:
    """Phase 1: one line on stderr and out, with no Python exception to print."""
    # Not contextlib.suppress: contextlib is an import this module does without.
    try:  # noqa: SIM105
        posix.write(2, f"{_prog}: {_WORDS.get(signum, 'stopped')}\n".encode())
    except OSError:
        pass  # no stderr left to say it on: the status still says it
    posix._exit(128 + signum)


def stop_at_once(prog: str) -> None:
    """Phase 1 from now on: SIGINT and SIGTERM end the process as PROG, at once.
    A signal the process was started with ignored (`nohup`, `cmd &` in a script) stays
    ignored, as Python leaves it."""
    global _prog
    _prog = prog
    handled = [signum for signum in _WORDS if _signal.getsignal(signum) != _signal.SIG_IGN]
    for signum in handled:
        _signal.signal(signum, _stop_now)
    # A launcher may have blocked them until now (the lab guest's do, with
    # `env --block-signal`): a Ctrl-C while the interpreter was starting then waits,
    # pending, for this handler, instead of killing the process with nothing said.
    # Unblocked, it is handled here and now.
    _signal.pthread_sigmask(_signal.SIG_UNBLOCK, handled)


class Interruptible:
    """Phase 2 inside the `with`: SIGINT raises KeyboardInterrupt (Python's default);
    whatever handled it before is back on the way out."""

    def __enter__(self) -> None:
        self.previous = _signal.getsignal(_signal.SIGINT)
        # Not for an ignored SIGINT, nor one a C library installed (None), nor outside
        # the main thread, where Python cannot set handlers.
        self.switched = (self.previous not in (None, _signal.SIG_IGN, _signal.default_int_handler)
                         and _on_main_thread())
        if self.switched:
            _signal.signal(_signal.SIGINT, _signal.default_int_handler)

    def __exit__(self, kind: "type[BaseException] | None", err: "BaseException | None",
                 tb: "TracebackType | None") -> None:
        if self.switched:
            _signal.signal(_signal.SIGINT, self.previous)


def _on_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def interrupted(prog: str) -> "NoReturn":
    """A KeyboardInterrupt reached the top of a command: the one line, status 130."""
    print(f"{prog}: interrupted", file=sys.stderr)
    # An object the interrupt left half built (an asyncio loop a library was making)
    # fails in its __del__ at exit, and Python would print that as a traceback: the
    # one line above is all there is to say.
    sys.unraisablehook = lambda _: None
    sys.exit(INTERRUPTED)


def _run(prog: str, module: str) -> "NoReturn":
    stop_at_once(prog)
    if sys.flags.no_site:
        # Started with -S (the lab guest's commands are) so that the handler above is in
        # place before site's work; now that it is, site's search path as usual.
        import site

        site.main()
    __import__(module, fromlist=["main"]).main(prog_name=prog)
    sys.exit(0)  # click's main exits itself; this is for the type checker


def trace() -> "NoReturn":
    """``vnet-trace``."""
    _run("vnet-trace", "vnet_ebpf.trace.cli")


def wire() -> "NoReturn":
    """``vnet-wire``."""
    _run("vnet-wire", "vnet_ebpf.wire.cli")


def lab() -> "NoReturn":
    """``vnet-lab``."""
    _run("vnet-lab", "vnet_ebpf.lab.cli")
