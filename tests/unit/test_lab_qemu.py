from pathlib import Path

import pytest

from vnet_ebpf.lab import qemu


def spec(**kw: object) -> qemu.VmSpec:
    base: dict[str, object] = {
        "kernel": Path("/i/vmlinuz"),
        "initrd": Path("/i/initrd.img"),
        "disk": Path("/i/root.img"),
    }
    base.update(kw)
    return qemu.VmSpec(**base)  # type: ignore[arg-type]


def value_after(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv) if a == flag]


def test_tcg_argv() -> None:
    argv = qemu.qemu_argv(spec(accel="tcg"))
    assert argv[0] == "qemu-system-x86_64"
    # One host thread for every vCPU: coherent with the guest's live code patching.
    assert value_after(argv, "-accel") == ["tcg,thread=single"]
    assert value_after(argv, "-cpu") == ["max"]
    assert value_after(qemu.qemu_argv(spec(accel="tcg-mt")), "-accel") == ["tcg,thread=multi"]
    assert value_after(argv, "-smp") == ["2"]
    assert "-no-reboot" in argv
    assert value_after(argv, "-serial") == ["stdio"]
    assert value_after(argv, "-kernel") == ["/i/vmlinuz"]
    assert value_after(argv, "-initrd") == ["/i/initrd.img"]
    assert value_after(argv, "-drive") == ["file=/i/root.img,format=raw,if=virtio,snapshot=on"]


def test_kvm_argv() -> None:
    argv = qemu.qemu_argv(spec(accel="kvm"))
    assert value_after(argv, "-accel") == ["kvm"]
    assert value_after(argv, "-cpu") == ["host"]


def test_unknown_accel() -> None:
    with pytest.raises(ValueError, match="unknown accelerator"):
        qemu.qemu_argv(spec(accel="hvf"))


def test_cmdline_stops_vm_on_panic_and_uses_lab_init() -> None:
    (append,) = value_after(qemu.qemu_argv(spec()), "-append")
    words = append.split()
    assert "panic=-1" in words
    assert "console=ttyS0" in words
    assert f"init={qemu.GUEST_INIT}" in words
    assert "root=/dev/vda" in words


def test_shares_and_interactive() -> None:
    s = spec(shares=(qemu.Share("src", Path("/co")), qemu.Share("ro", Path("/x"), readonly=True)), interactive=True)
    argv = qemu.qemu_argv(s)
    fs = value_after(argv, "-virtfs")
    assert fs[0] == "local,path=/co,mount_tag=src,security_model=none,multidevs=remap"
    assert fs[1].endswith(",readonly=on")
    assert value_after(argv, "-serial") == ["mon:stdio"]


def test_tcg_trusts_the_tsc_and_kvm_does_not_need_to() -> None:
    # Under TCG the kernel's boot-time TSC check fails and it falls back to the
    # emulated HPET, which makes every clock read cost microseconds.
    (tcg,) = value_after(qemu.qemu_argv(spec(accel="tcg")), "-append")
    (kvm,) = value_after(qemu.qemu_argv(spec(accel="kvm")), "-append")
    assert "tsc=reliable" in tcg.split()
    assert "tsc=reliable" not in kvm.split()


def test_icount_argv_is_single_threaded_tcg_counting_instructions() -> None:
    argv = qemu.qemu_argv(spec(accel="icount"))
    # QEMU refuses icount with multi-threaded TCG; sleep=off: guest time never waits for the host.
    assert value_after(argv, "-accel") == ["tcg,thread=single"]
    assert value_after(argv, "-icount") == [f"shift={qemu.ICOUNT_SHIFT},sleep=off,align=off"]
    (append,) = value_after(argv, "-append")
    assert "tsc=reliable" in append.split()


def test_every_guest_has_the_restricted_lan() -> None:
    for s in (spec(), spec(accel="kvm"), spec(interactive=True)):
        argv = qemu.qemu_argv(s)
        # QEMU's user network, restricted: the guest reaches QEMU's gateway and nothing beyond.
        assert value_after(argv, "-netdev") == ["user,id=lan,restrict=on,ipv6=off"]
        # virtio-net on it, without an iPXE option ROM (not needed for -kernel, not on every host).
        assert "virtio-net-pci,netdev=lan,romfile=" in value_after(argv, "-device")
