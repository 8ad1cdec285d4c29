"""Where the traced slowdown goes: the in-kernel cost of `vnet-trace rings`'s programs alone.

Runs inside the guest (`make bench` runs it after bench.py).  The programs are compiled once
and then attached and detached between pktgen runs of the same size, with no tracer process
polling maps, so the ratios measure only what the traced kernel pays:

  plain               nothing attached
  attached            the raw-tracepoint programs on vnet_tx_complete and vnet_napi_poll
  attached_bpf_stats  the same, with the kernel's BPF run-time statistics on (BPF_ENABLE_STATS),
                      which is how vnet-trace shows what its probes cost

Then what the tracer processes add on top: `vnet-trace napi --json` and `rings --json` are
started once and the pktgen runs alternate between them running and them stopped (SIGSTOP):
their programs stay attached and the statistics on either way, so the ratio
running/stopped is the cost of the processes alone (their CPU, their wake-ups).
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tracers import Tracers  # bench/, the script's directory

from vnet_ebpf.lab import pktgen
from vnet_ebpf.probes import bpfstats, device
from vnet_ebpf.probes.tracer import PROBES, Tracer

COUNT = int(os.environ.get("BENCH_COUNT", "300000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
GROUPS = ["xmit", "poll", "txc"]  # what `vnet-trace rings` attaches
ATTACH = sorted({(event, fn) for g in GROUPS for _, event, fn in PROBES["tracepoint"][g]})


def tx_pps() -> int:
    return pktgen.tx_pps("vnet0", COUNT)


def processes_cost() -> dict[str, object]:
    """TX pps with the two tracer processes running, and stopped, in alternating order."""
    pps: dict[str, list[int]] = {"running": [], "stopped": []}
    with Tracers("tracepoint") as tracers:
        time.sleep(3)
        for i in range(2 * ROUNDS):
            state = ("running", "stopped")[(i + i // 2) % 2]  # R S S R R S ...: no fixed order
            if state == "stopped":
                tracers.signal(signal.SIGSTOP)
            pps[state].append(tx_pps())
            if state == "stopped":
                tracers.signal(signal.SIGCONT)
    return {"processes_pps": pps,
            "running_over_stopped": round(statistics.median(pps["running"]) / statistics.median(pps["stopped"]), 3)}


def main() -> int:
    subprocess.run(["insmod", os.environ.get("VNET_LAB_KO", "kmod/vnet.ko")], check=True)
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
    running_over_stopped = processes_cost()
    plain = statistics.median(pps["plain"])
    result: dict[str, object] = {"frames_per_run": COUNT, "pps": pps}
    for name, runs in pps.items():
        median = statistics.median(runs)
        result[f"{name}_over_plain"] = round(median / plain, 3)
        result[f"{name}_slowdown_ns_per_frame"] = round(1e9 / median - 1e9 / plain, 1)
    result.update(running_over_stopped)
    print(json.dumps(result, indent=2))
    print(f"in-kernel cost of the rings programs: {result['attached_over_plain']} of plain TX pps, "
          f"{result['attached_bpf_stats_over_plain']} with BPF run-time statistics on")
    print(f"the napi and rings processes: TX pps with them running / stopped: {result['running_over_stopped']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
