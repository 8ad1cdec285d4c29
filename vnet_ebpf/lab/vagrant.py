"""``vnet-lab vagrant-test``: the Vagrantfile booted and provisioned for real, on libvirt.

Steps, each timed: make sure libvirtd runs; build or reuse the guest's box (box.py)
and add it to Vagrant; ``vagrant up --provider=libvirt`` with that box; in the VM,
load the driver (``ethtool -i vnet0`` must say ``driver: vnet``) and run
``vnet-trace napi --json 1 3`` (three reports, with polls); then ``vagrant destroy -f``
and a check with virsh that no domain, volume or network of the test is left.

Everything runs under one deadline: Vagrant can hang on a stale SSH connection after a
reboot, and a hung test must not hold CI.  The test's Vagrant state lives in
``.lab/vagrant/<guest>`` (VAGRANT_DOTFILE_PATH), apart from a user's own ``vagrant up``
in the checkout; its domain is named ``vnet-lab-test_default``.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from vnet_ebpf.errors import UserError
from vnet_ebpf.lab import box as box_mod
from vnet_ebpf.lab import cache
from vnet_ebpf.lab import image as image_mod
from vnet_ebpf.lab.guests import Guest

URI = "qemu:///system"
#: vagrant-libvirt names the domain and its disk volume "<prefix><machine name>".
PREFIX = "vnet-lab-test_"
#: vagrant-libvirt's name for the base volumes of the vnet-lab/NAME boxes.
BASE_VOLUMES = "vnet-lab-VAGRANTSLASH-"
INSTALL = "apt-get install vagrant vagrant-libvirt libvirt-daemon-system dnsmasq-base qemu-utils"

#: What Vagrant prints when a provisioner starts, and when a shell provisioner fails.
PROVISIONER = re.compile(r"^==> default: Running provisioner: (?P<name>\S+)")
#: apt fetching a file in the VM.
APT_GET = re.compile(r"^\s*default: Get:\d+ ")
#: Progress lines (box upload, rsync) that only redraw themselves.
PROGRESS = re.compile(r"^\s*(Progress: \d+%|\x1b\[K)")


@dataclass
class Timings:
    """Seconds per step, in the order they ran, for the summary and CI's log."""

    steps: list[tuple[str, float]] = field(default_factory=list)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        print(f"vagrant-test: {name} ...", flush=True)
        t = time.monotonic()
        try:
            yield
        finally:
            self.steps.append((name, time.monotonic() - t))
            print(f"vagrant-test: {name}: {time.monotonic() - t:.0f} s", flush=True)

    def summary(self) -> str:
        return "; ".join(f"{name} {secs:.0f} s" for name, secs in self.steps)


def _sbin(tool: str) -> str | None:
    return shutil.which(tool, path=image_mod.sbin_path())


def virsh(*args: str) -> subprocess.CompletedProcess[str]:
    """virsh on the system connection; a minute without an answer counts as a failure."""
    exe = _sbin("virsh") or "virsh"
    try:
        return subprocess.run([exe, "-c", URI, *args], capture_output=True, text=True, check=False, timeout=60)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess([exe, *args], 124, "", "virsh timed out")


def check_tools() -> None:
    """One line naming the packages when Vagrant, its libvirt plugin or libvirt is missing."""
    if shutil.which("vagrant") is None:
        raise UserError(f"Vagrant is not installed: install it with `{INSTALL}`")
    if _sbin("virsh") is None or _sbin("libvirtd") is None:
        raise UserError(f"no libvirt on this machine: install it with `{INSTALL}`")
    plugin_dirs = [Path("/usr/share/rubygems-integration/all/gems"), box_mod.vagrant_home() / "gems"]
    if not any(any(d.glob("**/vagrant-libvirt-*")) for d in plugin_dirs if d.is_dir()):
        raise UserError(f"Vagrant has no libvirt provider: install it with `{INSTALL}`")
    if _sbin("dnsmasq") is None:
        raise UserError(f"libvirt's networks need dnsmasq: install it with `{INSTALL}`")


