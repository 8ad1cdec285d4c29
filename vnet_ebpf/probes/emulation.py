"""Is this kernel running where patching its code is unsafe?  QEMU's multi-threaded TCG
(a host thread per vCPU, QEMU's default without KVM) can run a stale translation of code
that another vCPU has just patched: a leftover INT3 then crashes the kernel.  Attaching or
detaching any probe patches code (kprobes, ftrace, BPF trampolines, tracepoint static keys).
Measured in the lab (docs/architecture.md, known issues): a crash within 10 attach/detach
cycles under pktgen with multi-threaded TCG, none in 2000 with one host thread.
"""

from __future__ import annotations

import os
from pathlib import Path

DMI_VENDOR = Path("/sys/class/dmi/id/sys_vendor")
CLOCKSOURCES = Path("/sys/devices/system/clocksource/clocksource0/available_clocksource")


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def hazard(lab_accel: str | None, cpus: int, dmi_vendor: str, clocksources: str) -> bool:
    """True when the machine may be multi-threaded TCG with several vCPUs.  LAB_ACCEL: what
    our lab says it booted the guest with (None outside the lab); otherwise QEMU without
    KVM's clock is taken for TCG, whose thread mode cannot be seen from inside."""
    if lab_accel is not None:
        return lab_accel == "tcg-mt" and cpus > 1
    return cpus > 1 and "QEMU" in dmi_vendor and "kvm-clock" not in clocksources


def warning() -> str | None:
    """A one-line warning for stderr, or None."""
    if not hazard(os.environ.get("VNET_LAB_ACCEL"), os.cpu_count() or 1, _read(DMI_VENDOR),
                  _read(CLOCKSOURCES)):
        return None
    return ("vnet-trace: warning: this looks like QEMU TCG with several vCPUs; if they run on several "
            "host threads (-accel tcg,thread=multi, the default), attaching or detaching probes can "
            "crash the kernel (docs/architecture.md, known issues): use -accel tcg,thread=single")
