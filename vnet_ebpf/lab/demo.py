"""The lab demo, run inside the guest by ``vnet-lab demo``: traffic both ways on
vnet0 and the live ``vnet-trace top`` screen for a set time.

``vnet-lab demo --wire``: vnet0 in namespace wire-a (10.0.0.1/24) and vnet1 in wire-b
(10.0.0.2/24), joined by ``vnet-wire`` through /dev/vnet; ping and an iperf3 TCP
transfer from a to b, and ``vnet-trace top`` on vnet0 (run inside wire-a: ifindexes
are per namespace)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from vnet_ebpf.errors import UserError
from vnet_ebpf.lab import pktgen
from vnet_ebpf.trace.cli import show_top

# vnet0's own generator knobs (the module parameters are only the defaults of new devices).
KNOBS = Path("/sys/class/net/vnet0/vnet")


def setup() -> None:
    """vnet0 up with an address; transmit completes 500 us after posting, so the TX ring
    holds frames; pktgen ready to send 5000 frames/s."""
    def sh(*argv: str) -> None:
        subprocess.run(argv, check=True)

    sh("ip", "link", "set", "vnet0", "up")
    sh("ip", "addr", "add", "10.0.0.1/24", "dev", "vnet0")
    sh("ethtool", "-C", "vnet0", "tx-usecs", "500")
    pktgen.setup("vnet0", count=0, rate_pps=5000)


def traffic() -> None:
    """Started once the probes are attached: under emulation the BPF compile would
    otherwise compete with the traffic for the CPUs.  The NIC receives 2000 ARP requests
    per second in bursts of 16 (so NAPI batches 16 per poll); the stack answers each one
    through the TX ring, beside pktgen's frames."""
    (KNOBS / "rx_burst").write_text("16\n")
    (KNOBS / "rx_rate").write_text("2000\n")
    pktgen.start_background()


def quiesce() -> None:
    """Traffic stops before the probes detach (see docs/architecture.md, known issues)."""
    pktgen.stop()
    (KNOBS / "rx_rate").write_text("0\n")
    time.sleep(0.5)


def top(seconds: int, start: Callable[[], None], stop: Callable[[], None]) -> int:
    """`vnet-trace top` on vnet0 for SECONDS, traffic from START (once the probes are
    attached) to STOP (before they detach, and in any case); the exit status."""
    try:
        show_top("vnet0", 1.0, seconds, after_attach=start, before_detach=stop)
        return 0
    except UserError as err:
        print(f"vnet-lab demo: {err}", file=sys.stderr)
        return 1
    finally:
        stop()


def main(seconds: int) -> int:
    setup()
    try:
        return top(seconds, traffic, quiesce)
    finally:
        subprocess.run(["ip", "-s", "link", "show", "vnet0"], check=False)


# ---- demo --wire ---------------------------------------------------------------------

WIRE_A, WIRE_B = ("wire-a", "vnet0", "10.0.0.1"), ("wire-b", "vnet1", "10.0.0.2")


def _sh(*argv: str) -> None:
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)


def place(ns: str, dev: str, ip: str) -> None:
    """Move DEV into a new namespace NS, with IP/24, up, without IPv6 (its router
    solicitations and DAD would be traffic nobody asked for).  Also bench/wire.py's."""
    _sh("ip", "netns", "add", ns)
    _sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
        "net.ipv6.conf.default.disable_ipv6=1")
    _sh("ip", "link", "set", dev, "netns", ns)
    _sh("ip", "-n", ns, "link", "set", "lo", "up")
    _sh("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", dev)
    _sh("ip", "-n", ns, "link", "set", dev, "up")


def wire_setup() -> None:
    """A second device, each in its own namespace with an address."""
    if not Path("/sys/class/net/vnet1").exists():
        _sh("ip", "link", "add", "vnet1", "type", "vnet")
    for ns, dev, ip in (WIRE_A, WIRE_B):
        place(ns, dev, ip)


def wire_traffic(seconds: int) -> list[subprocess.Popen[bytes]]:
    """Inside wire-a, once the probes are attached: a ping every 0.2 s and one TCP stream."""
    # iperf3 both ways: vnet0 sends (its TX ring, BQL, backpressure with --rate) and
    # receives (NAPI batches that GRO merges).
    argvs = (["ping", "-q", "-i", "0.2", WIRE_B[2]], ["iperf3", "-c", WIRE_B[2], "--bidir", "-t", str(seconds + 5)])
    return [subprocess.Popen(a, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for a in argvs]


def wire_top(seconds: int) -> int:
    """`vnet-trace top` on vnet0, run inside wire-a by wire_main()."""
    procs: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        procs.extend(wire_traffic(seconds))

    def stop() -> None:
        while procs:
            p = procs.pop()
            p.send_signal(signal.SIGINT)
            p.wait(10)
        time.sleep(0.5)

    return top(seconds, start, stop)


def wire_main(seconds: int, wire_args: list[str]) -> int:
    wire_setup()
    server = subprocess.Popen(["ip", "netns", "exec", WIRE_B[0], "iperf3", "-s"], stdout=subprocess.DEVNULL)
    wire = subprocess.Popen(["vnet-wire", f"{WIRE_A[0]}/{WIRE_A[1]}", f"{WIRE_B[0]}/{WIRE_B[1]}", *wire_args])
    try:
        time.sleep(1)  # bound (vnet-wire exits at once on an error)
        if wire.poll() is not None:
            return 1
        top = [sys.executable, "-m", "vnet_ebpf.lab.demo", "--wire-top", str(seconds)]
        return subprocess.run(["ip", "netns", "exec", WIRE_A[0], *top], check=False).returncode
    finally:
        wire.send_signal(signal.SIGINT)  # it prints its counters
        wire.wait(30)
        server.send_signal(signal.SIGINT)
        server.wait(10)
        for ns, dev, _ in (WIRE_A, WIRE_B):
            subprocess.run(["ip", "-n", ns, "-s", "link", "show", dev], check=False)
            subprocess.run(["ip", "netns", "del", ns], check=False)


def cli(argv: list[str]) -> int:
    """demo.py SECONDS | --wire SECONDS [vnet-wire options] | --wire-top SECONDS"""
    if argv and argv[0] == "--wire":
        return wire_main(int(argv[1]), argv[2:])
    if argv and argv[0] == "--wire-top":
        return wire_top(int(argv[1]))
    return main(int(argv[0]) if argv else 30)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(cli(sys.argv[1:]))
