"""Helpers for guest tests: load/unload the module, witnesses we did not write."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

TOP = Path(__file__).resolve().parents[2]
MODULE = TOP / "kmod" / "vnet.ko"
BAD_KMSG = re.compile(r"WARNING:|BUG:|Oops|general protection|refcount_t:|kernel BUG|list_del corruption")


def sh(*argv: str, check: bool = True) -> str:
    """Run a real tool (ip, ethtool, ...) and return its stdout."""
    return subprocess.run(argv, capture_output=True, text=True, check=check).stdout


def loaded() -> bool:
    return Path("/sys/module/vnet").exists()


def load(*params: str) -> None:
    sh("insmod", str(MODULE), *params)


def unload() -> None:
    if loaded():
        sh("rmmod", "vnet")


def kmsg_mark() -> int:
    """How many kernel log lines exist now, to look only at what comes after."""
    return len(sh("dmesg").splitlines())


def assert_clean_kmsg(mark: int) -> None:
    new = sh("dmesg").splitlines()[mark:]
    bad = [line for line in new if BAD_KMSG.search(line)]
    assert not bad, "kernel log:\n" + "\n".join(new[-40:])


def sysfs_stat(dev: str, name: str) -> int:
    return int(Path(f"/sys/class/net/{dev}/statistics/{name}").read_text())


def quiet_link_up(dev: str) -> None:
    """Bring DEV up without the stack sending frames of its own (IPv6 DAD, RS, MLD),
    so that counts of what we send can be exact."""
    Path(f"/proc/sys/net/ipv6/conf/{dev}/disable_ipv6").write_text("1\n")
    sh("ip", "link", "set", dev, "up")
