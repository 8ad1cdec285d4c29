"""A real BCC program of ours counts frames through vnet_start_xmit, exactly."""

from __future__ import annotations

from pathlib import Path

from tests.vm import guest
from vnet_ebpf.probes import bccglue

N = 1000


def test_kprobe_counts_every_xmit(vnet: Path) -> None:
    guest.quiet_link_up("vnet0")
    ifindex = int((vnet / "ifindex").read_text())
    b = bccglue.load("xmit_count.bpf.c", [f"-DIFINDEX={ifindex}"])
    try:
        b.attach_kprobe(event="vnet_start_xmit", fn_name="on_xmit")
        before = guest.sysfs_stat("vnet0", "tx_packets")
        guest.send_frames("vnet0", N)
        guest.wait_until(guest.tx_idle, what="TX completions")
        counted = sum(b["xmit_frames"][0])
        after = guest.sysfs_stat("vnet0", "tx_packets")
    finally:
        b.cleanup()
    assert counted == N
    assert after - before == N  # the kernel's own interface counter agrees