def ensure_libvirtd() -> str:
    """Start libvirtd (and virtlogd) when it is not running; say what was done.

    Where systemd runs the machine, systemctl starts them; without systemd (CI's
    containers), they are started by hand."""
    if virsh("version").returncode == 0:
        return "libvirtd was running"
    if os.geteuid() != 0:
        raise UserError("libvirtd is not running, and starting it needs root: run `sudo make vagrant-test`")
    systemd = Path("/run/systemd/system").is_dir()
    for daemon in ("virtlogd", "libvirtd"):
        argv = ["systemctl", "start", daemon] if systemd else [_sbin(daemon) or daemon, "-d"]
        try:
            subprocess.run(argv, capture_output=True, check=False, timeout=60)
        except subprocess.TimeoutExpired:
            raise UserError(f"`{' '.join(argv)}` did not return within 60 s") from None
    how = "started libvirtd with systemctl" if systemd else "started virtlogd and libvirtd by hand (no systemd)"
    for _ in range(60):
        if virsh("version").returncode == 0:
            return how
        time.sleep(0.5)
    raise UserError("libvirtd did not start: see /var/log/libvirt/libvirtd.log")


def leftovers() -> dict[str, list[str]]:
    """The test's libvirt objects that still exist: domains, volumes, the management network."""
    doms = virsh("list", "--all", "--name").stdout.split()
    volumes = []
    for pool in virsh("pool-list", "--all", "--name").stdout.split():
        for line in virsh("vol-list", "--pool", pool).stdout.splitlines()[2:]:
            if line.split():
                volumes.append(f"{pool}/{line.split()[0]}")
    networks = virsh("net-list", "--all", "--name").stdout.split()
    return ours(doms, volumes, networks)


def ours(domains: list[str], volumes: list[str], networks: list[str]) -> dict[str, list[str]]:
    """Of libvirt's DOMAINS, VOLUMES (pool/name) and NETWORKS, those the test may remove: its
    own domain and disk; and, only while no other domain is defined (one might be a user's
    VM of a vnet-lab box, using them), the vnet-lab boxes' base volumes and Vagrant's
    management network."""
    others = [d for d in domains if not d.startswith(PREFIX)]
    shared = () if others else (BASE_VOLUMES,)
    return {
        "domain": [d for d in domains if d.startswith(PREFIX)],
        "volume": [v for v in volumes if v.partition("/")[2].startswith((PREFIX, *shared))],
        "network": [n for n in networks if n == "vagrant-libvirt" and not others],
    }


def remove(found: dict[str, list[str]]) -> None:
    for dom in found["domain"]:
        virsh("destroy", dom)
        virsh("undefine", dom, "--nvram")
    for vol in found["volume"]:
        pool, name = vol.split("/", 1)
        virsh("vol-delete", "--pool", pool, name)
    for net in found["network"]:
        virsh("net-destroy", net)
        virsh("net-undefine", net)


@dataclass
class VagrantRun:
    """One vagrant command: its exit status, the provisioner it was in, its last lines."""

    status: int
    provisioner: str | None
    tail: list[str]
    timed_out: bool
    #: Files apt fetched in the VM ("Get:N" lines): none on a current vnet-lab box.
    apt_fetches: int = 0


def run_vagrant(args: list[str], env: dict[str, str], log: Path, deadline: float) -> VagrantRun:
    """Run ``vagrant ARGS``, its output (without progress redraws) to the terminal and LOG;
    killed, with its whole process group, at DEADLINE (time.monotonic())."""
    provisioner: str | None = None
    tail: list[str] = []
    fetches = 0
    started = time.monotonic()
    with log.open("a") as out:
        out.write(f"\n$ vagrant {' '.join(args)}\n")
        proc = subprocess.Popen(["vagrant", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, text=True, errors="replace", start_new_session=True)
        assert proc.stdout is not None
        with _Killer(proc, deadline) as timer:
            for raw in proc.stdout:
                for line in raw.replace("\r", "\n").splitlines():
                    if not line.strip() or PROGRESS.match(line):
                        continue
                    stamped = f"[{time.monotonic() - started:6.0f} s] {line}"
                    out.write(stamped + "\n")
                    out.flush()
                    print(stamped, flush=True)
                    m = PROVISIONER.match(line)
                    if m:
                        provisioner = m["name"]
                    tail = [*tail[-7:], line.strip()]
                    fetches += APT_GET.match(line) is not None
            status = proc.wait()
    return VagrantRun(status, provisioner, tail, timer.fired, fetches)


class _Killer:
    """Kills a process group when a deadline passes (the vagrant run's overall timeout),
    and, as a context manager, when the block raises: on Ctrl-C, for one, which vagrant,
    in a session of its own, did not see; it must stop before the caller's destroy runs."""

    def __init__(self, proc: subprocess.Popen[str], deadline: float) -> None:
        self.fired = False
        self._proc = proc
        self._timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._expire)
        self._timer.daemon = True
        self._timer.start()

    def _expire(self) -> None:
        self.fired = True
        self.kill()

    def kill(self) -> None:
        with suppress(ProcessLookupError):
            os.killpg(self._proc.pid, signal.SIGKILL)

    def cancel(self) -> None:
        self._timer.cancel()

    def __enter__(self) -> _Killer:
        return self

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        self.cancel()
        if kind is not None:
            self.kill()
            self._proc.wait()


