"""The wheel as users install it, and `vnet-trace top` as they see it.

`pipx install --system-site-packages` (BCC comes from Debian's python3-bpfcc), run from
outside the checkout, in tmux, a real terminal: `top` at 80x24 with the demo's traffic
on vnet0, then the window resized to 120x40 while it runs.  tmux is the witness of what
a user sees: the screen fits, nothing wraps, every section is on it, the figures are
those of the traffic.  The screens are saved to .lab/logs/top-COLSxROWS.txt.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

from tests.vm import guest
from vnet_ebpf.lab import demo

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


def one_frame() -> tuple[list[str], list[str]]:
    """The last `top` screen, captured plain and with wrapped rows joined, from one frame.

    top redraws once a second, and a capture that falls inside a redraw sees half of two
    frames.  So the plain capture is taken again after the joined one, and all three are
    kept only if nothing was redrawn between them (each frame has a new clock and counters).
    """
    for _ in range(5):
        before, joined, after = pane(), pane(join=True), pane()
        if before == after:
            return screen_of_top(before), screen_of_top(joined)
        time.sleep(0.3)
    raise AssertionError("top redrew during each of 5 captures")


def check(cols: int, rows: int) -> list[str]:
    time.sleep(2.5)  # two redraws at this size
    screen, joined = one_frame()
    assert len(joined) == len(screen), "a line wrapped:\n" + "\n".join(joined)
    assert all(len(row) <= cols for row in screen)
    assert tmux("display-message", "-p", "-t", SESSION, "#{pane_width}x#{pane_height}").strip() == f"{cols}x{rows}"
    text = "\n".join(screen)
    for section in ("─ rings", "─ NAPI", "packets per poll", "poll time (ns)", "─ generated ARP requests",
                    "who-has", "probe cost:"):
        assert section in text, f"{section!r} missing at {cols}x{rows}:\n{text}"
    assert "…" not in text
    # The demo's traffic: bursts of 16 ARP requests, so NAPI polls 16 at a time, of 64.
    assert "16.00/poll of budget 64" in text, text
    assert re.search(r"^16 +[1-9][\d,]* █", text, re.M), text
    (CHECKOUT / ".lab" / "logs").mkdir(parents=True, exist_ok=True)
    (CHECKOUT / ".lab" / "logs" / f"top-{cols}x{rows}.txt").write_text(text + "\n")
    return screen


def traffic_seen() -> str:
    """What the driver's own counters say went through vnet0: on a failure, it tells a
    tracer that saw nothing from traffic that did not flow."""
    stats = guest.ethtool_stats("vnet0")
    keys = ("tx_packets", "rx_packets", "arp_generated", "tx_completions", "rx_ring_full", "tx_queue_stopped")
    return ", ".join(f"{k} {stats.get(k)}" for k in keys)


def test_pipx_installed_top_fits_80x24_and_follows_a_resize_to_120x40(vnet: Path, tmp_path: Path) -> None:
    wheels = sorted((CHECKOUT / "dist").glob("vnet_ebpf-*.whl"))
    assert wheels, "no wheel in dist/: `make wheel` builds it (make vm and make test do)"
    # Not the checkout: no PYTHONPATH, another working directory.  The guest is offline:
    # pipx's own pip comes from Debian's wheel of it (python3-pip-whl), the project's
    # dependencies from the system site (--system-site-packages), nothing from an index.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "COLUMNS", "LINES")}
    env.update(PIPX_HOME=str(tmp_path / "pipx"), PIPX_BIN_DIR=str(tmp_path / "bin"), PIP_NO_INDEX="1",
               PIP_FIND_LINKS="/usr/share/python-wheels", TERM="xterm-256color")
    pipx = subprocess.run(["pipx", "install", "--system-site-packages", str(wheels[-1])], env=env, cwd=tmp_path,
                          check=False, capture_output=True, text=True)
    assert pipx.returncode == 0, pipx.stdout + pipx.stderr
    python = tmp_path / "pipx" / "venvs" / "vnet-ebpf" / "bin" / "python"
    where = subprocess.run([str(python), "-c", "from vnet_ebpf.probes import bccglue; print(bccglue.BPF_DIR)"],
                           env=env, cwd=tmp_path, check=True, capture_output=True, text=True).stdout.strip()
    assert where.startswith(str(tmp_path / "pipx")) and where.endswith("_sources/bpf"), where

    demo.setup()
    subprocess.run(["tmux", "kill-server"], capture_output=True, check=False)
    # The tracer straight in the pane (no shell around it to take the Ctrl-C); the pane
    # stays after it exits, with its exit status.
    subprocess.run(["tmux", "new-session", "-d", "-s", SESSION, "-x", "80", "-y", "24", "-c", str(tmp_path),
                    str(tmp_path / "bin" / "vnet-trace"), "top", "1"], env=env, check=True)
    tmux("set-option", "-t", SESSION, "remain-on-exit", "on")

    def dead() -> str:
        return tmux("display-message", "-p", "-t", SESSION, "#{pane_dead} #{pane_dead_status}").strip()

    try:
        # Compiled and attached once the first screen shows; then the traffic.
        try:
            guest.wait_until(lambda: any(r.startswith(" vnet-trace top") for r in pane()), 420, "the first screen")
        except AssertionError as err:
            raise AssertionError(f"{err} ({dead()}):\n" + "\n".join(pane(join=True))) from None
        demo.traffic()
        try:
            guest.wait_until(lambda: any("who-has" in row for row in pane()), 60, "ARP requests on the screen")
        except AssertionError as err:
            raise AssertionError(f"{err} ({dead()}; {traffic_seen()}):\n" + "\n".join(pane(join=True))) from None
        small = check(80, 24)
        assert len(small) <= 23  # the cursor's row stays on the screen
        tmux("resize-window", "-t", SESSION, "-x", "120", "-y", "40")
        big = check(120, 40)
        assert len(big) <= 39 and len(big) > len(small)  # the room is used: more rows
        demo.quiesce()
        tmux("send-keys", "-t", SESSION, "C-c", "")
        guest.wait_until(lambda: dead().startswith("1"), 60, "top to exit on Ctrl-C")
        assert dead() == "1 0"  # exit status 0
        assert "Traceback" not in "\n".join(pane(join=True))
    finally:
        demo.quiesce()
        subprocess.run(["tmux", "kill-server"], capture_output=True, check=False)
