"""Durations, rates and percentages as people type them (`10ms`, `1.5G`, `0.5%`): parsed
and printed for vnet-wire's shaping and vnet-lab's demo.  Pure: the unit tests call it."""

from __future__ import annotations

import re

_NUMBER = r"(\d+(?:\.\d*)?|\.\d+)"

_DURATION_UNITS = {"s": 1.0, "sec": 1.0, "ms": 1e-3, "msec": 1e-3, "us": 1e-6, "usec": 1e-6, "µs": 1e-6}
_DURATION = re.compile(_NUMBER + r"\s*([a-zµ]*)")


def parse_duration(text: str) -> float:
    """'10ms', '500us', '1s' (also tc's sec/msec/usec) in seconds.  A unit is required
    (but for 0): tc reads a bare number as microseconds, most people as seconds."""
    m = _DURATION.fullmatch(text.strip())
    if not m or (m[2] not in _DURATION_UNITS and m[2]):
        raise ValueError(f"{text!r} is not a duration: a number and s, ms or us (1s, 10ms, 500us)")
    value = float(m[1])
    if not m[2]:
        if value:
            raise ValueError(f"{text!r} has no unit: say {m[1]}ms, {m[1]}us or {m[1]}s")
        return 0.0
    return value * _DURATION_UNITS[m[2]]


_RATE = re.compile(_NUMBER + r"\s*([kKmMgG]?)(bit|bit/s|b/s)?")
_RATE_PREFIX = {"": 1.0, "k": 1e3, "m": 1e6, "g": 1e9}


def parse_rate(text: str) -> float:
    """'10M', '1.5G', '64k', '100kbit' in bit/s (SI prefixes, as tc's kbit/mbit)."""
    m = _RATE.fullmatch(text.strip())
    if not m:
        # No "bps": tc reads it as bytes a second, most people as bits.
        raise ValueError(f"{text!r} is not a rate: bit/s with an optional k, M or G (64k, 10M, 1.5G)")
    rate = float(m[1]) * _RATE_PREFIX[m[2].lower()]
    if rate <= 0:
        raise ValueError(f"{text!r}: a rate must be above 0 (leave --rate out for no limit)")
    return rate


_PERCENT = re.compile(_NUMBER + r"\s*%?")


def parse_percent(text: str) -> float:
    """'5', '5%', '0.1' as a percentage, 0 to 100."""
    m = _PERCENT.fullmatch(text.strip())
    if not m:
        raise ValueError(f"{text!r} is not a percentage (0 to 100, e.g. 1 or 0.5%)")
    value = float(m[1])
    if value > 100:
        raise ValueError(f"{text!r} is more than 100%")
    return value


def format_rate(rate: float) -> str:
    for prefix, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if rate >= scale:
            return f"{rate / scale:g} {prefix}bit/s"
    return f"{rate:g} bit/s"


def format_duration(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:g}s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:g}ms"
    return f"{seconds * 1e6:g}us"
