"""The QEMU command line of a lab run, as a pure function of its inputs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

#: PID 1 of the guest, installed into the image by provision.sh.
GUEST_INIT = "/usr/local/sbin/vnet-lab-boot"


@dataclass(frozen=True)
class Share:
    """A host folder shared into the guest over virtio-9p."""

    tag: str
    path: Path
    readonly: bool = False


@dataclass(frozen=True)
class VmSpec:
    kernel: Path
    initrd: Path
    disk: Path
    accel: str = "tcg"  # "kvm" or "tcg"
    smp: int = 2
    memory_mb: int = 3072
    shares: tuple[Share, ...] = field(default_factory=tuple)
    interactive: bool = False
    extra_append: tuple[str, ...] = ()


def kernel_cmdline(spec: VmSpec) -> str:
    args = [
        "console=ttyS0",
        "root=/dev/vda",
        "rw",
        f"init={GUEST_INIT}",
        # Only emergencies on the console: the command's output stays readable, and
        # the whole kernel log is saved to a file anyway.
        "quiet",
        "loglevel=1",
        # A panic (PID 1 gone, oops) stops the VM instead of hanging it.
        "panic=-1",
        "oops=panic",
    ]
    if spec.accel == "tcg":
        # The TSC check at boot fails under emulation (the vCPUs are host threads
        # started at different times) and the kernel falls back to the HPET, whose
        # every read is an emulated MMIO access of several microseconds: each
        # ktime_get_ns() in the TX path, each bpf_ktime_get_ns() in a probe.  TCG
        # derives every vCPU's TSC from the host's, which is synchronised.
        args.append("tsc=reliable")
    return " ".join([*args, *spec.extra_append])


def accel_args(accel: str) -> list[str]:
    if accel == "kvm":
        return ["-accel", "kvm", "-cpu", "host"]
    if accel == "tcg":
        # Multi-threaded TCG uses both host cores; "max" gives the guest every CPU
        # feature TCG can emulate.
        return ["-accel", "tcg,thread=multi", "-cpu", "max"]
    raise ValueError(f"unknown accelerator {accel!r} (kvm or tcg)")


def qemu_argv(spec: VmSpec, qemu: str = "qemu-system-x86_64") -> list[str]:
    argv = [
        qemu,
        *accel_args(spec.accel),
        "-smp", str(spec.smp),
        "-m", str(spec.memory_mb),
        "-nodefaults",
        "-no-reboot",
        "-display", "none",
        # Interactive: the serial port is the user's terminal (QEMU puts it in raw
        # mode; Ctrl-A x quits).  Otherwise the host reads the serial port as a
        # plain stream and never hands QEMU the terminal.
        "-serial", "mon:stdio" if spec.interactive else "stdio",
        "-kernel", str(spec.kernel),
        "-initrd", str(spec.initrd),
        "-append", kernel_cmdline(spec),
        # snapshot=on: the image is never written; every run starts from the same state.
        "-drive", f"file={spec.disk},format=raw,if=virtio,snapshot=on",
        "-device", "virtio-rng-pci",
    ]
    for share in spec.shares:
        opts = f"local,path={share.path},mount_tag={share.tag},security_model=none,multidevs=remap"
        if share.readonly:
            opts += ",readonly=on"
        argv += ["-virtfs", opts]
    return argv
