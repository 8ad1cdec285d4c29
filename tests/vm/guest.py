"""Helpers for guest tests: load/unload the module, witnesses we did not write."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import threading
import time
from pathlib import Path

# The witnesses the tests share with the lessons' checkers, from their one home.
from vnet_ebpf.lab.witnesses import *  # noqa: F403
from vnet_ebpf.lab.witnesses import Kmsg, sh

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


def emulator_panic(lines: list[str]) -> bool:
    """LINES (a run's console) end in a kernel panic, and the oops that caused it dumps
    an impossible CPU state (emulator_state): the emulator killed the guest, not a bug
    of ours.  The guest boots with oops=panic, so such a run cannot go on."""
    panics = [i for i, line in enumerate(lines) if "Kernel panic - not syncing" in line]
    oopses = [i for i, line in enumerate(lines) if BAD_KMSG.search(line)]
    return bool(panics) and bool(oopses) and emulator_state(lines, oopses[0])


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


def set_param(name: str, value: object) -> None:
    """A module parameter: for the generator's knobs, the default of new devices."""
    Path(f"/sys/module/vnet/parameters/{name}").write_text(f"{value}\n")


def get_param(name: str) -> str:
    return Path(f"/sys/module/vnet/parameters/{name}").read_text().strip()


DEBUGFS = Path("/sys/kernel/debug/vnet")


#: Every allocation a device's configuration is built from, each a fault point of
#: kmod/vnet_fault.c: open, a ring resize and an MTU change must survive each failing.
BUILD_POINTS = ("tx_ring", "rx_ring", "rx_pool", "rx_page", "rxq")


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
