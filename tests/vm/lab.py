"""Helpers for guest tests: load/unload the module, witnesses we did not write."""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

TOP = Path(__file__).resolve().parents[2]
#: The driver the lab built for the running kernel (init.sh: .lab/kbuild/<release>/vnet.ko).
MODULE = Path(os.environ.get("VNET_LAB_KO", str(TOP / "kmod" / "vnet.ko")))
#: What the splat gate fails a test for (libbpf CI's kernel_splats, and more): warnings,
#: oopses, RCU stalls, lockups, hung tasks, refcount and list corruption, UBSAN, KFENCE,
#: and a page pool that cannot shut down because its pages never came back.
BAD_KMSG = re.compile(
    r"WARNING:|BUG:|Oops|general protection|kernel BUG"
    r"|rcu: INFO: rcu_\w+ (self-)?detected stall|rcu_\w+ detected stalls|self-detected stall"
    r"|soft lockup|hard LOCKUP|blocked for more than \d+ seconds"
    r"|refcount_t:|list_add corruption|list_del corruption|UBSAN:|KFENCE:"
    r"|stalled pool shutdown")


def sh(*argv: str, check: bool = True) -> str:
    """Run a real tool (ip, ethtool, ...) and return its stdout."""
    return subprocess.run(argv, capture_output=True, text=True, check=check).stdout


def loaded() -> bool:
    return Path("/sys/module/vnet").exists()


def load(*params: str) -> None:
    sh("insmod", str(MODULE), *params)


def unload() -> None:
    """rmmod vnet.  A detached fentry/fexit program releases the module after an RCU grace
    period, not at once: "in use" is retried for a few seconds."""
    deadline = time.monotonic() + 10
    while loaded():
        proc = subprocess.run(["rmmod", "vnet"], capture_output=True, text=True)
        if proc.returncode == 0:
            return
        if "in use" not in proc.stderr or time.monotonic() > deadline:
            raise subprocess.CalledProcessError(proc.returncode, proc.args, proc.stdout, proc.stderr)
        time.sleep(0.2)


class Kmsg:
    """The kernel log from now on, read from /dev/kmsg by sequence (a wrapped ring
    or a `dmesg -C` cannot shift what we look at)."""

    def __init__(self) -> None:
        self.fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
        os.lseek(self.fd, 0, os.SEEK_END)
        self.lines: list[str] = []

    def read(self) -> list[str]:
        """Every message logged since the mark (first lines of records), kept cumulatively."""
        while True:
            try:
                rec = os.read(self.fd, 16384)
            except BlockingIOError:
                break
            except BrokenPipeError:  # overwritten before we read it: go on with the next
                continue
            self.lines.append(rec.decode(errors="replace").partition(";")[2].split("\n")[0])
        return self.lines

    def close(self) -> None:
        os.close(self.fd)


def kmsg_mark() -> Kmsg:
    """Start watching the kernel log, to look only at what comes after."""
    return Kmsg()


EFLAGS = re.compile(r"EFLAGS: ([0-9a-f]+)")


def emulator_state(lines: list[str], i: int) -> bool:
    """The splat at LINES[i] dumps a CPU state no x86 CPU can be in: EFLAGS with reserved
    bits 22-31 set (popf and iret cannot set them).  Seen once under single-threaded TCG,
    an unexpected single-step #DB during kprobe cycles (docs/architecture.md, known issues):
    the emulator's corruption, not the kernel's."""
    for line in lines[i + 1:i + 25]:
        m = EFLAGS.search(line)
        if m:
            return int(m.group(1), 16) >> 22 != 0
    return False


def emulator_artefacts(lines: list[str]) -> list[str]:
    """Splat lines whose register dump shows an impossible CPU state (see emulator_state)."""
    return [line for i, line in enumerate(lines) if BAD_KMSG.search(line) and emulator_state(lines, i)]


def splats(lines: list[str], allowed: tuple[str, ...] = ()) -> list[str]:
    """The lines the splat gate rejects: less those matching an ALLOWED regex, and less
    the emulator's own (emulator_artefacts), which are reported apart."""
    return [line for i, line in enumerate(lines)
            if BAD_KMSG.search(line) and not any(re.search(a, line) for a in allowed)
            and not emulator_state(lines, i)]


def assert_clean_kmsg(mark: Kmsg) -> None:
    new = mark.read()
    assert not splats(new), "kernel log:\n" + "\n".join(new[-40:])


