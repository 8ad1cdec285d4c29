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
