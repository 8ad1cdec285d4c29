from pathlib import Path

import pytest

from vnet_ebpf.lab.console import Console


def test_marks_are_hidden_and_output_streams(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    c = Console(tmp_path / "console.log", quiet=False)
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
    c = Console(tmp_path / "log", quiet=False)
    c.feed(b"@@vnet-lab@@ start\nPassword: ")
    assert capsys.readouterr().out == "Password: "
    c.feed(b"@@vnet")  # could be a mark: held back until the line completes
    assert capsys.readouterr().out == ""
    c.feed(b"-lab@@ end 0\n")
    c.close()
    assert c.status == 0


def _screen(stream: bytes) -> list[str]:
    """What a terminal shows after STREAM: just enough of one for Rich Live's redraws
    (CR, LF, ESC[2K erase line, ESC[1A cursor up; other escapes ignored)."""
    rows: list[list[str]] = [[]]
    r = c = 0
    i = 0
    text = stream.decode()
    while i < len(text):
        ch = text[i]
        if ch == "\x1b":
            end = i + 2
            while not text[end].isalpha():
                end += 1
            seq = text[i + 2:end + 1]
            if seq == "2K":
                rows[r] = []
            elif seq == "1A":
                r = max(r - 1, 0)
            i = end + 1
            continue
        if ch == "\r":
            c = 0
        elif ch == "\n":  # the host terminal's own LF is CR LF (onlcr)
            r, c = r + 1, 0
            if r == len(rows):
                rows.append([])
        else:
            row = rows[r]
            row.extend(" " * (c + 1 - len(row)))
            row[c] = ch
            c += 1
        i += 1
    return ["".join(row).rstrip() for row in rows]


# A Rich Live screen of two rows drawn, then redrawn, as the guest's tty sends it:
# LF as CR LF, and before the redraw CR, erase the line, up one row, erase it.  At
# the end Live shows the cursor again, and the guest's end mark follows on that line.
LIVE = (
    b"@@vnet-lab@@ start\r\n"
    b"\x1b[?25lqueue 0  12 pps\r\nqueue 1   3 pps"
    b"\r\x1b[2K\x1b[1A\x1b[2Kqueue 0  40 pps\r\nqueue 1   7 pps"
    b"\r\n\x1b[?25h@@vnet-lab@@ end 0\r\n"
)


@pytest.mark.parametrize("chunk", [len(LIVE), 1, 7])
def test_live_redraws_start_at_column_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str], chunk: int) -> None:
    c = Console(tmp_path / "log", quiet=False)
    for at in range(0, len(LIVE), chunk):  # also every \r\n split across two reads
        c.feed(LIVE[at:at + chunk])
    c.close()
    out = capsys.readouterr().out
    assert c.status == 0
    assert "\r\x1b[2K\x1b[1A\x1b[2K" in out  # the lone carriage return is kept...
    assert "\r\n" not in out  # ...and line ends are plain newlines
    screen = _screen(out.encode())
    while screen and not screen[-1]:
        screen.pop()
    assert screen == ["queue 0  40 pps", "queue 1   7 pps"]


def test_carriage_returns_do_not_hide_marks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    c = Console(tmp_path / "log", quiet=False)
    c.feed(b"\r@@vnet-lab@@ start\r\r\n50%\r")
    assert capsys.readouterr().out == "50%"  # the \r may be half of a \r\n: it waits
    c.feed(b"100%\r\n\r@@vnet")
    assert capsys.readouterr().out == "\r100%\n\r"
    c.feed(b"-lab@@ end 3\r\r\n")
    c.close()
    assert capsys.readouterr().out == ""
    assert c.status == 3
