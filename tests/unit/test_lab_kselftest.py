"""The drivers/net suite runner's pure parts: reading the suite's KTAP output, judging
the results against the known list, and telling emulation from KVM."""

from __future__ import annotations

import pytest

from vnet_ebpf.lab import kselftest
from vnet_ebpf.lab.kselftest import Case, Known, emulated, judge, parse_ktap, table

# What ksft.py prints for ping.py (abridged, with the noise a real run has between).
PING = """\
# Interface: vnet0, driver: vnet
TAP version 13
1..5
ok 1 ping.test_default_v4
# Check| At ping.py, line 42: ksft_eq(...)
not ok 2 ping.test_default_v6 # 1 != 2
ok 3 ping.test_xdp_native_mb # SKIP device does not support native-multi-buffer XDP
ok 4 ping.test_xdp_offload # XFAIL offload is hardware only
   ok 5 ping.test_tcp
# Totals: pass:2 fail:1 xfail:1 xpass:0 skip:1 error:0
"""


def test_every_ktap_result_line_is_one_case_with_its_reason() -> None:
    assert parse_ktap("ping.py", PING) == [
        Case("ping.py", "ping.test_default_v4", "pass"),
        Case("ping.py", "ping.test_default_v6", "fail", "1 != 2"),
        Case("ping.py", "ping.test_xdp_native_mb", "skip", "device does not support native-multi-buffer XDP"),
        Case("ping.py", "ping.test_xdp_offload", "xfail", "offload is hardware only"),
        Case("ping.py", "ping.test_tcp", "pass"),
    ]


def test_lines_that_only_look_like_results_are_not_cases() -> None:
    assert parse_ktap("x.py", "# ok 1 x.inside_a_comment\nokay 2 x.a\nok x.no_number\n") == []


@pytest.fixture
def listed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kselftest, "KNOWN", (
        Known("ping.test_xdp_native_mb", "skip", "gap", "no multi-buffer XDP"),
        Known("napi_threaded.*", "fail", "gap", "needs two queues"),
    ))


def test_a_listed_skip_or_failure_passes_the_run_and_nothing_else_does(listed: None) -> None:
    cases = [Case("ping.py", "ping.test_v4", "pass"), Case("ping.py", "ping.test_xdp_native_mb", "skip", "mb"),
             Case("napi_threaded.py", "napi_threaded.napi_init", "fail", "1 < 2"),
             Case("napi_threaded.py", "napi_threaded.change_num_queues", "fail", "1 < 2"),
             Case("ping.py", "ping.test_offload", "xfail", "hardware")]
    assert judge(cases) == []
    assert judge([Case("ping.py", "ping.test_xdp_generic_mb", "skip", "mb")]) == [
        "ping.test_xdp_generic_mb: skip, expected pass (mb)"]


def test_an_unlisted_failure_and_a_listed_case_that_now_passes_both_fail_the_run(listed: None) -> None:
    cases = [Case("stats.py", "stats.check_down", "fail", "counters went back"),
             Case("napi_threaded.py", "napi_threaded.napi_init", "pass")]
    assert judge(cases) == ["stats.check_down: fail, expected pass (counters went back)",
                            "napi_threaded.napi_init: pass, expected fail"]


def test_every_known_result_says_whose_limit_it_is() -> None:
    for k in kselftest.KNOWN:
        assert k.result in ("skip", "fail") and k.kind in ("hardware", "gap", "kernel") and k.why, k


def test_the_table_has_one_line_per_case_and_the_totals() -> None:
    lines = table(parse_ktap("ping.py", PING)).splitlines()
    assert len(lines) == 1 + 5 + 1
    assert lines[2].split()[:2] == ["ping.test_default_v6", "fail"]
    assert lines[-1] == "2 pass, 1 skip, 1 xfail, 1 fail"


@pytest.mark.parametrize(("cmdline", "slow"), [
    ("console=ttyS0 tsc=reliable vnet_lab.accel=tcg", True),
    ("console=ttyS0 vnet_lab.accel=icount", True),
    ("console=ttyS0 vnet_lab.accel=kvm", False),
    ("BOOT_IMAGE=/vmlinuz root=/dev/sda1 quiet", False),  # not a vnet-lab guest (Vagrant)
])
def test_emulation_is_read_from_the_kernel_command_line(cmdline: str, slow: bool) -> None:
    assert emulated(cmdline) is slow
