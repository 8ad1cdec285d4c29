"""Ctrl-C in the first seconds of `vnet-trace napi`, under the guest's emulated start-up.

Before the fix, SIGINT 0.6 and 1.2 s after the start printed a KeyboardInterrupt
traceback (the imports before the BPF compile).  The phase each SIGINT hits is read from
the kernel (tests/ctrl_c.py): from vnet_ebpf.entry's handler on, exactly one line, no
traceback, status 130; before the interpreter has a handler (about the first 0.2 s
under emulation, docs/benchmarks.md), death by the signal with nothing printed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import ctrl_c


@pytest.mark.smoke
@pytest.mark.parametrize("delay", [0.2, 0.6, 1.2, 2.5])
def test_ctrl_c_in_the_first_seconds_is_one_line(vnet: Path, delay: float) -> None:
    outcome = ctrl_c.interrupt_at(["vnet-trace", "napi", "1", "5"], delay)
    said = outcome.describe()
    assert "Traceback" not in outcome.stderr and "Fatal Python error" not in outcome.stderr, said
    if outcome.phase == "exec":
        assert (outcome.status, outcome.stderr) == (-2, ""), said
    else:
        assert outcome.phase == "ours", said
        assert (outcome.status, outcome.stderr) == (130, "vnet-trace: interrupted\n"), said
    print(said)
