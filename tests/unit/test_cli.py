"""The command lines: help, usage errors (exit 2) and one-line errors (exit 1)."""

import sys
import types
from pathlib import Path

import pytest
from click.testing import CliRunner

from vnet_ebpf.errors import UserError
from vnet_ebpf.lab import cli as lab_cli
from vnet_ebpf.lab import runner
from vnet_ebpf.probes import bccglue
from vnet_ebpf.trace import cli as trace_cli


@pytest.mark.parametrize("sub", [[], ["build"], ["run"], ["shell"], ["demo"]])
def test_lab_help(sub: list[str]) -> None:
    result = CliRunner().invoke(lab_cli.main, [*sub, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output


def test_trace_help() -> None:
    result = CliRunner().invoke(trace_cli.main, ["--help"])
    assert result.exit_code == 0
    assert "vnet driver" in result.output


def test_run_needs_a_command() -> None:
    result = CliRunner().invoke(lab_cli.main, ["run"])
    assert result.exit_code == 2
    assert "Missing argument" in result.output


def test_bad_timeout_is_a_usage_error() -> None:
    result = CliRunner().invoke(lab_cli.main, ["run", "--timeout", "0", "--", "true"])
    assert result.exit_code == 2


def test_unknown_command() -> None:
    assert CliRunner().invoke(lab_cli.main, ["frobnicate"]).exit_code == 2


def test_build_without_root_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VNET_LAB_CACHE", str(tmp_path))
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    result = CliRunner().invoke(lab_cli.main, ["build"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "vnet-lab: building the lab image needs root (mmdebstrap, chroot): run `sudo vnet-lab build`"
    ]


def test_missing_qemu_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "RUN_TOOLS", {"no-such-qemu-xyz": "qemu-system-x86"})
    result = CliRunner().invoke(lab_cli.main, ["run", "--", "true"])
    assert result.exit_code == 1
    assert result.output.strip() == "vnet-lab: missing host tools: install them with `apt-get install qemu-system-x86`"


def test_find_checkout(tmp_path: Path) -> None:
    (tmp_path / "kmod").mkdir()
    (tmp_path / "pyproject.toml").write_text("")
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert lab_cli.find_checkout(deep) == tmp_path


def test_user_error_status() -> None:
    assert UserError("x").status == 1
    assert UserError("x", 2).status == 2


@pytest.mark.parametrize("cmd", ["napi", "rings", "arp", "top", "xdp"])
def test_trace_subcommand_help(cmd: str) -> None:
    result = CliRunner().invoke(trace_cli.main, [cmd, "--help"])
    assert result.exit_code == 0
    assert "-i, --interface" in result.output


def test_trace_needs_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    result = CliRunner().invoke(trace_cli.main, ["napi"])
    assert result.exit_code == 1
    assert result.output.strip() == "vnet-trace: tracing needs root (BPF and kprobes): run it with sudo"


def test_trace_without_bcc_gives_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules makes `import bcc` raise ImportError, whether BCC is installed or not.
    monkeypatch.setattr("os.geteuid", lambda: 0)
    monkeypatch.setitem(sys.modules, "bcc", None)
    result = CliRunner().invoke(trace_cli.main, ["rings"])
    assert result.exit_code == 1
    assert result.output.strip() == (
        "vnet-trace: BCC's Python bindings are missing: install them with `apt-get install python3-bpfcc`")


def test_trace_with_a_foreign_bcc_module_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    # The PyPI project named "bcc" is an unrelated library with no BPF class.
    monkeypatch.setitem(sys.modules, "bcc", types.ModuleType("bcc"))
    with pytest.raises(UserError, match="is not BCC's"):
        bccglue.load("vnet_trace.bpf.c")


@pytest.mark.parametrize("args", [["napi", "0"], ["napi", "x"], ["rings", "1", "-3"], ["rings", "--live", "--json"],
                                  ["arp", "--count", "-1"], ["napi", "--bogus"],
                                  ["xdp", "--mode", "offload"], ["xdp", "--drop-every", "0"],
                                  ["xdp", "--tx", "--redirect", "vnet1"], ["xdp", "--live", "--json"]])
def test_trace_usage_errors_exit_2(args: list[str]) -> None:
    assert CliRunner().invoke(trace_cli.main, args).exit_code == 2


def test_xdp_needs_root_before_anything_is_attached(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    result = CliRunner().invoke(trace_cli.main, ["xdp", "--drop-arp"])
    assert result.exit_code == 1
    assert result.output.strip() == "vnet-trace: tracing needs root (BPF and kprobes): run it with sudo"


def test_xdp_program_options_become_compile_flags() -> None:
    from vnet_ebpf.probes.xdp import XdpConfig

    assert XdpConfig().cflags() == ["-DDROP_ARP=0", "-DDROP_EVERY=0", "-DACTION=2"]
    cfg = XdpConfig(drop_arp=True, drop_every=5, action="redirect", redirect="vnet1")
    assert cfg.cflags() == ["-DDROP_ARP=1", "-DDROP_EVERY=5", "-DACTION=4"]
    assert trace_cli._describe(cfg, "vnet0") == (
        "native XDP on vnet0: drop ARP, drop 1 frame in 5, the rest: XDP_REDIRECT to vnet1")
    assert trace_cli._describe(XdpConfig(action="tx", mode="generic"), "vnet0") == (
        "generic XDP on vnet0: every frame: XDP_TX (back out of vnet0)")

