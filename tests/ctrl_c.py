"""Ctrl-C sent to a real command at a chosen instant, and which phase of its start it hit.

Shared by the host tests (tests/unit/test_ctrl_c.py) and the guest's
(tests/vm/test_ctrl_c.py).  The phase is read from the kernel, not guessed from the
clock: the process is stopped (SIGSTOP), its caught signals are read from
/proc/PID/status, SIGINT is queued, and the process continues.  So the outcome belongs
to the phase read, whatever the load of the machine:

- ``exec``: SIGINT is not caught yet, the interpreter has not installed its handler:
  the process dies by the signal, silently (status -2).  Nothing can run earlier.
- ``interpreter``: Python's own handler only (its `site`, the console-script wrapper):
  a KeyboardInterrupt there is the interpreter's, printed before any code of ours runs.
  The send is moved past it (:func:`interrupt` says by how much): it is outside what
  the commands can change, and its length is measured in docs/benchmarks.md.
- ``ours``: SIGTERM is caught too, which only vnet_ebpf.entry's handler and the tools'
  own do: the outcome is the command's, and the tests assert it exactly.
- ``finalizing``: no handler any more, but ours was there: the command's code has ended
  and the interpreter, shutting down, has put the default actions back (death by the
  signal, after the command's output).  Told from ``exec`` by watching the process
  while waiting for the instant.  Only our handler counts (SIGTERM caught): the lab
  guest's commands are `/bin/sh` wrappers that `exec python3`, and dash catches SIGINT
  while it runs a script, so "a SIGINT handler, then none" is also just the exec of the
  interpreter.  A handler of SIGINT alone, the shell's or Python's, is ``interpreter``.
- ``held``: SIGINT is blocked (whatever handles it): the lab guest's launcher blocks it
  before the interpreter starts, and vnet_ebpf.entry unblocks it once its handler is
  in, so the signal waits for ours and the outcome is ours.
- ``exited``: the command had already ended.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

SIGINT_BIT = 1 << (signal.SIGINT - 1)
SIGTERM_BIT = 1 << (signal.SIGTERM - 1)


@dataclass
class Outcome:
    phase: str  # exec, interpreter, held, ours, finalizing or exited
    at: float  # seconds from the spawn to the SIGINT
    moved: float  # seconds the send was moved past the interpreter's phase
    status: int
    stdout: str
    stderr: str

    def describe(self) -> str:
        return (f"SIGINT at {self.at:.3f} s ({self.phase}{f', moved {self.moved:.3f} s' if self.moved else ''}): "
                f"status {self.status}, stderr {self.stderr!r}")


def _default_signals() -> None:
    # As from a terminal: a harness started in the background (`cmd &` in a script)
    # would hand its ignored SIGINT down, and Python keeps an ignored SIGINT ignored.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def spawn(argv: list[str], env: Mapping[str, str] | None = None, cwd: Path | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=cwd, preexec_fn=_default_signals)


def _status_fields(pid: int) -> dict[str, str] | None:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def _freeze(pid: int) -> dict[str, str] | None:
    """Stop PID and return its status once it is stopped (None: it has ended)."""
    os.kill(pid, signal.SIGSTOP)
    while True:
        fields = _status_fields(pid)
        if fields is None or fields["State"].startswith(("Z", "X")):
            return None
        if fields["State"].startswith(("T", "t")):
            return fields
        time.sleep(0.0005)


def _phase(fields: dict[str, str]) -> str:
    if int(fields["SigBlk"], 16) & SIGINT_BIT:
        return "held"
    caught = int(fields["SigCgt"], 16)
    if not caught & SIGINT_BIT:
        return "exec"
    return "ours" if caught & SIGTERM_BIT else "interpreter"


def _has_ours(pid: int) -> bool:
    fields = _status_fields(pid)
    return fields is not None and _phase(fields) == "ours"


def sleep_watching(proc: subprocess.Popen[str], until: float) -> bool:
    """Sleep until UNTIL (time.monotonic()); whether PROC had our handler meanwhile."""
    seen = False
    while (left := until - time.monotonic()) > 0:
        seen = seen or _has_ours(proc.pid)
        time.sleep(min(left, 0.002))
    return seen


def interrupt(proc: subprocess.Popen[str], t0: float, timeout: float = 120, had_handler: bool = True) -> Outcome:
    """SIGINT to PROC now (T0: its spawn, from time.monotonic(); HAD_HANDLER: whether it
    was seen with our handler before); its outcome."""
    moved_from = None
    while True:
        fields = _freeze(proc.pid)
        phase = "exited" if fields is None else _phase(fields)
        if phase == "exec" and had_handler:
            phase = "finalizing"
        if phase != "interpreter":
            break
        moved_from = moved_from or time.monotonic()
        os.kill(proc.pid, signal.SIGCONT)
        time.sleep(0.001)
    at = time.monotonic() - t0
    if phase != "exited":
        os.kill(proc.pid, signal.SIGINT)
        os.kill(proc.pid, signal.SIGCONT)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"no exit within {timeout} s of SIGINT at {at:.3f} s ({phase}): {err[-2000:]}") from None
    moved = time.monotonic() - moved_from if moved_from else 0.0
    return Outcome(phase, at, moved, proc.returncode, out, err)


def interrupt_at(argv: list[str], delay: float, env: Mapping[str, str] | None = None,
                 cwd: Path | None = None, timeout: float = 120) -> Outcome:
    """Start ARGV and send SIGINT DELAY seconds after the spawn."""
    t0 = time.monotonic()
    proc = spawn(argv, env, cwd)
    had_handler = sleep_watching(proc, t0 + delay)
    return interrupt(proc, t0, timeout, had_handler=had_handler)


def interrupt_when(argv: list[str], ready: Path, delay: float, env: Mapping[str, str] | None = None,
                   cwd: Path | None = None, timeout: float = 120) -> Outcome:
    """Start ARGV and send SIGINT DELAY seconds after the file READY appears (a fake
    the command runs makes it, where a long part begins)."""
    t0 = time.monotonic()
    proc = spawn(argv, env, cwd)
    deadline = t0 + timeout
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            out, err = proc.communicate()
            raise AssertionError(f"{ready} never appeared: status {proc.returncode}, {out[-1000:]} {err[-2000:]}")
        time.sleep(0.01)
    time.sleep(delay)
    return interrupt(proc, t0)


def interrupt_after_line(argv: list[str], line: str, delay: float, env: Mapping[str, str] | None = None,
                         timeout: float = 120) -> Outcome:
    """Start ARGV and send SIGINT DELAY seconds after it printed a line starting with LINE
    on stdout (what it prints once its own handling is in place)."""
    t0 = time.monotonic()
    proc = spawn(argv, env)
    assert proc.stdout is not None
    # Straight from the pipe, not through proc.stdout's buffer, which communicate()
    # would not look in.
    fd = proc.stdout.fileno()
    seen = b""
    deadline = t0 + timeout
    while not any(row.startswith(line.encode()) for row in seen.split(b"\n")[:-1]):
        if time.monotonic() > deadline:
            proc.kill()
            proc.communicate()
            raise AssertionError(f"{line!r} never printed: {seen[-2000:]!r}")
        if select.select([fd], [], [], 0.1)[0]:
            chunk = os.read(fd, 65536)
            if not chunk:
                _, err = proc.communicate()
                raise AssertionError(f"{argv} ended before printing {line!r}: {err[-2000:]}")
            seen += chunk
    time.sleep(delay)
    outcome = interrupt(proc, t0, timeout)
    outcome.stdout = seen.decode() + outcome.stdout
    return outcome
