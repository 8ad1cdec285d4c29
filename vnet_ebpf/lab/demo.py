"""The lab demo, run inside the guest by ``vnet-lab demo``: traffic both ways on
vnet0 and the live ``vnet-trace top`` screen for a set time."""

from __future__ import annotations

import subprocess
import sys
import time
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


def main(seconds: int) -> int:
    setup()
    try:
        show_top("vnet0", 1.0, seconds, after_attach=traffic, before_detach=quiesce)
        return 0
    except UserError as err:
        print(f"vnet-lab demo: {err}", file=sys.stderr)
        return 1
    finally:
        quiesce()
        subprocess.run(["ip", "-s", "link", "show", "vnet0"], check=False)


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 30))
