"""Our histograms against bcc's own printers (bcc.table, from python3-bpfcc): the text
views claim bcc's layout, so they must print exactly what bcc prints for the same data."""

from __future__ import annotations

import contextlib
import io
import random

import pytest
from bcc import table  # type: ignore[import-not-found,unused-ignore]

from vnet_ebpf.views import text


def bcc_prints(printer: str, vals: list[int], val_type: str) -> list[str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        getattr(table, printer)(vals, val_type, False)
    return out.getvalue().splitlines()


@pytest.mark.parametrize("seed", range(5))
def test_log2_histograms_are_bccs(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(400):
        slots = [rng.choice([0, 0, 0, 1, 2, 5, 40, 999, 123456]) for _ in range(rng.choice([2, 16, 40, 64]))]
        # bcc's BPF helper counts 0 in slot 1 ("0 -> 1"); ours in slot 0: the same data in bcc's slots
        bcc_slots = [0, slots[0] + slots[1], *slots[2:]]
        assert text.log2_hist_lines(slots, "nsecs") == bcc_prints("_print_log2_hist", bcc_slots, "nsecs")


@pytest.mark.parametrize("seed", range(5))
def test_linear_histograms_are_bccs(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(400):
        vals = [rng.choice([0, 0, 1, 3, 64, 1000]) for _ in range(rng.choice([1, 17, 65, 257]))]
        hist = {v: n for v, n in enumerate(vals) if n}
        assert text.linear_hist_lines(hist, "work") == bcc_prints("_print_linear_hist", vals, "work")
