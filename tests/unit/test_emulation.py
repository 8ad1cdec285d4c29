"""When vnet-trace warns that attaching probes may crash the kernel (multi-threaded TCG)."""

from vnet_ebpf.probes.emulation import hazard

KVM_CLOCKS = "kvm-clock tsc hpet acpi_pm \n"
TCG_CLOCKS = "tsc hpet acpi_pm \n"


def test_the_lab_says_how_it_emulates() -> None:
    assert hazard("tcg-mt", 2, "QEMU\n", TCG_CLOCKS)
    assert not hazard("tcg-mt", 1, "QEMU\n", TCG_CLOCKS)  # one vCPU: nobody runs stale code
    for accel in ("tcg", "icount", "kvm"):
        assert not hazard(accel, 2, "QEMU\n", TCG_CLOCKS)


def test_outside_the_lab_qemu_without_kvm_clock_with_several_cpus() -> None:
    assert hazard(None, 2, "QEMU\n", TCG_CLOCKS)
    assert not hazard(None, 2, "QEMU\n", KVM_CLOCKS)
    assert not hazard(None, 1, "QEMU\n", TCG_CLOCKS)
    assert not hazard(None, 8, "Dell Inc.\n", TCG_CLOCKS)
