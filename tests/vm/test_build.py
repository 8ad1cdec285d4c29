"""The driver builds for the running kernel as a user builds it: `make -C kmod` with
the kernel's extra warnings (W=1) and none of them (the lab's own build), and through DKMS."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.vm import guest

KMOD = guest.TOP / "kmod"
DKMS_VERSION = "0.1.0"


def sources(dest: Path) -> Path:
    """A clean copy of kmod/ (no build products), so the build starts from nothing."""
    shutil.copytree(KMOD, dest, ignore=shutil.ignore_patterns("*.o", "*.ko", "*.mod*", ".*", "modules.order",
                                                              "Module.symvers"))
    return dest


@pytest.mark.smoke
def test_w1_build_has_no_warnings() -> None:
    """The lab builds vnet.ko for each guest kernel from a clean copy of kmod/ with the
    kernel's extra warnings, `make W=1`, and keeps the output beside it in build.log
    (vnet_ebpf/lab/guest/init.sh).  So the module every test loads is the one checked
    here, and the check costs no second build."""
    ko = Path(os.environ["VNET_LAB_KO"])
    log = (ko.parent / "build.log").read_text().splitlines()
    assert log, "empty build log"
    command, out = log[0].split(), log[1:]
    assert command[0] == "make" and "W=1" in command, log[0]
    warnings = [line for line in out if "warning:" in line or "Warning:" in line]
    assert warnings == [], "\n".join(warnings)
    # The module carries the running kernel's version magic: it loads here.
    info = guest.sh("modinfo", "-F", "vermagic", str(ko))
    assert info.split()[0] == os.uname().release


@pytest.fixture
def dkms_tree() -> Iterator[Path]:
    guest.unload()
    dest = Path(f"/usr/src/vnet-{DKMS_VERSION}")
    shutil.rmtree(dest, ignore_errors=True)
    yield sources(dest)
    subprocess.run(["modprobe", "-r", "vnet"], check=False)
    subprocess.run(["dkms", "remove", "-m", "vnet", "-v", DKMS_VERSION, "--all"], capture_output=True, check=False)
    shutil.rmtree(dest, ignore_errors=True)


def test_dkms_install_then_modprobe(dkms_tree: Path) -> None:
    """The README's DKMS steps, as a user with the module on their own machine runs them."""
    release = os.uname().release
    guest.sh("dkms", "install", "-m", "vnet", "-v", DKMS_VERSION, "-k", release)
    assert f"vnet/{DKMS_VERSION}, {release}, x86_64: installed" in guest.sh("dkms", "status")
    mark = guest.kmsg_mark()
    guest.sh("modprobe", "vnet")
    assert "driver: vnet\n" in guest.sh("ethtool", "-i", "vnet0")
    guest.sh("modprobe", "-r", "vnet")
    guest.assert_clean_kmsg(mark)
