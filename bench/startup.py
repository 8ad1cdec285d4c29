"""Start-up and Ctrl-C of the console commands, measured in the lab guest.

Run it in the guest as root (the module is loaded here with numdevs=2, for vnet-wire):

    vnet-lab run -- python3 bench/startup.py

Prints, with medians of ROUNDS runs each: the interpreter's own start (with and without
`site`), the wall time to the first line of a program's code, `--help` of each command,
what `--help` imports (python3 -X importtime), then what SIGINT does at several instants
after each command starts: exit status, lines on stderr, traceback or not.  The figures
go to docs/benchmarks.md.
"""

from __future__ import annotations

import os
import re
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.vm import guest

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
INSTANTS = [float(s) for s in os.environ.get("BENCH_INSTANTS", "0 0.05 0.2 0.6 1.2 2.5").split()]
#: Modules `--help` must not need.
HEAVY = ("bcc", "pyroute2", "rich.console", "rich.live", "vnet_ebpf.probes")


def wall(argv: list[str]) -> float:
    """Median wall seconds of ARGV over ROUNDS runs."""
    times = []
    for _ in range(ROUNDS):
        t = time.monotonic()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.monotonic() - t)
    return statistics.median(times)


def first_line(flags: list[str]) -> float:
    """Median seconds from the spawn to the first line of a program's code (the clock is
    CLOCK_MONOTONIC in both processes)."""
    times = []
    for _ in range(ROUNDS):
        t = time.monotonic()
        out = subprocess.run(["python3", *flags, "-c", "import time; print(time.monotonic())"],
                             capture_output=True, text=True, check=True).stdout
        times.append(float(out) - t)
    return statistics.median(times)


def import_report(argv: list[str]) -> tuple[float, list[str], list[tuple[int, str]]]:
    """What ARGV imports: total seconds of top-level imports, the HEAVY modules among
    them, and the five costliest top-level imports (microseconds, name)."""
    env = dict(os.environ, PYTHONPROFILEIMPORTTIME="1")
    err = subprocess.run(argv, capture_output=True, text=True, env=env, check=False).stderr
    top: list[tuple[int, str]] = []
    names = []
    for line in err.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if not m:
            continue
        names.append(m[4])
        if len(m[3]) == 1:
            top.append((int(m[2]), m[4]))
    heavy = sorted({n for n in names if n.startswith(HEAVY)})
    return sum(us for us, _ in top) / 1e6, heavy, sorted(top, reverse=True)[:5]


def sigint_at(argv: list[str], delay: float, ready: str | None = None) -> str:
    """Start ARGV, send SIGINT DELAY seconds later (or DELAY seconds after READY appears
    on stdout), and say what came of it."""
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if ready is not None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if ready in line:
                break
    time.sleep(max(0.0, delay - (time.monotonic() - t0)) if ready is None else delay)
    sent = time.monotonic() - t0
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return f"at {sent:5.2f} s: no exit within 300 s"
    took = time.monotonic() - t0
    lines = err.splitlines()
    tb = "Traceback" in err or "Fatal Python error" in err
    last = lines[-1] if lines else ""
    return (f"at {sent:5.2f} s: status {proc.returncode:4}, {len(lines)} line(s) on stderr, "
            f"{'TRACEBACK' if tb else 'no traceback'}, exit after {took:5.1f} s; last: {last[:70]!r}")


def main() -> None:
    print(f"guest {os.environ.get('VNET_LAB_GUEST')}, {sys.version.split()[0]}, "
          f"accel {os.environ.get('VNET_LAB_ACCEL')}, {ROUNDS} rounds")
    print(f"vnet-trace is {Path('/usr/local/bin/vnet-trace').read_text().splitlines()[-1]!r}")
    for flags in ([], ["-S"], ["-I"], ["-I", "-S"]):
        print(f"python3 {' '.join(flags):6} -c pass: {wall(['python3', *flags, '-c', 'pass']):.3f} s; "
              f"to the first line: {first_line(flags):.3f} s")
    for argv in (["vnet-trace", "--help"], ["vnet-trace", "napi", "--help"], ["vnet-wire", "--help"]):
        total, heavy, top = import_report(argv)
        print(f"{' '.join(argv)}: {wall(argv):.3f} s wall; imports {total:.3f} s, heavy: {heavy or 'none'}; "
              "costliest: " + ", ".join(f"{name} {us / 1e6:.3f}" for us, name in top))
    guest.unload()
    guest.load("numdevs=2")
    try:
        for d in INSTANTS:
            print("vnet-trace napi 1 5  SIGINT " + sigint_at(["vnet-trace", "napi", "1", "5"], d))
        print("vnet-trace napi 1 5  SIGINT 0.5 s after its header: "
              + sigint_at(["vnet-trace", "napi", "1", "5"], 0.5, ready="Tracing NAPI"))
        for d in INSTANTS:
            print("vnet-wire vnet0 vnet1 SIGINT " + sigint_at(["vnet-wire", "vnet0", "vnet1"], d))
        print("vnet-wire vnet0 vnet1 SIGINT 0.5 s after its first line: "
              + sigint_at(["vnet-wire", "vnet0", "vnet1"], 0.5, ready="Wiring"))
    finally:
        guest.unload()


if __name__ == "__main__":
    main()
