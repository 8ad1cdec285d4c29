"""A lesson's checks: what was expected, what was measured, and a score at the end.

Each check prints one line.  A failed check adds a hint: what to look at, and
where the lesson's TODOs are in the driver that was checked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from vnet_ebpf.lessons.markers import Site


@dataclass(frozen=True)
class Check:
    what: str
    expected: str
    measured: str
    ok: bool
    hint: str = ""


@dataclass
class Grade:
    """The checks of one lesson's run, in the order they were made."""

    lesson: int
    sites: list[Site] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    out: Callable[[str], None] = print

    def add(self, what: str, expected: object, measured: object, ok: bool, hint: str = "") -> bool:
        check = Check(what, str(expected), str(measured), ok, hint)
        self.checks.append(check)
        self.out(self.line(check))
        return ok

    def equal(self, what: str, expected: object, measured: object, hint: str = "") -> bool:
        return self.add(what, expected, measured, measured == expected, hint)

    def at_least(self, what: str, low: float, measured: float, hint: str = "") -> bool:
        return self.add(what, f">= {low}", measured, measured >= low, hint)

    def at_most(self, what: str, high: float, measured: float, hint: str = "") -> bool:
        return self.add(what, f"<= {high}", measured, measured <= high, hint)

    def line(self, c: Check) -> str:
        text = f"  [{'PASS' if c.ok else 'FAIL'}] {c.what}: expected {c.expected}, measured {c.measured}"
        if not c.ok:
            if c.hint:
                text += f"\n         hint: {c.hint}"
            for site in self.sites:
                text += f"\n         see {site}"
        return text

    @property
    def passed(self) -> int:
        return sum(c.ok for c in self.checks)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and self.passed == len(self.checks)

    def score(self) -> str:
        return f"lesson {self.lesson} score: {self.passed}/{len(self.checks)}"
