"""`vnet-trace top` in a real terminal: the lab demo (traffic both ways, the live screen)
in tmux at 80x24, then the window resized to 120x40 while it runs.  tmux is the witness
of what a user sees: the screen fits, nothing wraps, every section is on it.

The screens are saved to .lab/logs/top-COLSxROWS.txt.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.vm import lab

CHECKOUT = Path(__file__).resolve().parents[2]
SESSION = "vnet-top"


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], check=True, capture_output=True, text=True).stdout


def pane(join: bool = False) -> list[str]:
    """The visible screen, one string per row (-J: rows a line wrapped onto joined back)."""
    return tmux("capture-pane", "-p", *(["-J"] if join else []), "-t", SESSION).rstrip("\n").split("\n")


def screen_of_top(rows: list[str]) -> list[str]:
    """The last full `top` screen on ROWS: from its title row down."""
    starts = [i for i, row in enumerate(rows) if row.startswith(" vnet-trace top  vnet0")]
    assert starts, "\n".join(rows)
    return rows[starts[-1]:]


def wait_for_traffic(timeout: float = 150) -> None:
    """Until a screen shows generated ARP requests: compiled, attached, traffic flowing."""
    lab.wait_until(lambda: any("who-has" in row for row in pane()), timeout, "top showing ARP requests")


def check(cols: int, rows: int) -> list[str]:
    time.sleep(2.5)  # two redraws at this size
    screen = screen_of_top(pane())
    joined = screen_of_top(pane(join=True))
    assert len(joined) == len(screen), "a line wrapped"
    assert all(len(row) <= cols for row in screen)
    assert tmux("display-message", "-p", "-t", SESSION, "#{pane_width}x#{pane_height}").strip() == f"{cols}x{rows}"
    text = "\n".join(screen)
    for section in ("─ rings", "─ NAPI", "packets per poll", "poll time (ns)", "─ generated ARP requests",
                    "who-has", "probe cost:"):
        assert section in text, f"{section!r} missing at {cols}x{rows}:\n{text}"
    assert "of budget 64" in text and "…" not in text
    (CHECKOUT / ".lab" / "logs").mkdir(parents=True, exist_ok=True)
    (CHECKOUT / ".lab" / "logs" / f"top-{cols}x{rows}.txt").write_text(text + "\n")
    return screen


def test_top_fits_80x24_and_follows_a_resize_to_120x40(vnet: Path) -> None:
    subprocess.run(["tmux", "kill-server"], capture_output=True, check=False)
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}  # the tty's size, not these
    env["TERM"] = "xterm-256color"
    # The demo's own 40 s; `sleep` keeps the pane for the checks after it.
    subprocess.run(["tmux", "new-session", "-d", "-s", SESSION, "-x", "80", "-y", "24",
                    f"cd {CHECKOUT} && python3 -m vnet_ebpf.lab.demo 40; sleep 120"], env=env, check=True)
    try:
        wait_for_traffic()
        small = check(80, 24)
        assert len(small) <= 23  # the cursor's row stays on the screen
        tmux("resize-window", "-t", SESSION, "-x", "120", "-y", "40")
        big = check(120, 40)
        assert len(big) <= 39 and len(big) > len(small)  # the room is used: more rows
    finally:
        tmux("send-keys", "-t", SESSION, "C-c", "")  # the demo stops its traffic and detaches
        lab.wait_until(lambda: any("RX:" in row for row in pane(join=True)), 60, "the demo to end")
        subprocess.run(["tmux", "kill-server"], capture_output=True, check=False)


@pytest.fixture(autouse=True)
def _no_stray_session() -> None:
    subprocess.run(["tmux", "kill-server"], capture_output=True, check=False)
