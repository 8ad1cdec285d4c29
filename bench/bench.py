"""Lab benchmarks: ratios measured side by side in one run (`make bench`).

Runs inside the guest (absolute numbers under emulation mean little; the ratios
are what we hold ourselves to, see docs/benchmarks.md):

  1. TX packets/s through vnet0 with `vnet-trace napi` and `rings` attached, divided by the
     same pktgen run without them (target >= 0.95), for every probe kind this kernel, BCC
     and vnet.ko offer (the driver's trace events, fentry, kprobes), side by side
  2. CPU used by the vnet-trace processes during that run (target <= 2 % of one core)
  3. vnet0 TX packets/s divided by the kernel's dummy driver, same pktgen run (target >= 0.7)
  4. XDP_DROP frames/s on vnet0 RX at the generator's highest rate, native XDP divided by
     generic XDP, alternating rounds with the same program (target >= 1.5)
"""

from __future__ import annotations

import ctypes
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tracers import Tracers  # bench/, the script's directory

from vnet_ebpf.lab import pktgen
from vnet_ebpf.probes import bccglue, device, tracer, xdp

COUNT = int(os.environ.get("BENCH_COUNT", "300000"))
XDP_SECONDS = float(os.environ.get("BENCH_XDP_SECONDS", "4"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
#: The probe kinds to trace with (BENCH_PROBES=tracepoint shortens a round); by default every
#: kind available here, in --probes auto's order.  Resolved once the module is loaded.
PROBES: list[str] = [p for p in os.environ.get("BENCH_PROBES", "").split(",") if p]
#: Seconds between the tracers' first report and the measured run, so that it measures
#: tracing in its steady state, not the end of BCC's compile.
SETTLE_S = float(os.environ.get("BENCH_SETTLE_S", "3"))


def sh(*argv: str) -> None:
    subprocess.run(argv, check=True)


def progress(text: str) -> None:
    """One line on stderr per measured run: the bench takes minutes, and says where it is."""
    print(f"bench {time.strftime('%H:%M:%S')}: {text}", file=sys.stderr, flush=True)


def spread(values: list[int] | list[float]) -> float | None:
    """(max - min) / median: how far apart repeated runs of the same thing land."""
    return round((max(values) - min(values)) / statistics.median(values), 3) if values else None


def tx_pps(dev: str, burst: int = 1) -> int:
    """One pktgen run, from the same BQL state every time: a down/up resets the queue's
    BQL limit and history (netdev_tx_reset_queue).  Without it a run inherits the limit
    the previous run left, and plain runs land in one of two steady states
    (docs/benchmarks.md has how far apart)."""
    sh("ip", "link", "set", dev, "down")
    sh("ip", "link", "set", dev, "up")
    return pktgen.tx_pps(dev, COUNT, burst)


#: pktgen batches of this many frames, xmit_more set on all but the last: the doorbell batching.
BURST = 16


def param(name: str, value: object) -> None:
    """One of vnet0's generator knobs."""
    Path(f"/sys/class/net/vnet0/vnet/{name}").write_text(f"{value}\n")


def xdp_drop_fps(rounds: int) -> dict[str, list[float]]:
    """Frames/s our XDP program drops (every generated frame is ARP) in each mode."""
    dev = device.resolve("vnet0")
    bpf = bccglue.load(xdp.SOURCE, xdp.XdpConfig(drop_arp=True).cflags())
    bcc = bccglue.import_bcc()
    fd = int(bpf.load_func("vnet_xdp", bcc.BPF.XDP).fd)
    table = bpf["verdicts"]
    drop_idx = xdp.XDP_ACTIONS_INDEX["drop"]  # ARP row, drop column

    def dropped() -> int:
        return int(sum(table[ctypes.c_int(drop_idx)]))

    sh("ethtool", "-G", "vnet0", "rx", "1024")
    param("rx_burst", 256)
    param("rx_rate", 10_000_000)  # the generator's highest rate
    fps: dict[str, list[float]] = {m: [] for m in ("native", "generic", "native_ethtool", "generic_ethtool")}
    try:
        for _ in range(rounds):
            for mode in ("native", "generic"):
                flags = xdp.MODE_FLAGS[mode]
                xdp.set_xdp(dev.ifindex, [("IFLA_XDP_FD", fd), ("IFLA_XDP_FLAGS", flags)])
                time.sleep(1)  # warm up
                e0, n0, t0 = device.driver_stats(dev), dropped(), time.monotonic()
                time.sleep(XDP_SECONDS)
                n1, t1, e1 = dropped(), time.monotonic(), device.driver_stats(dev)
                xdp.set_xdp(dev.ifindex, [("IFLA_XDP_FD", -1), ("IFLA_XDP_FLAGS", flags)])
                fps[mode].append(round((n1 - n0) / (t1 - t0), 1))
                # The witness: the driver's own count of native drops over the same window
                # (its reads bracket ours, so it can only be a little higher).
                fps[f"{mode}_ethtool"].append(round((e1["xdp_drop"] - e0["xdp_drop"]) / (t1 - t0), 1))
    finally:
        param("rx_rate", 0)
        bpf.cleanup()
    return fps


def bpf_ns_per_xmit(rings_lines: list[str]) -> float:
    """What the BPF programs of `rings` cost per transmitted frame (the kernel's BPF run-time
    statistics: the xmit probe per frame, the poll and completion probes per batch)."""
    objs = [json.loads(line) for line in rings_lines]
    xmits = sum(o["xmits"] for o in objs)
    return round(sum(o["probe_cost"]["run_time_ns"] for o in objs) / xmits, 1) if xmits else 0.0


def main() -> int:
    sh("insmod", os.environ.get("VNET_LAB_KO", "kmod/vnet.ko"))
    sh("ip", "link", "set", "vnet0", "up")
    # vnet0 as users get it: the default tx-usecs (20).  At tx-usecs 0 every transmit finds
    # the TX-done timer idle and re-arms it, which costs more under emulation (docs/benchmarks.md).
    sh("modprobe", "dummy", "numdummies=1")
    sh("ip", "link", "set", "dummy0", "up")

    if not PROBES:
        PROBES.extend(kind for kind in tracer.AUTO_ORDER if tracer.unavailable(kind) is None)
    clock = os.environ.get("VNET_LAB_CLOCK", "wall")
    progress(f"{ROUNDS} rounds of {COUNT} frames; probe kinds {', '.join(PROBES)}; guest clock {clock}")

    # Rounds alternate plain, dummy and traced runs: the noise of this machine drifts over
    # minutes, so blocks of one kind would measure the drift.  Each traced run also has the
    # plain run just before it, for a paired ratio.
    plain: list[int] = []
    dummy: list[int] = []
    plain_burst: list[int] = []
    dummy_burst: list[int] = []
    traced: dict[str, list[int]] = {kind: [] for kind in PROBES}
    paired: dict[str, list[float]] = {kind: [] for kind in PROBES}  # traced / the plain run before
    cpu: dict[str, list[float]] = {kind: [] for kind in PROBES}  # both processes
    cpu_each: list[list[float]] = []  # [napi, rings] per round, default probes
    bpf_ns: dict[str, list[float]] = {kind: [] for kind in PROBES}

    def measured(what: str, pps: int, series: list[int]) -> int:
        series.append(pps)
        progress(f"round {len(dummy)}/{ROUNDS}: {what} {pps:,} pps (median so far {statistics.median(series):,.0f})")
        return pps

    for _ in range(ROUNDS):
        dummy.append(tx_pps("dummy0"))
        progress(f"round {len(dummy)}/{ROUNDS}: dummy0 {dummy[-1]:,} pps")
        dummy_burst.append(tx_pps("dummy0", BURST))
        measured(f"vnet0 in bursts of {BURST} (xmit_more)", tx_pps("vnet0", BURST), plain_burst)
        for probes in traced:
            measured("vnet0 plain", tx_pps("vnet0"), plain)
            with Tracers(probes) as tracers:
                time.sleep(SETTLE_S)
                before = tracers.cpu_seconds()
                t0 = time.monotonic()
                measured(f"vnet0 traced ({probes})", tx_pps("vnet0"), traced[probes])
                wall = time.monotonic() - t0
                used = [100.0 * (after - b) / wall for b, after in zip(before, tracers.cpu_seconds(), strict=True)]
                cpu[probes].append(round(sum(used), 2))
                if probes == PROBES[0]:
                    cpu_each.append([round(u, 2) for u in used])
            paired[probes].append(round(traced[probes][-1] / plain[-1], 3))
            bpf_ns[probes].append(bpf_ns_per_xmit(tracers.rings_lines))
            progress(f"round {len(dummy)}/{ROUNDS}: {probes} traced/plain {paired[probes][-1]} "
                     f"(median so far {round(statistics.median(paired[probes]), 3)})")
    measured("vnet0 plain", tx_pps("vnet0"), plain)
    progress("XDP_DROP native against generic")
    fps = xdp_drop_fps(ROUNDS)

    def ratio(pps: list[int]) -> float | None:
        return round(statistics.median(pps) / statistics.median(plain), 3) if pps else None

    def slowdown_ns(pps: list[int]) -> float | None:
        return round(1e9 / statistics.median(pps) - 1e9 / statistics.median(plain), 1) if pps else None

    def median(values: list[float]) -> float | None:
        return statistics.median(values) if values else None

    result = {
        "kernel": os.uname().release,
        "clock": clock,
        "rounds": ROUNDS,
        "frames_per_run": COUNT,
        "probe_kinds": PROBES,
        "vnet_pps": plain,
        "vnet_pps_spread": spread(plain),
        "dummy_pps": dummy,
        "dummy_pps_spread": spread(dummy),
        "traced_pps": traced,
        "traced_over_plain": {kind: ratio(traced[kind]) for kind in PROBES},
        "traced_over_plain_paired": paired,
        "traced_over_plain_paired_median": {kind: median(paired[kind]) for kind in PROBES},
        "traced_over_plain_paired_spread": {kind: spread(paired[kind]) for kind in PROBES},
        "traced_slowdown_ns_per_frame": {kind: slowdown_ns(traced[kind]) for kind in PROBES},
        "rings_bpf_ns_per_xmit": {kind: median(bpf_ns[kind]) for kind in PROBES},
        "tracer_cpu_pct_of_one_core": {kind: median(cpu[kind]) for kind in PROBES},
        "tracer_cpu_pct_rounds": cpu,
        "tracer_cpu_pct_napi_rings_rounds": cpu_each,
        "tracer_cpu_pct_per_process": max((statistics.median(col) for col in zip(*cpu_each, strict=True)),
                                          default=None),
        "vnet_over_dummy": round(statistics.median(plain) / statistics.median(dummy), 3),
        "burst": BURST,
        "vnet_pps_burst": plain_burst,
        "dummy_pps_burst": dummy_burst,
        "vnet_over_dummy_burst": round(statistics.median(plain_burst) / statistics.median(dummy_burst), 3),
        "xdp_drop_fps_native": fps["native"],
        "xdp_drop_fps_generic": fps["generic"],
        "xdp_drop_fps_native_ethtool": fps["native_ethtool"],  # 0 in generic mode: the driver's hook is not used
        "xdp_drop_fps_generic_ethtool": fps["generic_ethtool"],
        "xdp_native_over_generic": round(statistics.median(fps["native"]) / statistics.median(fps["generic"]), 3),
    }
    print(json.dumps(result, indent=2))
    kinds = ", ".join(f"{k} {result['traced_over_plain'][k]}" for k in PROBES)  # type: ignore[index]
    print(f"TX pps traced/plain ({clock} clock): {kinds}  (target >= 0.95; plain runs spread "
          f"{result['vnet_pps_spread']})")
    # Under icount (shift=0) a guest nanosecond is one instruction, so this is what each probe
    # kind adds to the transmit of one frame, in instructions; on the wall clock, in ns.
    unit = "instructions" if clock == "icount" else "ns"
    costs = ", ".join(f"{k} {result['traced_slowdown_ns_per_frame'][k]}" for k in PROBES)  # type: ignore[index]
    print(f"traced - plain per frame: {costs} {unit}")
    print(f"vnet-trace CPU:      {result['tracer_cpu_pct_of_one_core']} % of one core for napi + rings together "
          f"(target <= 2)")
    print(f"vnet/dummy TX pps:   {result['vnet_over_dummy']}  (target >= 0.7); in bursts of {BURST} "
          f"with xmit_more: {result['vnet_over_dummy_burst']}")
    print(f"XDP_DROP native/generic: {result['xdp_native_over_generic']}  (target >= 1.5)")
    out = Path(os.environ.get("BENCH_OUT", ".lab/bench.json"))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
