"""Where the traced slowdown goes: the in-kernel cost of `vnet-trace rings`'s programs alone.

Runs inside the guest (`make bench` runs it after bench.py).  The programs are compiled once
and then attached and detached between pktgen runs of the same size, with no tracer process
polling maps, so the ratios measure only what the traced kernel pays:

  plain               nothing attached
  attached            the raw-tracepoint programs on vnet_tx_complete and vnet_napi_poll
  attached_bpf_stats  the same, with the kernel's BPF run-time statistics on (BPF_ENABLE_STATS),
                      which is how vnet-trace shows what its probes cost
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vnet_ebpf.lab import pktgen
from vnet_ebpf.probes import bpfstats, device
from vnet_ebpf.probes.tracer import PROBES, Tracer

COUNT = int(os.environ.get("BENCH_COUNT", "300000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
GROUPS = ["xmit", "poll", "txc"]  # what `vnet-trace rings` attaches
ATTACH = sorted({(event, fn) for g in GROUPS for _, event, fn in PROBES["tracepoint"][g]})


def tx_pps() -> int:
    return pktgen.tx_pps("vnet0", COUNT)


def main() -> int:
    subprocess.run(["insmod", "kmod/vnet.ko"], check=True)
    subprocess.run(["ip", "link", "set", "vnet0", "up"], check=True)
    tracer = Tracer(device.resolve("vnet0"), GROUPS, kind="tracepoint")
    tracer.__enter__()
    try:
        bpf = tracer.bpf
        if tracer.stats_fd is not None:  # the rounds decide when the statistics are on
            os.close(tracer.stats_fd)
            tracer.stats_fd = None

        def attach(on: bool) -> None:
            for event, fn in ATTACH:
                if on:
                    bpf.attach_raw_tracepoint(tp=event.encode(), fn_name=fn.encode())
                else:
                    bpf.detach_raw_tracepoint(tp=event.encode())

        attach(False)
        pps: dict[str, list[int]] = {"plain": [], "attached": [], "attached_bpf_stats": []}
        for _ in range(ROUNDS):
            pps["plain"].append(tx_pps())
            attach(True)
            pps["attached"].append(tx_pps())
            stats_fd = bpfstats.enable_stats()
            pps["attached_bpf_stats"].append(tx_pps())
            if stats_fd is not None:
                os.close(stats_fd)
            attach(False)
    finally:
        tracer.close()
    plain = statistics.median(pps["plain"])
    result: dict[str, object] = {"frames_per_run": COUNT, "pps": pps}
    for name, runs in pps.items():
        median = statistics.median(runs)
        result[f"{name}_over_plain"] = round(median / plain, 3)
        result[f"{name}_slowdown_ns_per_frame"] = round(1e9 / median - 1e9 / plain, 1)
    print(json.dumps(result, indent=2))
    print(f"in-kernel cost of the rings programs: {result['attached_over_plain']} of plain TX pps, "
          f"{result['attached_bpf_stats_over_plain']} with BPF run-time statistics on")
    return 0


if __name__ == "__main__":
    sys.exit(main())
