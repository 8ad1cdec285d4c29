"""The host terminal's size, handed to the guest so that its console (and Rich's screens
in it) fits the window the user sees, and follows it when the window is resized."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import FrameType


def stdout_is_tty() -> bool:
    try:
        return os.isatty(sys.stdout.fileno())
    except (OSError, ValueError):  # no file descriptor (captured), or closed
        return False


def host_terminal_size() -> tuple[int, int]:
    """(rows, columns) of the host terminal the guest's console is shown on.

    The terminal's own size when stdout is one (not $COLUMNS/$LINES, which a shell
    may have exported once and would then hide every resize); otherwise
    shutil's answer: $COLUMNS/$LINES if set, else 80x24.
    """
    if stdout_is_tty():
        try:
            size = os.get_terminal_size(sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        else:
            if size.lines > 0 and size.columns > 0:
                return size.lines, size.columns
    fallback = shutil.get_terminal_size()
    return fallback.lines, fallback.columns


def write_winsize(ctl: Path) -> tuple[int, int]:
    """Write the host terminal's size to CTL/winsize as "ROWS COLS" and return it.

    The guest polls that file and applies it to its console with stty.  A file of
    its own renamed into place: the guest never reads half a size, and a resize
    handled in the middle of this write cannot collide with it.  SIGWINCH waits
    while the size is read and written, so that a resize right after the read is
    written after this (older) size, not before it.
    """
    masked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGWINCH})
    try:
        rows, cols = host_terminal_size()
        fd, tmp = tempfile.mkstemp(prefix=".winsize.", dir=ctl)
        with os.fdopen(fd, "w") as f:
            f.write(f"{rows} {cols}\n")
        os.replace(tmp, ctl / "winsize")
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, masked)
    return rows, cols


@contextlib.contextmanager
def follow_terminal_size(ctl: Path) -> Iterator[bool]:
    """While in the block, a resize of the host terminal rewrites CTL/winsize.

    Yields whether the host's stdout is a terminal at all: if not, there is no
    size to follow and the guest need not poll.  The previous SIGWINCH handler is
    back on the way out.
    """
    if not stdout_is_tty():
        yield False
        return

    def on_winch(signum: int, frame: FrameType | None) -> None:
        # Runs wherever the main thread is: a failed write must not end the run.
        with contextlib.suppress(OSError):
            write_winsize(ctl)

    old = signal.signal(signal.SIGWINCH, on_winch)
    try:
        yield True
    finally:
        signal.signal(signal.SIGWINCH, old)
