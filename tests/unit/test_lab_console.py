from pathlib import Path

import pytest

from vnet_ebpf.lab.runner import _Console


def test_marks_are_hidden_and_output_streams(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    c = _Console(tmp_path / "console.log", quiet=False)
    c.feed(b"SeaBIOS noise\r\n@@vnet-lab@@ status building\r\n")
    c.feed(b"@@vnet-lab@@ start\r\nhello\r\nwor")
    c.feed(b"ld\r\n@@vnet-lab@@ end 7\r\n")
    c.close()
    out = capsys.readouterr()
    assert out.out == "hello\nworld\n"
    assert "vnet-lab: building" in out.err
    assert c.status == 7
    assert b"SeaBIOS noise" in c.before_start
    assert (tmp_path / "console.log").read_bytes().startswith(b"SeaBIOS noise\r\n")


def test_partial_prompt_is_shown_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    c = _Console(tmp_path / "log", quiet=False)
    c.feed(b"@@vnet-lab@@ start\nPassword: ")
    assert capsys.readouterr().out == "Password: "
    c.feed(b"@@vnet")  # could be a mark: held back until the line completes
    assert capsys.readouterr().out == ""
    c.feed(b"-lab@@ end 0\n")
    c.close()
    assert c.status == 0
