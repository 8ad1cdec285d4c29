"""The wheel as users install it: `pipx install --system-site-packages` (BCC comes from
Debian's python3-bpfcc), run from outside the checkout, traces vnet0."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.vm import lab
from tests.vm.test_rx import generate
from tests.vm.test_trace import Trace

CHECKOUT = Path(__file__).resolve().parents[2]


def test_pipx_installed_wheel_traces_vnet0(vnet: Path, tmp_path: Path) -> None:
    wheels = sorted((CHECKOUT / "dist").glob("vnet_ebpf-*.whl"))
    assert wheels, "no wheel in dist/: `make wheel` builds it (make vm and make test do)"
    # Not the checkout: no PYTHONPATH, another working directory.  The guest is offline:
    # pipx's own pip comes from Debian's wheel of it (python3-pip-whl), the project's
    # dependencies from the system site (--system-site-packages), nothing from an index.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PIPX_HOME=str(tmp_path / "pipx"), PIPX_BIN_DIR=str(tmp_path / "bin"), PIP_NO_INDEX="1",
               PIP_FIND_LINKS="/usr/share/python-wheels")
    pipx = subprocess.run(["pipx", "install", "--system-site-packages", str(wheels[-1])], env=env, cwd=tmp_path,
                          check=False, capture_output=True, text=True)
    assert pipx.returncode == 0, pipx.stdout + pipx.stderr
    python = tmp_path / "pipx" / "venvs" / "vnet-ebpf" / "bin" / "python"
    where = subprocess.run([str(python), "-c", "from vnet_ebpf.probes import bccglue; print(bccglue.BPF_DIR)"],
                           env=env, cwd=tmp_path, check=True, capture_output=True, text=True).stdout.strip()
    assert where.startswith(str(tmp_path / "pipx")) and where.endswith("_sources/bpf"), where

    lab.quiet_link_up("vnet0")
    trace = Trace("napi", "--json", "1", tool=str(tmp_path / "bin" / "vnet-trace"), env=env, cwd=tmp_path)
    try:
        trace.wait_lines(1)
        before = lab.ethtool_stats()
        generate(rate=200, burst=4, seconds=1)
        d = lab.delta(lab.ethtool_stats(), before)
        trace.wait_lines(len(trace.lines) + 2)
    finally:
        rc, err = trace.stop()
    assert rc == 0, err
    objs = trace.objects()
    assert sum(o["packets"] for o in objs) == d["rx_packets"] > 0
    assert sum(o["polls"] for o in objs) == d["napi_polls"]
