"""The splat gate's classification of kernel log lines (tests/vm/guest.py), on real excerpts."""

from tests.vm import guest

WARN = "[  324.166201] WARNING: CPU: 1 PID: 667 at arch/x86/kernel/traps.c:1120 exc_debug_kernel+0xca/0x160"
IMPOSSIBLE = "[  324.170234] RSP: 0000:fffffe576eb61f28 EFLAGS: 83a0b002"  # reserved bits 22-31 set
POSSIBLE = "[   23.782790] RSP: 0018:ff67efe88041bdb8 EFLAGS: 00000246"


def test_a_warning_is_a_splat() -> None:
    lines = [WARN, "[  324.168049] Modules linked in: vnet(OE)", POSSIBLE]
    assert guest.splats(lines) == [WARN] and guest.emulator_artefacts(lines) == []


def test_an_impossible_cpu_state_is_the_emulators() -> None:
    lines = [WARN, "[  324.168049] Modules linked in: vnet(OE)", IMPOSSIBLE]
    assert guest.splats(lines) == [] and guest.emulator_artefacts(lines) == [WARN]


def test_allowed_lines_and_ordinary_lines() -> None:
    lines = ["[    1.0] vnet: loaded, 1 device(s)", WARN, POSSIBLE]
    assert guest.splats(lines, (r"exc_debug_kernel",)) == []
    assert guest.splats(lines[:1]) == []


GP = "[  108.359360] Oops: general protection fault, maybe for address 0x10: 0000 [#1] PREEMPT SMP NOPTI"
GP_FLAGS = "[  108.363548] RSP: 0018:ff5e270740423960 EFLAGS: 052cc086"  # CI's soak, 2026-12-04
PANIC = "[  108.382432] Kernel panic - not syncing: Fatal exception"


def test_a_panic_after_an_impossible_cpu_state_is_the_emulators() -> None:
    assert guest.emulator_panic([GP, "[  108.363071] RIP: 0010:do_sync_core+0x28/0x30", GP_FLAGS, PANIC])


def test_any_other_panic_or_none_is_not() -> None:
    assert not guest.emulator_panic([GP, POSSIBLE, PANIC])          # a real oops
    assert not guest.emulator_panic([GP, GP_FLAGS])                 # no panic: the run went on
    assert not guest.emulator_panic([PANIC])                        # a panic with no oops (PID 1 died)
    # The first oops decides: an impossible state later does not excuse a real one first.
    assert not guest.emulator_panic([GP, POSSIBLE, WARN, IMPOSSIBLE, PANIC])
