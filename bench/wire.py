"""The wire benchmark (`make bench-wire`, also part of `make bench`): vnet-wire between
two vnet devices beside a veth pair, side by side in one lab run, rounds alternating.

Runs inside the guest with the module loaded (numdevs=2).  Per round:

  1. vnet0's own pktgen TX rate, simulated hardware (the reference: the wire must carry
     at least half of it, docs/benchmarks.md)
  2. frames/s through the wire: pktgen on vnet0, counted arriving at vnet1 (rx_packets)
  3. frames/s through veth: pktgen on one end, counted arriving at the other
  4. TCP Mbit/s (iperf3, 4 s) and ping p50 RTT (100 pings), vnet pair through the wire
     in two namespaces, then the veth pair in two namespaces

Prints a table and writes the figures to BENCH_OUT (JSON) if set.
"""

from __future__ import annotations

import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vnet_ebpf.lab import demo, pktgen

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
COUNT = int(os.environ.get("BENCH_WIRE_COUNT", "100000"))
TCP_SECONDS = int(os.environ.get("BENCH_TCP_SECONDS", "4"))
PINGS = int(os.environ.get("BENCH_PINGS", "100"))
NS = ("bench-a", "bench-b")


def sh(*argv: str) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout


def rx_packets(dev: str, ns: str | None = None) -> int:
    argv = ["ip", *(["-n", ns] if ns else []), "-s", "-j", "link", "show", dev]
    return int(json.loads(sh(*argv))[0]["stats64"]["rx"]["packets"])


def quiet_up(dev: str) -> None:
    Path(f"/proc/sys/net/ipv6/conf/{dev}/disable_ipv6").write_text("1\n")
    sh("ip", "link", "set", dev, "up")


def wait_for(cond: Callable[[], bool], timeout: float) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise RuntimeError("timed out")
        time.sleep(0.01)


def pktgen_through(tx: str, rx: str) -> float:
    """Frames/s from pktgen on TX to arrival at RX: COUNT frames, start to last arrival."""
    pktgen.setup(tx, count=COUNT)
    mac = Path(f"/sys/class/net/{rx}/address").read_text().strip()
    (pktgen.PG / tx).write_text(f"dst_mac {mac}\n")
    base = rx_packets(rx)
    t0 = time.monotonic()
    thread = pktgen.start_background()
    wait_for(lambda: rx_packets(rx) - base >= COUNT, 120)
    elapsed = time.monotonic() - t0
    thread.join()
    return COUNT / elapsed


class Wire:
    """vnet-wire between two sides, as a user runs it; its counters on exit."""

    def __init__(self, a: str, b: str) -> None:
        self.proc = subprocess.Popen(["vnet-wire", a, b, "--json"], stdout=subprocess.PIPE, text=True)
        time.sleep(1.5)  # bound
        if self.proc.poll() is not None:
            raise RuntimeError("vnet-wire exited")

    def stop(self) -> dict[str, object]:
        self.proc.send_signal(signal.SIGINT)
        out, _ = self.proc.communicate(timeout=30)
        report: dict[str, object] = json.loads(out)
        return report


def in_netns(pair: tuple[str, str]) -> None:
    """Move the pair's ends into NS with 10.0.1.1/24 and 10.0.1.2/24."""
    for ns, dev, ip in zip(NS, pair, ("10.0.1.1", "10.0.1.2"), strict=True):
        demo.place(ns, dev, ip)


def out_of_netns() -> None:
    for ns in NS:
        subprocess.run(["ip", "netns", "del", ns], check=False)
    time.sleep(1)


def tcp_mbits() -> float:
    server = subprocess.Popen(["ip", "netns", "exec", NS[1], "iperf3", "-s", "-1"], stdout=subprocess.DEVNULL)
    time.sleep(1)
    res = json.loads(sh("ip", "netns", "exec", NS[0], "iperf3", "-c", "10.0.1.2", "-t", str(TCP_SECONDS), "-J"))
    server.wait(30)
    return float(res["end"]["sum_received"]["bits_per_second"]) / 1e6


