"""``vnet-lab run`` and ``shell``: boot the image, run a command, always stop the VM.

The host talks to the guest through two virtio-9p shares: the checkout (mounted
read-write at the same path inside the guest) and a per-run control folder that
holds the guest's init script, the command, and what comes back (its exit
status and the guest kernel log).  The serial console carries the command's
output live; lines starting with ``@@vnet-lab@@`` on it are status marks from the
guest init and are not shown.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import select
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from vnet_ebpf.errors import UserError
from vnet_ebpf.lab import cache, qemu
from vnet_ebpf.lab.image import Image

MARK = b"@@vnet-lab@@ "
QEMU = "qemu-system-x86_64"
RUN_TOOLS = {QEMU: "qemu-system-x86"}
KVM_PROBE_TIMEOUT = 40.0


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


def _qemu_version() -> str:
    out = subprocess.run([QEMU, "--version"], capture_output=True, text=True, check=False).stdout
    return out.splitlines()[0] if out else "unknown"


def vcpus() -> int:
    """The guest's CPUs: 2, or $VNET_LAB_SMP (1-8; soak/kprobe_race.py compares -smp 1)."""
    raw = os.environ.get("VNET_LAB_SMP", "2")
    if not raw.isdigit() or not 1 <= int(raw) <= 8:
        raise UserError(f"VNET_LAB_SMP must be a number of CPUs from 1 to 8, not {raw!r}", 2)
    return int(raw)


def choose_accel(image: Image, logs: Path, verbose: bool = False) -> str:
    """KVM if a probe boot shows it works on this host (result cached), else TCG.

    /dev/kvm existing is not enough: nested setups exist where a stock kernel
    hangs under KVM, so the only trustworthy test is to boot one.
    """
    forced = os.environ.get("VNET_LAB_ACCEL", "")
    if forced:
        if forced not in ("kvm", "tcg", "tcg-mt", "icount"):
            raise UserError(f"VNET_LAB_ACCEL must be kvm, tcg, tcg-mt or icount, not {forced!r}", 2)
        return forced
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "tcg"
    probe_key = f"{platform.release()}|{_qemu_version()}|{image.kernel_release}"
    memo = cache.cache_root() / "accel.json"
    known = read_accel_memo(memo)
    if probe_key in known:
        return known[probe_key]
    print(f"vnet-lab: probing whether KVM can boot the {image.guest} guest (once per host and guest kernel)...",
          file=sys.stderr)
    result = run_vm(image, Path.cwd(), ["true"], accel="kvm", timeout=KVM_PROBE_TIMEOUT,
                    logs=logs, build_driver=False, quiet=True)
    accel = "kvm" if result.status == 0 else "tcg"
    print(f"vnet-lab: using {accel.upper()}", file=sys.stderr)
    # Re-read: another run may have probed another guest meanwhile.
    write_accel_memo(memo, {**read_accel_memo(memo), probe_key: accel})
    return accel


def read_accel_memo(memo: Path) -> dict[str, str]:
    """accel.json: probe key (host kernel|QEMU version|guest kernel) -> "kvm" or "tcg".

    A missing or unreadable file is an empty memo; the one-entry format of older
    versions ({"key": ..., "accel": ...}) is read as that one entry.
    """
    try:
        data = json.loads(memo.read_text())
    except (OSError, ValueError, RecursionError):
        return {}
    if not isinstance(data, dict):
        return {}
    if set(data) == {"key", "accel"}:
        data = {data["key"]: data["accel"]} if isinstance(data["key"], str) else {}
    return {k: v for k, v in data.items() if isinstance(k, str) and v in ("kvm", "tcg")}