def sysfs_stat(dev: str, name: str) -> int:
    return int(Path(f"/sys/class/net/{dev}/statistics/{name}").read_text())


def quiet_link_up(dev: str) -> None:
    """Bring DEV up without the stack sending frames of its own (IPv6 DAD, RS, MLD),
    so that counts of what we send can be exact."""
    Path(f"/proc/sys/net/ipv6/conf/{dev}/disable_ipv6").write_text("1\n")
    sh("ip", "link", "set", dev, "up")


def ethtool_stats(dev: str = "vnet0") -> dict[str, int]:
    """`ethtool -S DEV` as a dict (the real ethtool binary, parsed)."""
    stats: dict[str, int] = {}
    for line in sh("ethtool", "-S", dev).splitlines()[1:]:
        name, _, value = line.strip().partition(":")
        stats[name.strip()] = int(value)
    return stats


def ip_stats(dev: str = "vnet0") -> dict[str, dict[str, int]]:
    """The interface counters as `ip -s -s -j link show DEV` reports them."""
    (link,) = json.loads(sh("ip", "-s", "-s", "-j", "link", "show", dev))
    stats: dict[str, dict[str, int]] = link["stats64"]
    return stats


def delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: after[k] - before[k] for k in after}


def set_param(name: str, value: object) -> None:
    """A module parameter: for the generator's knobs, the default of new devices."""
    Path(f"/sys/module/vnet/parameters/{name}").write_text(f"{value}\n")


def get_param(name: str) -> str:
    return Path(f"/sys/module/vnet/parameters/{name}").read_text().strip()


def set_knob(name: str, value: object, dev: str = "vnet0") -> None:
    """A generator knob of one device: /sys/class/net/DEV/vnet/NAME."""
    Path(f"/sys/class/net/{dev}/vnet/{name}").write_text(f"{value}\n")


def get_knob(name: str, dev: str = "vnet0") -> str:
    return Path(f"/sys/class/net/{dev}/vnet/{name}").read_text().strip()


DEBUGFS = Path("/sys/kernel/debug/vnet")


def inject(point: str, times: int = 1) -> None:
    """Arm the driver's fault injection: the next TIMES calls at POINT fail."""
    (DEBUGFS / "fault").write_text(f"{point} {times}\n")


def injected() -> dict[str, tuple[int, int]]:
    """Per fault point: (still armed, injected so far)."""
    rows = (DEBUGFS / "fault").read_text().splitlines()[1:]
    return {name: (int(armed), int(done)) for name, armed, done in (r.split() for r in rows)}


def driver_objects() -> dict[str, int]:
    """What every vnet device holds now (rings, pools, pages): all 0 with every device down."""
    return {k: int(v) for k, v in (line.split() for line in (DEBUGFS / "objects").read_text().splitlines())}


