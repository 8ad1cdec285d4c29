"""Ctrl-C at any instant of the three real console commands (the venv's scripts).

Each command is sent SIGINT at several instants after its spawn, and once during a long
part of its run; the phase each one hits is read from the kernel (tests/ctrl_c.py).
From the instant vnet_ebpf.entry's handler is in place every outcome is asserted
exactly: one line on stderr, no traceback, status 130, or once the tool's own handling
runs, what the tool documents.  Before the interpreter's handler the process dies by
the signal: status -2 and nothing printed is asserted; likewise once the command has
ended and the interpreter shuts down.  Between the interpreter's handler and ours (its
site and the wrapper's first import) the send is moved to the end of that window.

What needs root, BCC, a vnet device or QEMU is faked outside the code under test: a
`bcc` module whose compile sleeps, a sitecustomize that says the user is root, a fake
lab image and a `qemu-system-x86_64` that sleeps.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import ctrl_c
from vnet_ebpf.lab import cache
from vnet_ebpf.lab.guests import GUESTS

BIN = Path(sys.executable).parent
INSTANTS = [0.0, 0.05, 0.2, 0.6, 1.2]

FAKE_BCC = '''\
"""A stand-in for BCC whose compile takes long and says when it starts."""
import os
import time

__version__ = "0.0"


class BPF:
    def __init__(self, **kwargs):
        open(os.environ["FAKE_BCC_COMPILING"], "w").close()
        # In short sleeps: the signal may go to the spinner's thread, and the main thread
        # acts on it only when it next runs Python code (real BCC: after the compile).
        for _ in range(2400):
            time.sleep(0.05)

    @staticmethod
    def support_kfunc():
        return False
'''
# os is loaded before sitecustomize: this adds no import.
FAKE_ROOT = "import os\nos.geteuid = lambda: 0\n"
FAKE_QEMU = ('#!/bin/sh\necho $$ >"$FAKE_QEMU_STARTED.new" && mv "$FAKE_QEMU_STARTED.new" "$FAKE_QEMU_STARTED"\n'
             'exec sleep 120\n')


@pytest.fixture(scope="module")
def fakes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fakes")
    (root / "py" / "bcc").mkdir(parents=True)
    (root / "py" / "bcc" / "__init__.py").write_text(FAKE_BCC)
    (root / "py" / "sitecustomize.py").write_text(FAKE_ROOT)
    (root / "bin").mkdir()
    qemu = root / "bin" / "qemu-system-x86_64"
    qemu.write_text(FAKE_QEMU)
    qemu.chmod(0o755)
    # A lab image of the current inputs (vnet-lab checks only that its files are there)
    # and a checkout to share (kmod/ and pyproject.toml).
    guest = GUESTS["trixie"]
    image = cache.image_dir(root / "cache", guest, cache.image_key(guest))
    image.mkdir(parents=True)
    for name in ("vmlinuz", "initrd.img", "root.img"):
        (image / name).write_bytes(b"")
    (image / "image.json").write_text(json.dumps({"guest": "trixie", "kernel_release": "6.12-fake"}))
    (root / "checkout" / "kmod").mkdir(parents=True)
    (root / "checkout" / "pyproject.toml").write_text("")
    return root


def env_with(fakes: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VNET_LAB_", "PYTHON"))}
    env.update(PYTHONPATH=str(fakes / "py"), PATH=f"{fakes / 'bin'}:{env['PATH']}", VNET_LAB_CACHE=str(fakes / "cache"),
               VNET_LAB_ACCEL="tcg", VNET_LAB_GUEST="trixie", COLUMNS="100", **extra)
    return env


def check_one_line(outcome: ctrl_c.Outcome, *lines: str) -> None:
    """The outcome of a SIGINT: before the interpreter's handler, death by the signal and
    nothing printed; after ours, exactly one of LINES on stderr and status 130."""
    said = outcome.describe()
    assert "Traceback" not in outcome.stderr and "Aborted" not in outcome.stderr, said
    if outcome.phase == "exec":
        assert (outcome.status, outcome.stderr, outcome.stdout) == (-2, "", ""), said
        return
    if outcome.phase == "finalizing":  # after the command's own end (a usage error, its error line)
        assert outcome.status == -2 and len(outcome.stderr.splitlines()) <= 1, said
        return
    assert outcome.phase in ("held", "ours"), said
    assert outcome.status == 130, said
    assert outcome.stderr.splitlines() in [[line] for line in lines], said


def test_the_entry_module_imports_nothing(tmp_path: Path) -> None:
    """What keeps the window before our handler short: importing vnet_ebpf.entry loads
    no module but the package itself (on a bare interpreter, as the lab runs it)."""
    top = Path(__file__).resolve().parents[2]
    code = ("import sys; before = set(sys.modules); import vnet_ebpf.entry; "
            "print(sorted(set(sys.modules) - before))")
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(top), "PATH": os.environ["PATH"]}).stdout
    assert out.strip() == "['vnet_ebpf', 'vnet_ebpf.entry']"


@pytest.mark.parametrize("delay", INSTANTS)
def test_vnet_trace_napi(fakes: Path, tmp_path: Path, delay: float) -> None:
    env = env_with(fakes, FAKE_BCC_COMPILING=str(tmp_path / "compiling"))
    outcome = ctrl_c.interrupt_at([str(BIN / "vnet-trace"), "napi", "-i", "lo", "1", "5"], delay, env)
    check_one_line(outcome, "vnet-trace: interrupted")


def test_vnet_trace_napi_during_the_compile(fakes: Path, tmp_path: Path) -> None:
    ready = tmp_path / "compiling"
    outcome = ctrl_c.interrupt_when([str(BIN / "vnet-trace"), "napi", "-i", "lo", "1", "5"], ready, 0.3,
                                    env_with(fakes, FAKE_BCC_COMPILING=str(ready)))
    assert outcome.phase == "ours", outcome.describe()
    check_one_line(outcome, "vnet-trace: interrupted")


@pytest.mark.parametrize("args", [["--help"], ["napi", "--help"]])
@pytest.mark.parametrize("delay", [0.0, 0.05, 0.2])
def test_vnet_trace_help(fakes: Path, args: list[str], delay: float) -> None:
    outcome = ctrl_c.interrupt_at([str(BIN / "vnet-trace"), *args], delay, env_with(fakes))
    if outcome.phase in ("exited", "finalizing"):  # --help was quicker
        assert outcome.status in (0, -2) and outcome.stdout.startswith("Usage:") and outcome.stderr == "", \
            outcome.describe()
    else:
        check_one_line(outcome, "vnet-trace: interrupted")


@pytest.mark.parametrize("delay", INSTANTS)
def test_vnet_trace_queues(fakes: Path, delay: float) -> None:
    outcome = ctrl_c.interrupt_at([str(BIN / "vnet-trace"), "queues", "-i", "lo"], delay, env_with(fakes))
    if outcome.stdout.startswith("Queues of lo"):  # its own handling had started: a normal end
        assert (outcome.status, outcome.stderr) == (0, ""), outcome.describe()
    else:
        check_one_line(outcome, "vnet-trace: interrupted")


def test_vnet_trace_queues_while_running_is_a_normal_end(fakes: Path) -> None:
    outcome = ctrl_c.interrupt_after_line([str(BIN / "vnet-trace"), "queues", "-i", "lo", "0.2"], "Queues of lo",
                                          0.5, env_with(fakes))
    assert outcome.phase == "ours"
    assert (outcome.status, outcome.stderr) == (0, ""), outcome.describe()
    assert outcome.stdout.splitlines()[1].startswith("TIME")  # the header; rows may follow


@pytest.mark.parametrize("delay", INSTANTS)
def test_vnet_wire(fakes: Path, delay: float) -> None:
    # No /dev/vnet on the host: the command ends with its one-line error unless Ctrl-C
    # comes first.  While it forwards (counters, status 0): tests/vm/test_wire.py.
    outcome = ctrl_c.interrupt_at([str(BIN / "vnet-wire"), "vnet0", "vnet1"], delay, env_with(fakes))
    if outcome.phase in ("exited", "finalizing"):
        assert outcome.status in (1, -2) and len(outcome.stderr.splitlines()) == 1, outcome.describe()
        assert outcome.stderr.startswith("vnet-wire: "), outcome.describe()
    else:
        check_one_line(outcome, "vnet-wire: interrupted")


@pytest.mark.parametrize("delay", INSTANTS)
def test_vnet_lab_run(fakes: Path, tmp_path: Path, delay: float) -> None:
    env = env_with(fakes, FAKE_QEMU_STARTED=str(tmp_path / "qemu"))
    outcome = ctrl_c.interrupt_at([str(BIN / "vnet-lab"), "run", "--", "true"], delay, env, cwd=fakes / "checkout")
    check_one_line(outcome, "vnet-lab: interrupted", "vnet-lab: interrupted; VM stopped")


def test_vnet_lab_run_while_the_vm_runs_stops_it(fakes: Path, tmp_path: Path) -> None:
    started = tmp_path / "qemu"
    outcome = ctrl_c.interrupt_when([str(BIN / "vnet-lab"), "run", "--", "true"], started, 0.2,
                                    env_with(fakes, FAKE_QEMU_STARTED=str(started)), cwd=fakes / "checkout")
    check_one_line(outcome, "vnet-lab: interrupted; VM stopped")
    # The VM was stopped (and reaped): its process is gone.
    assert not Path(f"/proc/{int(started.read_text())}").exists()


def test_a_shell_wrapper_before_the_exec_is_not_taken_for_our_handler(tmp_path: Path) -> None:
    """The harness itself, as the lab guest's commands start: a /bin/sh script that
    `exec`s the program.  dash catches SIGINT while it runs a script, so the process
    has a SIGINT handler, then none once the exec happens.  That is the start of a
    program (``exec``), not the end of ours (``finalizing``)."""
    wrapper = tmp_path / "wrapper"
    wrapper.write_text("#!/bin/sh\nsleep 0.3\nexec sleep 30\n")
    wrapper.chmod(0o755)
    outcome = ctrl_c.interrupt_at([str(wrapper)], 1.0)
    assert (outcome.phase, outcome.status, outcome.stderr) == ("exec", -2, ""), outcome.describe()


@pytest.mark.parametrize("delay", [0.0, 0.005, 0.02, 0.05])
def test_a_ctrl_c_held_by_the_launcher_gets_the_one_line(fakes: Path, tmp_path: Path, delay: float) -> None:
    """As the lab guest starts the commands: `env --block-signal` blocks SIGINT and
    SIGTERM before the interpreter starts, and the entry point unblocks them once its
    handler is in, so a Ctrl-C at any instant after env's first steps gets the one line.
    (If nothing unblocked them, the held signal would never be acted on.)"""
    env = env_with(fakes, FAKE_BCC_COMPILING=str(tmp_path / "compiling"))
    outcome = ctrl_c.interrupt_at(["env", "--block-signal=INT,TERM", str(BIN / "vnet-trace"), "napi", "-i", "lo",
                                   "1", "5"], delay, env, timeout=20)
    check_one_line(outcome, "vnet-trace: interrupted")
    if delay >= 0.02:  # env has blocked them by then (it takes about a millisecond)
        assert outcome.phase in ("held", "ours"), outcome.describe()
