"""A real BCC program of ours counts frames through vnet_start_xmit, exactly."""

from __future__ import annotations

import socket
import time
from pathlib import Path

from tests.vm import lab
from vnet_ebpf.probes import bccglue

N = 1000
ETH_P_EXPERIMENTAL = 0x88B5  # IEEE "local experimental" EtherType: nobody else sends it


def send_frames(dev: str, count: int) -> None:
    mac = bytes.fromhex(Path(f"/sys/class/net/{dev}/address").read_text().strip().replace(":", ""))
    frame = b"\xff" * 6 + mac + ETH_P_EXPERIMENTAL.to_bytes(2, "big") + bytes(46)
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as s:
        s.bind((dev, 0))
        for _ in range(count):
            s.send(frame)


def test_kprobe_counts_every_xmit(vnet: Path) -> None:
    lab.quiet_link_up("vnet0")
    ifindex = int((vnet / "ifindex").read_text())
    b = bccglue.load("xmit_count.bpf.c", [f"-DIFINDEX={ifindex}"])
    try:
        b.attach_kprobe(event="vnet_start_xmit", fn_name="on_xmit")
        before = lab.sysfs_stat("vnet0", "tx_packets")
        send_frames("vnet0", N)
        time.sleep(0.2)
        counted = sum(b["xmit_frames"][0])
        after = lab.sysfs_stat("vnet0", "tx_packets")
    finally:
        b.cleanup()
    assert counted == N
    assert after - before == N  # the kernel's own interface counter agrees