def wait_until(cond: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def bql(dev: str, name: str) -> int:
    return int(Path(f"/sys/class/net/{dev}/queues/tx-0/byte_queue_limits/{name}").read_text())


def qdisc_backlog(dev: str) -> int:
    """Packets the root qdisc still holds, as `tc -s -j qdisc` reports them."""
    qdiscs = json.loads(sh("tc", "-s", "-j", "qdisc", "show", "dev", dev, "root"))
    return sum(int(q.get("qlen", 0)) for q in qdiscs)


def tx_idle(dev: str = "vnet0") -> bool:
    """Nothing left to send: the qdisc is empty and BQL's in-flight bytes are zero."""
    return qdisc_backlog(dev) == 0 and bql(dev, "inflight") == 0


def mac_bytes(dev: str) -> bytes:
    return bytes.fromhex(Path(f"/sys/class/net/{dev}/address").read_text().strip().replace(":", ""))


def send_frames(dev: str, count: int, ethertype: int = 0x88B5, payload: int = 46) -> None:
    """COUNT broadcast frames of EtherType ETHERTYPE through an AF_PACKET socket."""
    frame = b"\xff" * 6 + mac_bytes(dev) + ethertype.to_bytes(2, "big") + bytes(payload)
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as s:
        s.bind((dev, 0))
        for _ in range(count):
            s.send(frame)


#: How far the skb slab may be from its baseline without a leak: the stack's own traffic
#: moves it a little, and skbs freed in NAPI (napi_consume_skb, as the TX completion does)
#: wait in a per-CPU cache of up to 64 before they go back to the slab.  A leak of one skb
#: per cycle over 200 cycles is beyond it.
SKB_SLACK = 40 + 64 * (os.cpu_count() or 1)


def slab_active(cache: str) -> int:
    """Objects in use in a slab cache, after SLUB returned its per-CPU slabs
    (without the shrink, whole per-CPU slabs count as active: steps of 32)."""
    shrink = Path(f"/sys/kernel/slab/{cache}/shrink")
    if shrink.exists():
        shrink.write_text("1\n")
    for line in Path("/proc/slabinfo").read_text().splitlines():
        if line.startswith(cache + " "):
            return int(line.split()[1])
    raise KeyError(cache)


class Sender(threading.Thread):
    """Frames into DEV through an AF_PACKET socket, as fast as the queue takes them, until
    stopped (also while DEV goes down, or goes away)."""

    def __init__(self, dev: str = "vnet0") -> None:
        super().__init__(daemon=True)
        self.dev = dev
        self.stop = threading.Event()
        self.sent = 0

    def run(self) -> None:
        while not self.stop.is_set():
            with contextlib.suppress(OSError):  # down, or gone
                send_frames(self.dev, 20)
                self.sent += 20

    def __enter__(self) -> Sender:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.join()


class BpftraceWitness:
    """bpftrace running PROGRAM (kernel tracepoints: a witness we did not write).

    bpftrace says "Attaching..." before it has attached, so readiness is proven
    by a handshake: the test calls getppid() until a probe answers, which also
    clears the maps named in RESET, so only what comes after is counted.
    """

    def __init__(self, program: str, reset: tuple[str, ...]) -> None:
        clears = "".join(f"    clear({m});\n" for m in reset)
        self.program = (program + "\ntracepoint:syscalls:sys_enter_getppid /pid == $1/ {\n"
                        + clears + '    printf("reset\\n");\n}\n')

    def __enter__(self) -> Self:
        self.proc = subprocess.Popen(["bpftrace", "-B", "line", "-e", self.program, str(os.getpid())],
                                     stdout=subprocess.PIPE, text=True)
        out = self.proc.stdout
        assert out is not None
        deadline = time.monotonic() + 60
        line = ""
        while line != "reset\n":
            assert time.monotonic() < deadline and self.proc.poll() is None, "bpftrace did not attach"
            os.getppid()
            if select.select([out], [], [], 0.1)[0]:
                line = out.readline()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()

    def finish(self) -> str:
        """Stop bpftrace; what it printed (its maps) from then on."""
        self.proc.send_signal(2)
        out, _ = self.proc.communicate(timeout=60)
        return out


def ksym(name: str) -> int:
    """The address of kernel (or module) symbol NAME, from /proc/kallsyms (root)."""
    for line in Path("/proc/kallsyms").read_text().splitlines():
        addr, _, sym = line.split()[:3]
        if sym == name:
            return int(addr, 16)
    raise KeyError(name)


def kernel_at_least(major: int, minor: int) -> bool:
    """The running kernel is MAJOR.MINOR or newer (from uname, e.g. 6.12.118+deb13-amd64)."""
    m = re.match(r"(\d+)\.(\d+)", os.uname().release)
    assert m, os.uname().release
    return (int(m.group(1)), int(m.group(2))) >= (major, minor)


def kernel_config(option: str) -> bool:
    """CONFIG_OPTION is =y or =m in the running kernel's config."""
    config = Path(f"/boot/config-{os.uname().release}")
    return any(line.startswith(f"{option}=") and line.rstrip()[-1] in "ym"
               for line in config.read_text().splitlines())


YNL_SPECS = Path("/etc/vnet-lab/ynl-specs")


def ynl(family: str, op: str, attrs: dict[str, object] | None = None, *, dump: bool = False,
        check: bool = True) -> Any:
    """The kernel's own netlink CLI (tools/net/ynl, from this kernel's source) asking
    FAMILY for OP: an independent witness of what the kernel reports.  Returns the
    decoded reply (a list for a dump); with check=False, the CompletedProcess."""
    spec = Path(YNL_SPECS.read_text().strip()) / f"{family}.yaml"
    argv = ["ynl", "--spec", str(spec), "--dump" if dump else "--do", op, "--output-json"]
    if attrs is not None:
        argv += ["--json", json.dumps(attrs)]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if not check:
        return proc
    assert proc.returncode == 0, f"{' '.join(argv)}: {proc.stderr.strip()}"
    return json.loads(proc.stdout) if proc.stdout.strip() else None