def napi_reports(stdout: str) -> list[dict[str, object]]:
    """The NDJSON objects of ``vnet-trace napi --json``; other lines are ignored."""
    reports = []
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict):
                reports.append(obj)
    return reports


def test(guest: Guest, checkout: Path, timeout: float, driver: str, cpus: int) -> Timings:
    """The whole test; raises UserError (one line) on the first failure, after cleaning up.
    TIMEOUT bounds what comes after the box: vagrant up, the checks and destroy."""
    timings = Timings()
    check_tools()
    logs = checkout / ".lab" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    log = logs / f"vagrant-{guest.name}-{stamp}.log"
    console = logs / f"vagrant-{guest.name}-{stamp}.console.log"
    with _one_at_a_time(), _sigterm_interrupts():
        with timings.step("libvirt"):
            print(f"vagrant-test: {ensure_libvirtd()}", flush=True)
        # A domain of an earlier run that was killed: it would hold the name.
        remove(leftovers())
        with timings.step(f"box {box_mod.box_name(guest)}"):
            built = box_mod.build(guest)
            box_mod.add(guest, built)
        env = {
            **os.environ,
            "VNET_VAGRANT_BOX": box_mod.box_name(guest),
            "VNET_VAGRANT_DRIVER": driver,
            "VNET_VAGRANT_CPUS": str(cpus),
            "VNET_VAGRANT_CONSOLE_LOG": str(console),
            "VNET_VAGRANT_PREFIX": PREFIX,
            "VAGRANT_DOTFILE_PATH": str(checkout / ".lab" / "vagrant" / guest.name),
            "VAGRANT_CHECKPOINT_DISABLE": "1",
        }
        print(f"vagrant-test: the log is {log}; the VM's console goes to {console}", flush=True)
        deadline = time.monotonic() + timeout
        failure: str | None = None
        try:
            with timings.step("vagrant up"):
                up = run_vagrant(["up", "--provider=libvirt"], env, log, deadline)
            failure = up_failure(up, timeout, log, console) or _checks(env, log, deadline, timings)
        finally:
            with timings.step("vagrant destroy"):
                run_vagrant(["destroy", "-f"], env, log, max(deadline, time.monotonic() + 300))
                left = leftovers()
                if any(left.values()):
                    print(f"vagrant-test: removing what destroy left: {left}", flush=True)
                    remove(left)
            still = {k: v for k, v in leftovers().items() if v}
    if failure:
        raise UserError(failure)
    if still:
        raise UserError(f"libvirt objects left behind after the test: {still}")
    return timings


