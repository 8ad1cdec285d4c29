"""The guest console follows the host terminal's size: what the host writes for it."""

import signal
from pathlib import Path
from types import FrameType

import pytest

from vnet_ebpf.lab import runner, winsize


class Terminal:
    def __init__(self, monkeypatch: pytest.MonkeyPatch, tty: bool = True) -> None:
        self.size = (30, 100)
        monkeypatch.setattr(winsize, "stdout_is_tty", lambda: tty)
        monkeypatch.setattr(winsize, "host_terminal_size", lambda: self.size)


def previous(signum: int, frame: FrameType | None) -> None:
    raise AssertionError("the previous SIGWINCH handler ran inside follow_terminal_size")


def test_a_resize_rewrites_winsize(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    term = Terminal(monkeypatch)
    old = signal.signal(signal.SIGWINCH, previous)
    try:
        with winsize.follow_terminal_size(tmp_path) as follow:
            assert follow
            assert winsize.write_winsize(tmp_path) == (30, 100)
            assert (tmp_path / "winsize").read_text() == "30 100\n"
            term.size = (25, 90)
            signal.raise_signal(signal.SIGWINCH)
            assert (tmp_path / "winsize").read_text() == "25 90\n"
            term.size = (41, 132)
            signal.raise_signal(signal.SIGWINCH)
            assert (tmp_path / "winsize").read_text() == "41 132\n"
        # Renamed into place, never written in place: nothing else is left behind.
        assert [p.name for p in tmp_path.iterdir()] == ["winsize"]
        assert signal.getsignal(signal.SIGWINCH) is previous
    finally:
        signal.signal(signal.SIGWINCH, old)


def test_a_resize_after_the_folder_is_gone_is_harmless(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Terminal(monkeypatch)
    with winsize.follow_terminal_size(tmp_path / "gone"):
        signal.raise_signal(signal.SIGWINCH)


def test_no_terminal_no_handler(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Terminal(monkeypatch, tty=False)
    before = signal.getsignal(signal.SIGWINCH)
    with winsize.follow_terminal_size(tmp_path) as follow:
        assert not follow
        assert signal.getsignal(signal.SIGWINCH) is before


def test_not_a_terminal_is_80x24(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(winsize, "stdout_is_tty", lambda: False)
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.delenv("LINES", raising=False)

    def no_terminal(fd: int = 1) -> object:
        raise OSError("not a terminal")

    monkeypatch.setattr("os.get_terminal_size", no_terminal)
    assert winsize.host_terminal_size() == (24, 80)


def test_control_env_sets_the_size_and_exports_no_columns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Terminal(monkeypatch)
    ctl, src = tmp_path / "ctl", tmp_path / "src"
    ctl.mkdir()
    src.mkdir()
    runner._write_control(ctl, src, ["true"], "run", False, False, "trixie", "tcg", follow_size=True)
    env = dict(line.split("=", 1) for line in (ctl / "env").read_text().splitlines())
    assert (env["ROWS"], env["COLS"], env["FOLLOW_SIZE"]) == ("30", "100", "1")
    assert "COLUMNS" not in env and "LINES" not in env  # they would pin Rich's width
    assert (ctl / "winsize").read_text() == "30 100\n"
    init = (ctl / "init.sh").read_text()
    assert "export COLUMNS" not in init
    assert "stty -F /dev/ttyS0" in init
