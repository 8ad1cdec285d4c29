"""Side by side: the bench.py results of several lab runs (guests, clocks), one table.

    python3 bench/summary.py .lab/bench-trixie-wall.json .lab/bench-trixie-icount.json ...

For each run: traced/plain TX pps for every probe kind (medians of alternating rounds, and
the median of the paired rounds), and how far apart the plain runs landed (the spread:
(max - min) / median), which is what the icount clock is there to shrink.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def rows(results: list[tuple[str, dict[str, Any]]]) -> list[list[str]]:
    kinds: list[str] = []
    for _, r in results:
        kinds += [k for k in r["probe_kinds"] if k not in kinds]
    header = ["run", "kernel", "clock", "rounds", "vnet0 pps (median)", "plain spread", "vnet/dummy (bursts)"]
    header += [f"{k} traced/plain (paired)" for k in kinds]
    header += ["paired spread " + k for k in kinds]
    table = [header]
    for name, r in results:
        plain = sorted(r["vnet_pps"])[len(r["vnet_pps"]) // 2]
        row = [name, r["kernel"], r["clock"], str(r["rounds"]), f"{plain:,}", str(r["vnet_pps_spread"]),
               f"{r.get('vnet_over_dummy')} ({r.get('vnet_over_dummy_burst', '-')})"]
        row += [f"{r['traced_over_plain'].get(k)} ({r['traced_over_plain_paired_median'].get(k)})"
                if k in r["probe_kinds"] else "-" for k in kinds]
        row += [str(r["traced_over_plain_paired_spread"].get(k)) if k in r["probe_kinds"] else "-" for k in kinds]
        table.append(row)
    return table


def main(paths: list[str]) -> int:
    results = []
    for p in paths:
        try:
            results.append((Path(p).stem.removeprefix("bench-"), json.loads(Path(p).read_text())))
        except (OSError, ValueError, KeyError) as err:
            print(f"bench/summary.py: {p}: {err}", file=sys.stderr)
            return 1
    table = rows(results)
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