@contextmanager
def _one_at_a_time() -> Iterator[None]:
    """One vagrant-test per machine: a second would remove the first one's VM (same name)."""
    lock = cache.cache_root() / "vagrant-test.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserError("another vagrant-test is running on this machine: wait for it to end") from None
        yield


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM (CI's timeout, kill) ends the test like Ctrl-C: through the cleanup."""
    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def up_failure(up: VagrantRun, timeout: float, log: Path, console: Path) -> str | None:
    """What went wrong in ``vagrant up``, as one line naming where to look; None if nothing."""
    where = f" in the provisioner {up.provisioner!r}" if up.provisioner else ""
    if up.timed_out:
        return f"`vagrant up` did not finish{where} within the {timeout:.0f} s timeout (log {log}, console {console})"
    if up.status != 0:
        inside = " inside the VM" if up.provisioner else ""
        return (f"`vagrant up` failed{where}{inside} (exit {up.status}): {_reason(up.tail)}; "
                f"fix that and rerun (log {log}, console {console})")
    if up.apt_fetches:
        # The box is meant to be used offline: provisioning it must need no archive.
        return (f"provisioning the box fetched {up.apt_fetches} files from the Debian archive: it lacks "
                f"packages provision.sh lists; rebuild it with `vnet-lab box --force` (log {log})")
    return None


def _reason(tail: list[str]) -> str:
    """The most telling of a failed run's last lines."""
    for line in reversed(tail):
        if line.startswith("default:") and line.removeprefix("default:").strip():
            return line.removeprefix("default:").strip()
    return tail[-1] if tail else "no output"


def _checks(env: dict[str, str], log: Path, deadline: float, timings: Timings) -> str | None:
    """The checks in the VM; the first failure as one line, or None."""
    with timings.step("insmod and ethtool -i"):
        status, out = _ssh(env, log, deadline, "sudo insmod /vagrant/kmod/vnet.ko")
        if status != 0:
            return f"in the VM, `insmod /vagrant/kmod/vnet.ko` failed (exit {status}): {_last(out)} (log {log})"
        status, out = _ssh(env, log, deadline, "sudo ethtool -i vnet0")
        if status != 0 or "driver: vnet" not in out.splitlines():
            return f"in the VM, `ethtool -i vnet0` does not say `driver: vnet`: {_last(out)} (log {log})"
    with timings.step("vnet-trace napi 1 3"):
        # The generator is off by default (rx_rate 0): 100 ARP frames a second give NAPI work.
        # The kernel's rx_packets before and after bound what the tracer may report.
        rx = "cat /sys/class/net/vnet0/statistics/rx_packets"
        status, out = _ssh(env, log, deadline, "echo 100 | sudo tee /sys/class/net/vnet0/vnet/rx_rate >/dev/null"
                           f" && sudo ip link set vnet0 up && echo rx_before=$({rx}) &&"
                           f" sudo vnet-trace napi --json 1 3 && echo rx_after=$({rx})")
        reports = napi_reports(out)
        counts = {k: int(v) for k, v in re.findall(r"^(rx_before|rx_after)=(\d+)$", out, re.M)}
        if status != 0 or len(reports) != 3 or len(counts) != 2:
            return (f"in the VM, `vnet-trace napi --json 1 3` printed {len(reports)} reports, not 3 "
                    f"(exit {status}): {_last(out)} (log {log})")
        polls = sum(n for r in reports if isinstance(n := r.get("polls"), int))
        packets = sum(n for r in reports if isinstance(n := r.get("packets"), int))
        delivered = counts["rx_after"] - counts["rx_before"]
        if polls == 0 or packets == 0:
            return (f"in the VM, `vnet-trace napi` saw {polls} polls and {packets} packets in 3 s "
                    f"with the generator at 100 frames/s (log {log})")
        if packets > delivered:
            return (f"in the VM, `vnet-trace napi` reported {packets} packets, but rx_packets grew by only "
                    f"{delivered} around it (log {log})")
        print(f"vagrant-test: vnet-trace napi: 3 reports, {polls} polls, {packets} packets "
              f"(rx_packets grew by {delivered} around it)", flush=True)
    return None


def _last(out: str) -> str:
    lines = [line.strip() for line in out.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


#: ssh gives up on a guest that stops answering (a panic under emulation) within a minute.
SSH_OPTIONS = ("--", "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4")


def _ssh(env: dict[str, str], log: Path, deadline: float, command: str) -> tuple[int, str]:
    """``vagrant ssh -c COMMAND``: its exit status and output.  At DEADLINE the whole
    process group goes (ssh included, which would otherwise keep the pipe open)."""
    with log.open("a") as out:
        out.write(f"\n$ vagrant ssh -c {command!r}\n")
    proc = subprocess.Popen(["vagrant", "ssh", "-c", command, *SSH_OPTIONS], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True, errors="replace",
                            start_new_session=True)
    with _Killer(proc, deadline) as killer:
        text, _ = proc.communicate()
    status = proc.returncode
    if killer.fired:
        text, status = text + "\n(timed out)", 124
    with log.open("a") as out:
        out.write(text)
    print(text.rstrip(), flush=True)
    return status, text
