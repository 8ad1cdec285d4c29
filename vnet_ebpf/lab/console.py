"""The guest's serial console as the host reads it: the command's output, shown live,
and the guest init's status marks (lines starting with ``@@vnet-lab@@``), which are not."""

from __future__ import annotations

import sys
from pathlib import Path

MARK = b"@@vnet-lab@@ "


def held(pending: bytes) -> int:
    """How many bytes at the end of PENDING (no newline in it) are or may begin a
    mark, or may be the \r of a \r\n, and so are not shown yet."""
    at = pending.find(MARK)
    if at >= 0:
        return len(pending) - at
    for n in range(min(len(pending), len(MARK)), 0, -1):
        if MARK.startswith(pending[-n:]):
            return n
    return 1 if pending.endswith(b"\r") else 0


class Console:
    """Splits the serial stream into the user's output and the guest's marks."""

    def __init__(self, log: Path, quiet: bool) -> None:
        self.log = log.open("wb")
        self.quiet = quiet
        self.started = False
        self.status: int | None = None
        self.pending = b""
        self.before_start = b""

    def feed(self, data: bytes) -> None:
        self.log.write(data)
        # The guest's tty ends lines with \r\n; a lone \r is the program's own (Rich
        # Live goes back to column 0 with it before redrawing) and stays.  A \r at the
        # end of PENDING may be half of a \r\n split across reads: it waits.
        self.pending = (self.pending + data).replace(b"\r\n", b"\n")
        while b"\n" in self.pending:
            line, _, self.pending = self.pending.partition(b"\n")
            self._line(line + b"\n")
        # A partial line is shown now (prompts, progress, Live screens), all but an end
        # that may be the start of a mark (or of a \r\n): that waits for more.
        if self.started and self.status is None:
            cut = len(self.pending) - held(self.pending)
            if cut:
                self._show(self.pending[:cut])
                self.pending = self.pending[cut:]

    def _line(self, line: bytes) -> None:
        at = line.find(MARK)
        if at >= 0 and not line[:at].strip(b"\r"):
            at = 0  # a mark after a carriage return is a mark line all the same
        if at < 0:
            if self.status is not None:
                return  # the guest powering off: not the user's output
            if self.started:
                self._show(line)
            else:
                self.before_start += line
            return
        if at > 0 and self.started:
            self._show(line[:at] + b"\n")
        word, _, rest = line[at + len(MARK):].strip().partition(b" ")
        if word == b"start":
            self.started = True
        elif word == b"end":
            self.status = int(rest or b"1")
        elif word == b"status" and not self.quiet:
            print(f"vnet-lab: {rest.decode(errors='replace')}", file=sys.stderr, flush=True)

    def _show(self, data: bytes) -> None:
        if not self.quiet:
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()

    def close(self) -> None:
        if self.pending and self.started and self.status is None:
            self._show(self.pending)
        self.log.close()
