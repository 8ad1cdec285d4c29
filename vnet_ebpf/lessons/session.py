"""One lesson's run in the lab guest: narrated steps, the real tools' output, and
the checks (vnet_ebpf/lessons/grade.py).  The experiments in experiments.py are
written against this."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from vnet_ebpf.lab import witnesses as w
from vnet_ebpf.lessons.grade import Grade
from vnet_ebpf.lessons.markers import todo_sites

SYS_NET = Path("/sys/class/net")


class Session:
    """What an experiment uses: KO is the driver under test, built from KMOD."""

    def __init__(self, lesson: int, ko: Path, kmod: Path) -> None:
        self.lesson = lesson
        self.ko = ko
        self.grade = Grade(lesson, todo_sites(kmod, lesson))
        self.steps = 0

    # -- narration ---------------------------------------------------------------

    def step(self, text: str) -> None:
        self.steps += 1
        print(f"\n== step {self.steps}: {text}", flush=True)

    def say(self, text: str) -> None:
        print(f"   {text}", flush=True)

    def show(self, *argv: str, check: bool = True) -> str:
        """Run a real tool, print its command line and output, and return the output."""
        print(f"   $ {' '.join(argv)}", flush=True)
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        out = proc.stdout + proc.stderr
        for line in out.rstrip("\n").splitlines():
            print(f"     {line}")
        if check and proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} exited with status {proc.returncode}")
        return proc.stdout

    def interlude(self, text: str) -> None:
        """Something to look at, printed as it is (a vnet-trace view, a table)."""
        for line in text.rstrip("\n").splitlines():
            print(f"     {line}")

    # -- the driver ----------------------------------------------------------------

    def load(self, *params: str) -> None:
        """insmod the driver under test (after an rmmod of any vnet loaded before)."""
        self.unload(quiet=True)
        self.show("insmod", str(self.ko), *params)

    def unload(self, quiet: bool = False) -> None:
        if not Path("/sys/module/vnet").exists():
            return
        if quiet:
            subprocess.run(["rmmod", "vnet"], check=True)
        else:
            self.show("rmmod", "vnet")

    def up(self, dev: str = "vnet0", addr: str | None = None) -> None:
        """DEV up without the stack's own IPv6 traffic (DAD, router solicitations),
        so that every count of frames is exact."""
        (Path("/proc/sys/net/ipv6/conf") / dev / "disable_ipv6").write_text("1\n")
        if addr:
            self.show("ip", "addr", "add", addr, "dev", dev)
        self.show("ip", "link", "set", dev, "up")

    def knob(self, name: str, value: object, dev: str = "vnet0") -> None:
        """One of the simulated NIC's knobs: /sys/class/net/DEV/vnet/NAME."""
        print(f"   $ echo {value} > /sys/class/net/{dev}/vnet/{name}", flush=True)
        w.set_knob(name, value, dev)

    def sysfs(self, path: str) -> str:
        return (SYS_NET / path).read_text().strip()

    def generate(self, rate: int, burst: int, seconds: float, dev: str = "vnet0") -> None:
        """The simulated NIC receives RATE ARP requests a second, BURST per interrupt,
        for SECONDS; then waits until NAPI has taken every frame from the ring."""
        self.knob("rx_burst", burst, dev)
        self.knob("rx_rate", rate, dev)
        time.sleep(seconds)
        self.knob("rx_rate", 0, dev)
        time.sleep(0.5)  # the last interrupt's NAPI poll

    def ethtool(self, dev: str = "vnet0") -> dict[str, int]:
        return w.ethtool_stats(dev)

    def delta(self, before: dict[str, int], dev: str = "vnet0") -> dict[str, int]:
        return w.delta(self.ethtool(dev), before)

    def link_stats(self, dev: str = "vnet0") -> dict[str, dict[str, int]]:
        return w.ip_stats(dev)
