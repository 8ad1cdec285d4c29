"""vnet-lab's command line: help for every option, one-line errors."""

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from vnet_ebpf.lab import cli as lab_cli
from vnet_ebpf.lab import image, runner

COMMANDS = sorted(lab_cli.main.commands)


def test_the_commands() -> None:
    assert COMMANDS == ["box", "build", "check", "demo", "kselftest", "lesson", "run", "shell", "vagrant-test"]


@pytest.mark.parametrize("name", COMMANDS)
def test_every_option_has_help(name: str) -> None:
    command = lab_cli.main.commands[name]
    result = CliRunner().invoke(lab_cli.main, [name, "--help"])
    assert result.exit_code == 0, result.output
    options = [p for p in command.params if isinstance(p, click.Option)]
    assert options
    for option in options:
        # Not just "[default: ...]": words of its own.
        assert option.help and option.help.strip(), f"vnet-lab {name} {option.opts[0]} has no help text"
        assert option.opts[-1] in result.output
        assert option.help.split()[0] in result.output


@pytest.mark.parametrize("args", [["run", "--", "true"], ["demo"], ["shell"]])
def test_no_image_and_not_root_is_one_line(args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_build(*args: object, **kwargs: object) -> None:
        raise AssertionError("a build started")

    monkeypatch.setenv("VNET_LAB_CACHE", str(tmp_path))  # no image in it
    monkeypatch.delenv("VNET_LAB_GUEST", raising=False)
    monkeypatch.setattr(runner, "RUN_TOOLS", {})
    monkeypatch.setattr(image, "build", no_build)
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    result = CliRunner().invoke(lab_cli.main, args)
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "vnet-lab: no trixie lab image for these inputs, and building one needs root: "
        "run `sudo vnet-lab build --guest trixie`"
    ]


def test_a_corrupt_image_json_is_no_image(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vnet_ebpf.lab import cache
    from vnet_ebpf.lab.guests import GUESTS

    path = cache.image_dir(tmp_path, GUESTS["bookworm"], cache.image_key(GUESTS["bookworm"]))
    path.mkdir(parents=True)
    for name in ("vmlinuz", "initrd.img", "root.img"):
        (path / name).write_bytes(b"")
    (path / "image.json").write_text('{"guest": "bookworm", "kernel_rel')  # a build cut short
    monkeypatch.setenv("VNET_LAB_CACHE", str(tmp_path))
    monkeypatch.setattr(runner, "RUN_TOOLS", {})
    result = CliRunner().invoke(lab_cli.main, ["run", "--guest", "bookworm", "--no-build", "--", "true"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "vnet-lab: no bookworm lab image for these inputs: run `sudo vnet-lab build --guest bookworm` first"
    ]


@pytest.mark.parametrize("args", [["lesson", "99"], ["lesson", "0", "--skeleton", "x"], ["check", "99", "--kmod", "."]])
def test_no_such_lesson_is_one_line_and_status_2(args: list[str]) -> None:
    result = CliRunner().invoke(lab_cli.main, args)
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0 and "no lesson" in result.output


@pytest.mark.parametrize("test", ["../../net/evil.py", "ping", "drivers/net/ping.py"])
def test_a_kselftest_name_that_is_not_a_drivers_net_file_is_one_line_and_status_2(test: str) -> None:
    result = CliRunner().invoke(lab_cli.main, ["kselftest", "--guest", "trixie", "ping.py", test])
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0 and "name a test file of drivers/net" in result.output


def test_a_skeleton_is_written_without_a_vm(tmp_path: Path) -> None:
    result = CliRunner().invoke(lab_cli.main, ["lesson", "4", "--skeleton", str(tmp_path / "k")])
    assert result.exit_code == 0, result.output
    assert "TODO 4 at vnet_tx.c:" in result.output
    assert "/* TODO 4: tell BQL" in (tmp_path / "k" / "vnet_tx.c").read_text()
    again = CliRunner().invoke(lab_cli.main, ["lesson", "4", "--skeleton", str(tmp_path / "k")])
    assert again.exit_code == 1 and "not empty" in again.output
