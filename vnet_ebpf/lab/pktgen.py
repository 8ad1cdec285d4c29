"""Driving TX with the kernel's pktgen (/proc/net/pktgen), for the demo and the benchmarks.

pktgen calls the driver's ndo_start_xmit directly from a kernel thread, so it
measures the driver's transmit path without socket or qdisc overhead, the same
way for vnet0 and for the kernel's dummy driver.
"""

from __future__ import annotations

import re
import subprocess
import threading
from collections.abc import Iterable
from pathlib import Path

PG = Path("/proc/net/pktgen")


def _write(path: Path, cmd: str) -> None:
    path.write_text(cmd + "\n")


def setup(dev: str, count: int, rate_pps: int = 0, size: int = 60, burst: int = 1,
          cpus: Iterable[int] = (0,), queue_per_cpu: bool = False) -> None:
    """Prepare pktgen to send COUNT frames (0: forever) of SIZE bytes into DEV.
    BURST > 1: frames go to the driver in batches of BURST with netdev_xmit_more() set on
    all but the last, as the stack's qdisc bulk dequeue does (the driver's doorbell batching).
    CPUS: the pktgen kernel threads that send, one per CPU; with more than one, each sends
    its own copy of DEV, named DEV@CPU, so that several CPUs transmit at once.
    QUEUE_PER_CPU: the copy of CPU i sends on TX queue i only (queue_map_min/max)."""
    cpus = list(cpus)
    subprocess.run(["modprobe", "pktgen"], check=True)
    for cpu in cpus:
        name = dev if len(cpus) == 1 else f"{dev}@{cpu}"
        thread = PG / f"kpktgend_{cpu}"
        _write(thread, "rem_device_all")
        _write(thread, f"add_device {name}")
        cfg = PG / name
        for cmd in (f"count {count}", f"pkt_size {size}", "clone_skb 0", "delay 0",
                    "dst 10.0.0.2", "dst_mac 02:76:6e:65:74:02", "flag NO_TIMESTAMP"):
            _write(cfg, cmd)
        if rate_pps:
            _write(cfg, f"ratep {rate_pps}")
        if burst > 1:
            _write(cfg, f"burst {burst}")
        if queue_per_cpu:
            _write(cfg, f"queue_map_min {cpu}")
            _write(cfg, f"queue_map_max {cpu}")


def clear(cpus: Iterable[int] = (0,)) -> None:
    """Take every device off the pktgen threads of CPUS."""
    for cpu in cpus:
        _write(PG / f"kpktgend_{cpu}", "rem_device_all")


def run() -> None:
    """Start every prepared device; returns when they are done (or stopped)."""
    _write(PG / "pgctrl", "start")


def start_background() -> threading.Thread:
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def stop() -> None:
    _write(PG / "pgctrl", "stop")


def result_pps(dev: str) -> int:
    """Packets per second of the last run, as pktgen itself reports it."""
    text = (PG / dev).read_text()
    m = re.search(r"Result: OK: .*?(\d+)pps", text, re.S)
    if not m:
        raise RuntimeError(f"pktgen did not report a result for {dev}:\n{text}")
    return int(m.group(1))


def tx_pps(dev: str, count: int, burst: int = 1) -> int:
    """One pktgen run of COUNT frames through DEV, start to end: its packets per second."""
    setup(dev, count=count, burst=burst)
    run()
    return result_pps(dev)


def tx_pps_per_queue(dev: str, count: int, queues: int) -> int:
    """One pktgen run of COUNT frames on each of DEV's first QUEUES TX queues at once, TX
    queue i sent from CPU i: the sum of the threads' packets per second."""
    cpus = range(queues)
    setup(dev, count=count, cpus=cpus, queue_per_cpu=queues > 1)
    run()
    return sum(result_pps(dev if queues == 1 else f"{dev}@{cpu}") for cpu in cpus)