def ping_p50_ms() -> float:
    out = sh("ip", "netns", "exec", NS[0], "ping", "-n", "-c", str(PINGS), "-i", "0.02", "10.0.1.2")
    times = [float(t) for t in re.findall(r"time=([\d.]+) ms", out)]
    assert len(times) == PINGS, out
    return statistics.median(times)


def measure_round() -> dict[str, float]:
    r: dict[str, float] = {}
    # 1. vnet0's own TX rate, simulated hardware (TX frames vanish after tx-usecs).
    r["vnet0_pktgen_pps"] = pktgen.tx_pps("vnet0", COUNT)
    # 2. Through the wire, in init_net (pktgen only drives devices there).
    wire = Wire("vnet0", "vnet1")
    r["wire_fps"] = pktgen_through("vnet0", "vnet1")
    wire.stop()
    # 3. Through veth.
    r["veth_fps"] = pktgen_through("veth-a", "veth-b")
    # 4. TCP and ping in two namespaces: wire, then veth.
    in_netns(("vnet0", "vnet1"))
    wire = Wire(f"{NS[0]}/vnet0", f"{NS[1]}/vnet1")
    r["wire_tcp_mbits"] = tcp_mbits()
    r["wire_ping_p50_ms"] = ping_p50_ms()
    wire.stop()
    sh("ip", "-n", NS[0], "link", "set", "vnet0", "netns", "1")
    sh("ip", "-n", NS[1], "link", "set", "vnet1", "netns", "1")
    out_of_netns()
    in_netns(("veth-a", "veth-b"))
    r["veth_tcp_mbits"] = tcp_mbits()
    r["veth_ping_p50_ms"] = ping_p50_ms()
    sh("ip", "-n", NS[0], "link", "set", "veth-a", "netns", "1")
    sh("ip", "-n", NS[1], "link", "set", "veth-b", "netns", "1")
    out_of_netns()
    for dev in ("vnet0", "vnet1", "veth-a", "veth-b"):
        quiet_up(dev)
    return r


def main() -> int:
    subprocess.run(["rmmod", "vnet"], capture_output=True, check=False)
    sh("insmod", os.environ.get("VNET_LAB_KO", "kmod/vnet.ko"), "numdevs=2")
    subprocess.run(["ip", "link", "del", "veth-a"], capture_output=True, check=False)
    sh("ip", "link", "add", "veth-a", "type", "veth", "peer", "name", "veth-b")
    for dev in ("vnet0", "vnet1", "veth-a", "veth-b"):
        quiet_up(dev)
    rounds = []
    for i in range(ROUNDS):
        rounds.append(measure_round())
        print(f"round {i + 1}/{ROUNDS}: " + "  ".join(f"{k} {v:,.1f}" for k, v in rounds[-1].items()), flush=True)
    med = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    ratios = {
        "wire_fps / vnet0_pktgen_pps (target >= 0.5)": med["wire_fps"] / med["vnet0_pktgen_pps"],
        "wire_fps / veth_fps": med["wire_fps"] / med["veth_fps"],
        "wire_tcp / veth_tcp": med["wire_tcp_mbits"] / med["veth_tcp_mbits"],
        "wire_ping_p50 / veth_ping_p50": med["wire_ping_p50_ms"] / med["veth_ping_p50_ms"],
    }
    print("medians: " + "  ".join(f"{k} {v:,.2f}" for k, v in med.items()))
    for k, v in ratios.items():
        print(f"{k}: {v:.3f}")
    out = os.environ.get("BENCH_OUT")
    if out:
        Path(out).write_text(json.dumps({"rounds": rounds, "medians": med, "ratios": ratios}, indent=1) + "\n")
    subprocess.run(["ip", "link", "del", "veth-a"], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
