"""Lab benchmark: vnet0 TX packets/s divided by the kernel's dummy driver, with one queue
pair and with two (`make bench`, docs/benchmarks.md).

Both drivers get the same pktgen runs: one kernel thread on one TX queue, then one thread
per CPU, each on its own TX queue (vnet0 after `ethtool -L combined 2`, a dummy device made
with two TX queues).  The ratio says what vnet's per-queue rings, locks and completions
cost against a driver that frees each frame at once; rounds alternate the four runs, so
that drift over minutes falls on all of them alike.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vnet_ebpf.lab import pktgen

COUNT = int(os.environ.get("BENCH_COUNT", "300000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
#: dummy0 has one TX queue (numdummies=1); this one has two.
DUMMY2 = "dummyq2"


def sh(*argv: str) -> None:
    subprocess.run(argv, check=True)


def tx_pps(dev: str, queues: int) -> int:
    """One run from the same BQL state every time (a down/up resets it, bench/bench.py)."""
    sh("ip", "link", "set", dev, "down")
    sh("ip", "link", "set", dev, "up")
    return pktgen.tx_pps_per_queue(dev, COUNT, queues)


def main() -> int:
    if (os.cpu_count() or 1) < 2:
        print("bench/queues.py: needs two CPUs", file=sys.stderr)
        return 1
    sh("insmod", os.environ.get("VNET_LAB_KO", "kmod/vnet.ko"))
    sh("modprobe", "dummy", "numdummies=1")
    sh("ip", "link", "add", DUMMY2, "numtxqueues", "2", "numrxqueues", "2", "type", "dummy")
    for dev in ("vnet0", "dummy0", DUMMY2):
        sh("ip", "link", "set", dev, "up")
    clock = os.environ.get("VNET_LAB_CLOCK", "wall")
    runs: dict[str, list[int]] = {"vnet_1q": [], "dummy_1q": [], "vnet_2q": [], "dummy_2q": []}
    for r in range(ROUNDS):
        sh("ethtool", "-L", "vnet0", "combined", "1")
        runs["vnet_1q"].append(tx_pps("vnet0", 1))
        runs["dummy_1q"].append(tx_pps("dummy0", 1))
        sh("ethtool", "-L", "vnet0", "combined", "2")
        runs["vnet_2q"].append(tx_pps("vnet0", 2))
        runs["dummy_2q"].append(tx_pps(DUMMY2, 2))
        print(f"bench {time.strftime('%H:%M:%S')}: round {r + 1}/{ROUNDS}: "
              + ", ".join(f"{k} {v[-1]:,} pps" for k, v in runs.items()), file=sys.stderr, flush=True)
    med = {k: statistics.median(v) for k, v in runs.items()}
    result = {
        "kernel": os.uname().release,
        "clock": clock,
        "rounds": ROUNDS,
        "frames_per_run_per_queue": COUNT,
        "pps": runs,
        "vnet_over_dummy_1q": round(med["vnet_1q"] / med["dummy_1q"], 3),
        "vnet_over_dummy_2q": round(med["vnet_2q"] / med["dummy_2q"], 3),
        "vnet_2q_over_1q": round(med["vnet_2q"] / med["vnet_1q"], 3),
        "dummy_2q_over_1q": round(med["dummy_2q"] / med["dummy_1q"], 3),
    }
    print(json.dumps(result, indent=2))
    print(f"vnet/dummy TX pps ({clock} clock): one queue {result['vnet_over_dummy_1q']}, "
          f"two queues {result['vnet_over_dummy_2q']}; two queues over one: vnet "
          f"{result['vnet_2q_over_1q']}, dummy {result['dummy_2q_over_1q']}")
    out = Path(os.environ.get("BENCH_OUT", ".lab/bench-queues.json"))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
