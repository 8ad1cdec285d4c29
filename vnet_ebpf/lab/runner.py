"""``vnet-lab run`` and ``shell``: boot the image, run a command, always stop the VM.

The host talks to the guest through two virtio-9p shares: the checkout (mounted
read-write at the same path inside the guest) and a per-run control folder that
holds the guest's init script, the command, and what comes back (its exit
status and the guest kernel log).  The serial console carries the command's
output live (lab/console.py); the host terminal's size goes to the guest through
the control folder (lab/winsize.py).  lab/accel.py chooses KVM or TCG.
"""

from __future__ import annotations

import hashlib
import os
import select
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from vnet_ebpf.errors import UserError
from vnet_ebpf.lab import cache, qemu
from vnet_ebpf.lab.console import Console
from vnet_ebpf.lab.image import Image
from vnet_ebpf.lab.winsize import follow_terminal_size, write_winsize

QEMU = "qemu-system-x86_64"
RUN_TOOLS = {QEMU: "qemu-system-x86"}


class _Terminated(Exception):
    """SIGTERM arrived: stop the VM like on Ctrl-C."""


@dataclass
class RunResult:
    status: int
    kmsg_log: Path
    console_log: Path
    started: bool  # the guest reached the command
    interrupted: bool = False  # stopped by Ctrl-C or SIGTERM (and said so)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise _Terminated()


def vcpus() -> int:
    """The guest's CPUs: 2, or $VNET_LAB_SMP (1-8; soak/kprobe_race.py compares -smp 1)."""
    raw = os.environ.get("VNET_LAB_SMP", "2")
    if not raw.isdigit() or not 1 <= int(raw) <= 8:
        raise UserError(f"VNET_LAB_SMP must be a number of CPUs from 1 to 8, not {raw!r}", 2)
    return int(raw)


def kmod_digest(kmod: Path) -> str:
    """A hash of the driver's sources: the guest rebuilds vnet.ko only when it changes.

    Not kbuild's generated ``*.mod.c``: it differs per kernel, so counting it would make
    the first run after a build for another guest's kernel rebuild twice.
    """
    h = hashlib.sha256()
    for f in sorted(kmod.iterdir()) if kmod.is_dir() else []:
        if f.name.endswith(".mod.c"):
            continue
        if f.is_file() and (f.suffix in (".c", ".h") or f.name in ("Kbuild", "Makefile")):
            h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:32]


