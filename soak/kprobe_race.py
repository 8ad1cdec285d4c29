"""The detach-panic reproducer: probes on a transmit function added, enabled, disabled
and deleted through tracefs, over and over, while pktgen drives that function at full
rate from every CPU.  Runs in the lab guest, which boots with oops=panic: a crash ends
the VM, and the serial log keeps the oops and the last iteration printed.

    python3 soak/kprobe_race.py [--variant kprobe|kretprobe|ftrace] [--target vnet|dummy]
                                [--iterations N] [--seed S]

    kprobe     p: probe on the xmit function (an ftrace-based kprobe on x86 with fentry)
    kretprobe  r: probe on it
    ftrace     no kprobe: the function tracer switched on and off for that one function
    target     vnet0 (vnet_start_xmit) or dummy0 (dummy_xmit, the kernel's own driver)

Prints one JSON line at the end: {"variant", "target", "iterations", "completed", ...}.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from soak.soak import pktgen_both_cpus  # the repository's, not an installed package
from tests.vm import guest

TRACEFS = Path("/sys/kernel/tracing")
TARGETS = {"vnet": ("vnet0", "vnet_start_xmit"), "dummy": ("dummy0", "dummy_xmit")}


def write(path: Path, text: str, append: bool = False) -> None:
    """One write(2), as echo does (Python's append mode seeks, which tracefs refuses)."""
    fd = os.open(path, os.O_WRONLY | (os.O_APPEND if append else os.O_TRUNC))
    try:
        os.write(fd, (text + "\n").encode())
    finally:
        os.close(fd)


def log(msg: str) -> None:
    """To the console and the kernel log (kept on the host even if the guest panics)."""
    print(msg, flush=True)
    with open("/dev/kmsg", "w") as k:
        k.write(f"kprobe_race: {msg}\n")


def setup(target: str) -> str:
    dev, _ = TARGETS[target]
    if target == "vnet":
        guest.unload()
        guest.load()
        log(f"vnet .text at {Path('/sys/module/vnet/sections/.text').read_text().strip()}")
    else:
        subprocess.run(["modprobe", "dummy"], check=True)
        subprocess.run(["ip", "link", "add", dev, "type", "dummy"], check=False)
        text = Path("/sys/module/dummy/sections/.text")
        if text.exists():
            log(f"dummy .text at {text.read_text().strip()}")
    Path(f"/proc/sys/net/ipv6/conf/{dev}/disable_ipv6").write_text("1\n")
    subprocess.run(["ip", "link", "set", dev, "up"], check=True)
    return dev


def one_cycle(variant: str, func: str, rng: random.Random) -> None:
    def gap() -> None:
        time.sleep(rng.uniform(0.001, 0.050))

    if variant == "ftrace":
        write(TRACEFS / "set_ftrace_filter", func)
        write(TRACEFS / "current_tracer", "function")
        gap()
        write(TRACEFS / "current_tracer", "nop")
        write(TRACEFS / "set_ftrace_filter", "")
        gap()
        return
    kind = "p" if variant == "kprobe" else "r"
    write(TRACEFS / "kprobe_events", f"{kind}:vnetrace/race {func}", append=True)
    gap()
    enable = TRACEFS / "events" / "vnetrace" / "race" / "enable"
    write(enable, "1")
    gap()
    write(enable, "0")
    gap()
    write(TRACEFS / "kprobe_events", "-:vnetrace/race", append=True)
    gap()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variant", choices=("kprobe", "kretprobe", "ftrace"), default="kprobe")
    ap.add_argument("--target", choices=tuple(TARGETS), default="vnet")
    ap.add_argument("--iterations", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    dev = setup(args.target)
    func = TARGETS[args.target][1]
    write(TRACEFS / "current_tracer", "nop")
    mark = guest.kmsg_mark()
    log(f"start: {args.variant} on {func} ({dev}), {args.iterations} iterations, "
        f"{os.cpu_count()} CPUs, kernel {os.uname().release}")
    start = time.monotonic()
    done = 0
    with pktgen_both_cpus(dev):
        for done in range(1, args.iterations + 1):
            one_cycle(args.variant, func, rng)
            if done % 10 == 0:
                log(f"iteration {done}")
    splats = guest.splats(mark.read())
    result = {"variant": args.variant, "target": args.target, "iterations": args.iterations,
              "completed": done, "seconds": round(time.monotonic() - start), "splats": splats[:5],
              "kernel": os.uname().release, "cpus": os.cpu_count()}
    print(json.dumps(result), flush=True)
    return 1 if splats else 0


if __name__ == "__main__":
    sys.exit(main())