def write_accel_memo(memo: Path, known: dict[str, str]) -> None:
    memo.parent.mkdir(parents=True, exist_ok=True)
    tmp = memo.with_name(f"{memo.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(known, indent=2, sort_keys=True) + "\n")
    tmp.replace(memo)


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


def _stdout_is_tty() -> bool:
    try:
        return os.isatty(sys.stdout.fileno())
    except (OSError, ValueError):  # no file descriptor (captured), or closed
        return False


def host_terminal_size() -> tuple[int, int]:
    """(rows, columns) of the host terminal the guest's console is shown on.

    The terminal's own size when stdout is one (not $COLUMNS/$LINES, which a shell
    may have exported once and would then hide every resize); otherwise
    shutil's answer: $COLUMNS/$LINES if set, else 80x24.
    """
    if _stdout_is_tty():
        try:
            size = os.get_terminal_size(sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        else:
            if size.lines > 0 and size.columns > 0:
                return size.lines, size.columns
    fallback = shutil.get_terminal_size()
    return fallback.lines, fallback.columns


def write_winsize(ctl: Path) -> tuple[int, int]:
    """Write the host terminal's size to CTL/winsize as "ROWS COLS" and return it.

    The guest polls that file and applies it to its console with stty.  A file of
    its own renamed into place: the guest never reads half a size, and a resize
    handled in the middle of this write cannot collide with it.  SIGWINCH waits
    while the size is read and written, so that a resize right after the read is
    written after this (older) size, not before it.
    """
    masked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGWINCH})
    try:
        rows, cols = host_terminal_size()
        fd, tmp = tempfile.mkstemp(prefix=".winsize.", dir=ctl)
        with os.fdopen(fd, "w") as f:
            f.write(f"{rows} {cols}\n")
        os.replace(tmp, ctl / "winsize")
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, masked)
    return rows, cols


@contextlib.contextmanager
def follow_terminal_size(ctl: Path) -> Iterator[bool]:
    """While in the block, a resize of the host terminal rewrites CTL/winsize.

    Yields whether the host's stdout is a terminal at all: if not, there is no
    size to follow and the guest need not poll.  The previous SIGWINCH handler is
    back on the way out.
    """
    if not _stdout_is_tty():
        yield False
        return

    def on_winch(signum: int, frame: FrameType | None) -> None:
        # Runs wherever the main thread is: a failed write must not end the run.
        with contextlib.suppress(OSError):
            write_winsize(ctl)

    old = signal.signal(signal.SIGWINCH, on_winch)
    try:
        yield True
    finally:
        signal.signal(signal.SIGWINCH, old)


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


def _held(pending: bytes) -> int:
    """How many bytes at the end of PENDING (no newline in it) are or may begin a
    mark, or may be the \r of a \r\n, and so are not shown yet."""
    at = pending.find(MARK)
    if at >= 0:
        return len(pending) - at
    for n in range(min(len(pending), len(MARK)), 0, -1):
        if MARK.startswith(pending[-n:]):
            return n
    return 1 if pending.endswith(b"\r") else 0


class _Console:
    """Splits the serial stream into the user's output and the guest's marks."""

    def __init__(self, log: Path, quiet: bool) -> None:
        self.log = log.open("wb")
        self.quiet = quiet
        self.started = False
        self.status: int | None = None
        self.pending = b""
        self.before_start = b""

    def feed(self, data: bytes) -> None:
        self.log.write(data)
        # The guest's tty ends lines with \r\n; a lone \r is the program's own (Rich
        # Live goes back to column 0 with it before redrawing) and stays.  A \r at the
        # end of PENDING may be half of a \r\n split across reads: it waits.
        self.pending = (self.pending + data).replace(b"\r\n", b"\n")
        while b"\n" in self.pending:
            line, _, self.pending = self.pending.partition(b"\n")
            self._line(line + b"\n")
        # A partial line is shown now (prompts, progress, Live screens), all but an end
        # that may be the start of a mark (or of a \r\n): that waits for more.
        if self.started and self.status is None:
            cut = len(self.pending) - _held(self.pending)
            if cut:
                self._show(self.pending[:cut])
                self.pending = self.pending[cut:]

    def _line(self, line: bytes) -> None:
        at = line.find(MARK)
        if at >= 0 and not line[:at].strip(b"\r"):
            at = 0  # a mark after a carriage return is a mark line all the same
        if at < 0:
            if self.status is not None:
                return  # the guest powering off: not the user's output
            if self.started:
                self._show(line)
            else:
                self.before_start += line
            return
        if at > 0 and self.started:
            self._show(line[:at] + b"\n")
        word, _, rest = line[at + len(MARK):].strip().partition(b" ")
        if word == b"start":
            self.started = True
        elif word == b"end":
            self.status = int(rest or b"1")
        elif word == b"status" and not self.quiet:
            print(f"vnet-lab: {rest.decode(errors='replace')}", file=sys.stderr, flush=True)

    def _show(self, data: bytes) -> None:
        if not self.quiet:
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()

    def close(self) -> None:
        if self.pending and self.started and self.status is None:
            self._show(self.pending)
        self.log.close()


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
        console = _Console(console_log, quiet)
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


def _final_status(console: _Console, ctl: Path) -> int:
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
