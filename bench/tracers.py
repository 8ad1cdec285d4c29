"""`vnet-trace napi` and `rings` as the benchmarks run them: two processes, attached for the
duration of a `with` (bench.py and tracing_cost.py)."""

from __future__ import annotations

import signal
import subprocess
import threading
from pathlib import Path


def cpu_seconds(pid: int) -> float:
    """CPU time of every thread of PID, from the scheduler's own accounting (schedstat: ns,
    where /proc/PID/stat counts 10 ms ticks, too coarse for a few seconds of a 1 % process)."""
    return sum(int((task / "schedstat").read_text().split()[0]) for task in Path(f"/proc/{pid}/task").iterdir()) / 1e9


class Tracers:
    """`vnet-trace napi --json` and `rings --json` attached for the duration of a `with`;
    what `rings` reports is kept (its probes' own cost)."""

    def __init__(self, probes: str) -> None:
        self.probes = probes
        self.rings_lines: list[str] = []
        self.procs: list[subprocess.Popen[str]] = []

    def __enter__(self) -> Tracers:
        self.procs = [subprocess.Popen(["vnet-trace", cmd, "--json", "--probes", self.probes, "1"],
                                       stdout=subprocess.PIPE, text=True) for cmd in ("napi", "rings")]
        for p, sink in zip(self.procs, ([], self.rings_lines), strict=True):
            assert p.stdout is not None
            p.stdout.readline()  # the first interval: compiled and attached
            # Keep the pipes drained.
            threading.Thread(target=lambda out=p.stdout, keep=sink: keep.extend(out), daemon=True).start()
        return self

    def cpu_seconds(self) -> list[float]:
        """CPU seconds used so far by `napi` and by `rings`, in this order."""
        return [cpu_seconds(p.pid) for p in self.procs]

    def signal(self, signum: int) -> None:
        for p in self.procs:
            p.send_signal(signum)

    def __exit__(self, *exc: object) -> None:
        self.signal(signal.SIGCONT)  # a stopped process would never see the SIGINT
        self.signal(signal.SIGINT)
        for p in self.procs:
            p.wait()