def _write_control(ctl: Path, src: Path, cmd: list[str], mode: str, load: bool, build_driver: bool,
                   guest: str, accel: str = "tcg", follow_size: bool = False) -> None:
    shutil.copy(cache.GUEST_DIR / "init.sh", ctl / "init.sh")
    rows, cols = write_winsize(ctl)
    env = {
        "SRC": str(src),
        "GUEST": guest,
        "MODE": mode,
        "LOAD": "1" if load else "0",
        "BUILD": "1" if build_driver else "0",
        # What the guest's clock follows: the host's ("wall") or instructions ("icount").
        "CLOCK": "icount" if accel == "icount" else "wall",
        # How the guest is emulated: vnet-trace warns under multi-threaded TCG (probes/emulation.py).
        "ACCEL": accel,
        "KMOD_DIGEST": kmod_digest(src / "kmod"),
        # The console's size at start (stty in the guest, not $COLUMNS/$LINES, so that
        # Rich asks the tty on each render), and whether to poll winsize for resizes.
        "ROWS": str(rows),
        "COLS": str(cols),
        "FOLLOW_SIZE": "1" if follow_size else "0",
        "TERM": os.environ.get("TERM", "linux"),
    }
    (ctl / "env").write_text("".join(f"{k}={shlex.quote(v)}\n" for k, v in env.items()))
    (ctl / "cmd.sh").write_text(shlex.join(cmd) + "\n" if cmd else "true\n")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_vm(
    image: Image,
    src: Path,
    cmd: list[str],
    *,
    accel: str,
    timeout: float,
    logs: Path,
    load: bool = False,
    build_driver: bool = True,
    quiet: bool = False,
    verbose: bool = False,
) -> RunResult:
    """Boot, run CMD in SRC inside the guest, stop the VM; return CMD's status.

    124 on timeout (as timeout(1)), 130 on Ctrl-C; the VM is stopped in every case.
    """
    logs.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S") + f"-{os.getpid()}"
    kmsg_log = logs / f"run-{stamp}.kmsg.log"
    console_log = logs / f"run-{stamp}.console.log"
    # The SIGWINCH handler goes before the control folder does (exits run in reverse).
    with tempfile.TemporaryDirectory(prefix="vnet-lab-ctl-") as ctl_name, \
            follow_terminal_size(Path(ctl_name)) as follow:
        ctl = Path(ctl_name)
        _write_control(ctl, src, cmd, "run", load, build_driver, image.guest, accel, follow)
        spec = qemu.VmSpec(
            kernel=image.kernel, initrd=image.initrd, disk=image.disk, accel=accel,
            shares=(qemu.Share("labctl", ctl), qemu.Share("src", src)), smp=vcpus(),
        )
        proc = subprocess.Popen(qemu.qemu_argv(spec, QEMU), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        console = Console(console_log, quiet)
        console.quiet = quiet
        if verbose:
            console.started = True
        deadline = time.monotonic() + timeout
        status: int
        interrupted = False
        old = signal.signal(signal.SIGTERM, _on_sigterm)
        try:
            assert proc.stdout is not None
            fd = proc.stdout.fileno()
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    _stop(proc)
                    status = 124
                    if not quiet:
                        print(f"\nvnet-lab: timed out after {timeout:g} s; VM stopped", file=sys.stderr)
                    break
                ready, _, _ = select.select([fd], [], [], min(left, 1.0))
                if ready:
                    data = os.read(fd, 65536)
                    if not data:
                        proc.wait()
                        status = _final_status(console, ctl)
                        break
                    console.feed(data)
        except (KeyboardInterrupt, _Terminated):
            _stop(proc)
            status = 130 if not quiet else 1
            interrupted = True
            # On a terminal, off the line the terminal echoed ^C on.
            print(f"{_terminal_newline()}vnet-lab: interrupted; VM stopped", file=sys.stderr)
        finally:
            signal.signal(signal.SIGTERM, old)
            _stop(proc)
            console.close()
            if (ctl / "kmsg.log").exists():
                shutil.copy(ctl / "kmsg.log", kmsg_log)
            else:
                kmsg_log.write_text("(the guest did not get far enough to save its kernel log)\n")
        if not console.started and not quiet and status not in (124, 130):
            sys.stderr.buffer.write(console.before_start[-4000:])
        return RunResult(status, kmsg_log, console_log, console.started, interrupted)


def _terminal_newline() -> str:
    return "\n" if sys.stderr.isatty() else ""


def _final_status(console: Console, ctl: Path) -> int:
    if console.status is not None:
        return console.status
    try:
        return int((ctl / "rc").read_text().strip())
    except (OSError, ValueError):
        return 1


def shell(image: Image, src: Path, *, accel: str, load: bool, logs: Path, build_driver: bool = True) -> int:
    """An interactive root shell in the guest; the VM stops when the shell exits."""
    logs.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="vnet-lab-ctl-") as ctl_name, \
            follow_terminal_size(Path(ctl_name)) as follow:
        ctl = Path(ctl_name)
        _write_control(ctl, src, [], "shell", load, build_driver, image.guest, accel, follow)
        spec = qemu.VmSpec(
            kernel=image.kernel, initrd=image.initrd, disk=image.disk, accel=accel, interactive=True,
            shares=(qemu.Share("labctl", ctl), qemu.Share("src", src)),
        )
        rc = subprocess.run(qemu.qemu_argv(spec, QEMU), check=False).returncode
        if (ctl / "kmsg.log").exists():
            shutil.copy(ctl / "kmsg.log", logs / "shell.kmsg.log")
        try:
            return int((ctl / "rc").read_text().strip())
        except (OSError, ValueError):
            return rc or 1
