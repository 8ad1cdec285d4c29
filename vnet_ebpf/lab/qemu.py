"""The QEMU command line of a lab run, as a pure function of its inputs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

#: PID 1 of the guest, installed into the image by provision.sh.
GUEST_INIT = "/usr/local/sbin/vnet-lab-boot"
#: Under icount each guest instruction takes 2^ICOUNT_SHIFT ns of guest time: 0 is a
#: 1 GHz guest that retires one instruction a cycle, near enough to a real one that
#: the driver's timers (tx-usecs, the RX generator) keep their proportions.
ICOUNT_SHIFT = 0
#: QEMU's id of the guest's LAN (eth0 in the guest).
LAN_NETDEV = "lan"


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
    accel: str = "tcg"  # "kvm", "tcg", "tcg-mt" (multi-threaded) or "icount" (see accel_args)
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
    if spec.accel in ("tcg", "tcg-mt", "icount"):
        # The TSC check at boot fails under emulation (the vCPUs are host threads
        # started at different times) and the kernel falls back to the HPET, whose
        # every read is an emulated MMIO access of several microseconds: each
        # ktime_get_ns() in the TX path, each bpf_ktime_get_ns() in a probe.  TCG
        # derives every vCPU's TSC from the host's, which is synchronised.
        args.append("tsc=reliable")
    # What runs the guest, for programs in it that must know (vnet_ebpf/lab/kselftest.py);
    # the kernel ignores parameters of a module it does not have.
    args.append(f"vnet_lab.accel={spec.accel}")
    return " ".join([*args, *spec.extra_append])


def accel_args(accel: str) -> list[str]:
    if accel == "kvm":
        return ["-accel", "kvm", "-cpu", "host"]
    if accel == "tcg":
        # One host thread runs both vCPUs in turn.  With a thread per vCPU ("tcg-mt",
        # faster for parallel work) the guest kernel's live code patching races: a vCPU
        # can run a stale translation holding the INT3 of a text_poke_bp() that another
        # vCPU has finished, and the kernel oopses on an INT3 nobody claims
        # (docs/architecture.md, known issues).
        return ["-accel", "tcg,thread=single", "-cpu", "max"]
    if accel == "tcg-mt":
        # Multi-threaded TCG uses both host cores; "max" gives the guest every CPU
        # feature TCG can emulate.
        return ["-accel", "tcg,thread=multi", "-cpu", "max"]
    if accel == "icount":
        # Guest time follows the instructions executed (2^ICOUNT_SHIFT ns each) and
        # never waits on the host's clock (sleep=off): a rate the guest measures counts
        # instructions per event, whatever else the host is doing.  icount runs the
        # vCPUs in one host thread (QEMU refuses it with multi-threaded TCG).
        return ["-accel", "tcg,thread=single", "-cpu", "max",
                "-icount", f"shift={ICOUNT_SHIFT},sleep=off,align=off"]
    raise ValueError(f"unknown accelerator {accel!r} (kvm, tcg, tcg-mt or icount)")


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
        # The lab LAN (docs/lab.md), eth0 in the guest: a real driver (virtio_net) to
        # trace.  restrict=on: no route to the host or beyond, only QEMU's own virtual
        # hosts (the gateway 10.0.2.2 answers ping).  romfile=: no iPXE option ROM,
        # which a -kernel boot never uses and hosts may not have.  ipv6=off: with IPv6
        # on, the user network sends an unsolicited router advertisement every few
        # minutes, a frame the guest never asked for that lands in a NAPI poll a test
        # is counting.
        "-netdev", f"user,id={LAN_NETDEV},restrict=on,ipv6=off",
        "-device", f"virtio-net-pci,netdev={LAN_NETDEV},romfile=",
    ]
    for share in spec.shares:
        opts = f"local,path={share.path},mount_tag={share.tag},security_model=none,multidevs=remap"
        if share.readonly:
            opts += ",readonly=on"
        argv += ["-virtfs", opts]
    return argv
