"""The lab demo, run inside the guest by ``vnet-lab demo``: traffic both ways on
vnet0 and the live ``vnet-trace top`` screen for a set time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from vnet_ebpf.lab import pktgen

PARAMS = Path("/sys/module/vnet/parameters")


def main(seconds: int) -> int:
    def sh(*argv: str) -> None:
        subprocess.run(argv, check=True)

    sh("ip", "link", "set", "vnet0", "up")
    sh("ip", "addr", "add", "10.0.0.1/24", "dev", "vnet0")
    # The NIC receives 2000 ARP requests per second in bursts of 16 (so NAPI
    # batches 16 per poll); the stack answers each one through the TX ring.
    (PARAMS / "rx_burst").write_text("16\n")
    (PARAMS / "rx_rate").write_text("2000\n")
    # Transmit completes 500 us after posting, so the TX ring holds frames.
    sh("ethtool", "-C", "vnet0", "tx-usecs", "500")
    pktgen.setup("vnet0", count=0, rate_pps=5000)
    pktgen.start_background()
    try:
        return subprocess.run(["vnet-trace", "top", "1", str(seconds)], check=False).returncode
    finally:
        pktgen.stop()
        (PARAMS / "rx_rate").write_text("0\n")
        subprocess.run(["ip", "-s", "link", "show", "vnet0"], check=False)


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 30))
