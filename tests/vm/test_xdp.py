"""Native XDP in the driver and `vnet-trace xdp`, against witnesses we did not write:
ethtool -S, ip -s link, ip link (the attached program), tcpdump, bpftool, and the
kernel's xdp:xdp_devmap_xmit tracepoint (bpftrace)."""

from __future__ import annotations

import ctypes
import json
import re
import signal
import struct
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.vm import guest
from tests.vm.test_rx import generate, read_pcap
from tests.vm.test_trace import Trace, run_in_pty
from vnet_ebpf.probes import bpfstats

PIN_DIR = Path("/sys/fs/bpf")
PASS_PROGS = """
int pass_a(struct xdp_md *ctx) { return XDP_PASS; }
int pass_b(struct xdp_md *ctx) { return XDP_PASS; }
"""
XDP_MAX_MTU = 3502  # 4 KiB page - XDP headroom (256) - skb_shared_info (320) - Ethernet header - VLAN tag
ATTACH_AND_EXIT = """
import sys
from bcc import BPF
b = BPF(text="int p(struct xdp_md *ctx) { return XDP_PASS; }")
BPF.attach_xdp(sys.argv[1], b.load_func("p", BPF.XDP), BPF.XDP_FLAGS_DRV_MODE)
"""
DEVMAP_BT = r"""
tracepoint:xdp:xdp_devmap_xmit {
    @sent = sum(args->sent);
    @drops = sum(args->drops);
    @calls = count();
}
"""


def xdp_state(dev: str) -> tuple[int, int]:
    """(mode, program id) of DEV as `ip -j link show` reports it; (0, 0) for none."""
    (link,) = json.loads(guest.sh("ip", "-j", "link", "show", dev))
    xdp = link.get("xdp") or {}
    return int(xdp.get("mode", 0)), int((xdp.get("prog") or {}).get("id", 0))


def wait_attached(dev: str, trace: Trace | None = None) -> int:
    """Wait until DEV has an XDP program; its id."""
    def ready() -> bool:
        assert trace is None or trace.proc.poll() is None, trace.proc.stderr.read() if trace.proc.stderr else ""
        return xdp_state(dev)[1] != 0
    guest.wait_until(ready, 180, f"an XDP program on {dev}")
    return xdp_state(dev)[1]


def ip_link(*args: str) -> subprocess.CompletedProcess[str]:
    """`ip ARGS` as a user runs it: the exit status and the kernel's message on stderr."""
    return subprocess.run(["ip", *args], capture_output=True, text=True)


def prog_exists(prog_id: int) -> bool:
    return subprocess.run(["bpftool", "prog", "show", "id", str(prog_id)], capture_output=True).returncode == 0


@contextmanager
def xdp_trace(*args: str, sig: int = signal.SIGINT) -> Iterator[Trace]:
    """`vnet-trace xdp ARGS --json 1` on vnet0, attached; stopped with SIG, which must
    end it with status 0 and nothing left attached."""
    trace = Trace("xdp", *args, "--json", "1")
    try:
        wait_attached("vnet0", trace)
        yield trace
    finally:
        rc, err = trace.stop(sig)
    assert rc == 0, err
    assert xdp_state("vnet0") == (0, 0)


def generated(rate: int, burst: int, seconds: float, dev: str = "vnet0") -> dict[str, int]:
    """What DEV's counters (ethtool -S) did while the generator ran."""
    before = guest.ethtool_stats(dev)
    generate(rate=rate, burst=burst, seconds=seconds)
    return guest.delta(guest.ethtool_stats(dev), before)


def summary(trace: Trace) -> dict[str, Any]:
    objs = trace.objects()
    assert objs and objs[-1]["schema"] == "vnet-trace.xdp-summary/2", trace.lines[-3:]
    return objs[-1]


@pytest.fixture(scope="module")
def pinned() -> Iterator[dict[str, int]]:
    """Two XDP_PASS programs compiled by BCC and pinned in bpffs, so that `ip` can attach them."""
    from bcc import BPF

    b = BPF(text=PASS_PROGS)
    ids = {}
    for name in ("pass_a", "pass_b"):
        fd = int(b.load_func(name, BPF.XDP).fd)
        path = PIN_DIR / f"vnet_test_{name}"
        path.unlink(missing_ok=True)
        raw = ctypes.create_string_buffer(str(path).encode())
        # BPF_OBJ_PIN: union bpf_attr { u64 pathname; u32 bpf_fd; }
        bpfstats.bpf_cmd(6, ctypes.create_string_buffer(struct.pack("QI", ctypes.addressof(raw), fd), 16))
        ids[name] = bpfstats.prog_id(fd)
    yield ids
    for name in ids:
        (PIN_DIR / f"vnet_test_{name}").unlink(missing_ok=True)
    b.cleanup()


@pytest.fixture
def vnet2() -> Iterator[None]:
    """vnet0 and vnet1, quietly up."""
    guest.unload()
    mark = guest.kmsg_mark()
    guest.load("numdevs=2")
    yield
    guest.unload()
    guest.assert_clean_kmsg(mark)


def test_pass_and_drop_every_nth_agree_with_ethtool_and_ip(vnet: Path) -> None:
    guest.quiet_link_up("vnet0")
    with xdp_trace("--drop-every", "3") as trace:
        ip_before = guest.ip_stats()
        d = generated(rate=300, burst=4, seconds=2)
        ip_rx = guest.delta(guest.ip_stats()["rx"], ip_before["rx"])
    s = summary(trace)
    v = s["verdicts"]
    # Every frame counts as received, also those XDP drops (if_link.h, netdev.yaml).
    assert s["packets"] == d["xdp_packets"] == d["arp_generated"] == d["rx_packets"] == ip_rx["packets"] > 0
    assert d["rx_arp"] == d["rx_packets"]
    assert v["pass"] == d["xdp_pass"]
    assert v["drop"] == d["xdp_drop"] == ip_rx["dropped"] == d["rx_dropped"]
    assert v["tx"] == v["redirect"] == v["aborted"] == d["xdp_aborted"] == 0
    assert abs(v["drop"] - s["packets"] // 3) <= 2  # every 3rd, counted on each CPU
    assert s["by_class"]["arp"]["pass"] == v["pass"]  # every generated frame is ARP
    assert sum(s["by_class"]["ipv4"].values()) == 0


@pytest.mark.smoke
def test_drop_arp_drops_every_arp_until_detached(vnet: Path) -> None:
    guest.quiet_link_up("vnet0")
    with xdp_trace("--drop-arp", sig=signal.SIGTERM) as trace:
        attached = generated(rate=300, burst=4, seconds=1.5)
    after = generated(rate=300, burst=4, seconds=1)

    # Received (rx_packets), then dropped by XDP: none reached the stack.
    assert summary(trace)["verdicts"]["drop"] == attached["xdp_drop"] == attached["arp_generated"] > 0
    assert attached["rx_packets"] == attached["rx_dropped"] == attached["arp_generated"]
    assert attached["xdp_pass"] == 0
    assert after["rx_arp"] == after["rx_packets"] == after["arp_generated"] > 0  # resumes once detached
    assert after["xdp_packets"] == after["rx_dropped"] == 0


def test_xdp_tx_sends_the_frames_back_out(vnet: Path, tmp_path: Path) -> None:
    peer = "02:11:22:33:44:66"
    guest.set_knob("peer_mac", peer)
    guest.quiet_link_up("vnet0")
    pcap = tmp_path / "tx.pcap"
    with xdp_trace("--tx") as trace:
        dump = subprocess.Popen(["tcpdump", "-i", "vnet0", "-Q", "out", "-n", "-U", "-w", str(pcap)],
                                stderr=subprocess.PIPE, text=True)
        assert dump.stderr is not None and "listening" in dump.stderr.readline()
        before, ip_before = guest.ethtool_stats(), guest.ip_stats()
        generate(rate=200, burst=4, seconds=1.5)
        guest.wait_until(guest.tx_idle, what="TX completions")
        d = guest.delta(guest.ethtool_stats(), before)
        ip_tx = guest.delta(guest.ip_stats()["tx"], ip_before["tx"])
        time.sleep(0.5)
        dump.send_signal(signal.SIGINT)
        dump.wait(timeout=30)
    frames = read_pcap(pcap)
    n = d["arp_generated"]
    assert summary(trace)["verdicts"]["tx"] == d["xdp_tx"] == n > 0
    assert d["xdp_tx_errors"] == 0 and d["rx_packets"] == n and d["xdp_pass"] == 0
    assert d["tx_packets"] == d["tx_completions"] == d["tx_arp"] == ip_tx["packets"] == n
    assert len(frames) == n
    src = bytes.fromhex(peer.replace(":", ""))
    assert all(f[6:12] == src and f[12:14] == b"\x08\x06" and len(f) == 60 for f in frames)


def test_redirect_into_vnet1_through_a_devmap(vnet2: None, tmp_path: Path) -> None:
    guest.quiet_link_up("vnet0")
    guest.quiet_link_up("vnet1")
    pcap = tmp_path / "vnet1.pcap"
    with xdp_trace("--redirect", "vnet1") as trace:
        dump = subprocess.Popen(["tcpdump", "-i", "vnet1", "-Q", "out", "-n", "-U", "-w", str(pcap)],
                                stderr=subprocess.PIPE, text=True)
        assert dump.stderr is not None and "listening" in dump.stderr.readline()
        b0, b1, ip1 = guest.ethtool_stats("vnet0"), guest.ethtool_stats("vnet1"), guest.ip_stats("vnet1")
        generate(rate=200, burst=4, seconds=1.5)
        guest.wait_until(lambda: guest.tx_idle("vnet1"), what="vnet1 TX completions")
        d0 = guest.delta(guest.ethtool_stats("vnet0"), b0)
        d1 = guest.delta(guest.ethtool_stats("vnet1"), b1)
        ip1_tx = guest.delta(guest.ip_stats("vnet1")["tx"], ip1["tx"])
        time.sleep(0.5)
        dump.send_signal(signal.SIGINT)
        dump.wait(timeout=30)
    n = d0["arp_generated"]
    assert summary(trace)["verdicts"]["redirect"] == d0["xdp_redirect"] == n > 0
    assert d0["xdp_redirect_errors"] == 0 and d0["rx_packets"] == n and d0["xdp_pass"] == 0
    assert d1["xdp_xmit"] == d1["tx_packets"] == ip1_tx["packets"] == n
    assert d1["xdp_xmit_errors"] == 0
    assert len(read_pcap(pcap)) == n


def test_ndo_xdp_xmit_returns_partial_counts_when_the_ring_is_full(vnet2: None) -> None:
    # vnet1's TX ring: 16 descriptors, each held for a second.  Bursts of 64 redirected
    # frames reach it in devmap bulks of 16: the first fits, the rest are refused.
    guest.sh("ethtool", "-G", "vnet1", "tx", "16")
    guest.sh("ethtool", "-C", "vnet1", "tx-usecs", "1000000")
    guest.quiet_link_up("vnet0")
    guest.quiet_link_up("vnet1")
    devmap_xmit = guest.BpftraceWitness(DEVMAP_BT, ("@sent", "@drops", "@calls"))
    with xdp_trace("--redirect", "vnet1"), devmap_xmit:
        b0, b1 = guest.ethtool_stats("vnet0"), guest.ethtool_stats("vnet1")
        generate(rate=128, burst=64, seconds=1.2)
        d0 = guest.delta(guest.ethtool_stats("vnet0"), b0)
        d1 = guest.delta(guest.ethtool_stats("vnet1"), b1)
        out = devmap_xmit.finish()
    tp = {k: int(v) for k, v in re.findall(r"@(\w+): (\d+)", out)}
    assert d0["xdp_redirect"] == d0["arp_generated"] == d1["xdp_xmit"] + d1["xdp_xmit_errors"] > 0
    assert d1["xdp_xmit"] == tp["sent"] > 0
    assert d1["xdp_xmit_errors"] == tp["drops"] > 0
    assert d1["tx_queue_stopped"] > 0  # the XDP frames filled the ring: the stack's queue stopped too
    guest.wait_until(lambda: guest.ethtool_stats("vnet1")["tx_packets"] - b1["tx_packets"] == tp["sent"], 10,
                   "vnet1 to complete what it accepted")


def test_generic_mode_and_sigterm(vnet: Path) -> None:
    guest.quiet_link_up("vnet0")
    with xdp_trace("--mode", "generic", sig=signal.SIGTERM) as trace:
        assert xdp_state("vnet0")[0] == 2  # XDP_ATTACHED_SKB
        d = generated(rate=200, burst=4, seconds=1)
    assert summary(trace)["verdicts"]["pass"] == d["rx_packets"] == d["arp_generated"] > 0
    assert d["xdp_packets"] == 0  # the driver's native hook did not run


def test_device_deleted_while_attached(vnet: Path) -> None:
    guest.sh("ip", "link", "add", "vnet5", "type", "vnet")
    guest.quiet_link_up("vnet5")
    trace = Trace("xdp", "-i", "vnet5", "--json", "1")
    prog = wait_attached("vnet5", trace)
    guest.sh("ip", "link", "del", "vnet5")
    rc = trace.proc.wait(timeout=60)
    err = trace.proc.stderr.read() if trace.proc.stderr else ""
    assert rc == 1
    assert err.strip().splitlines() == ["vnet-trace: vnet5 went away while its XDP program was attached"]
    guest.wait_until(lambda: not prog_exists(prog), 10, "the program to be freed")


def test_control_plane(vnet: Path, pinned: dict[str, int]) -> None:
    """The semantics the kernel's test_offload.py checks on netdevsim, with iproute2."""
    a, b = (str(PIN_DIR / f"vnet_test_{n}") for n in ("pass_a", "pass_b"))
    # Attach on a down device, then bring it up: the program runs on what arrives.
    assert ip_link("link", "set", "vnet0", "xdpdrv", "pinned", a).returncode == 0
    assert xdp_state("vnet0") == (1, pinned["pass_a"])
    guest.quiet_link_up("vnet0")
    d = generated(rate=200, burst=4, seconds=0.5)
    assert d["xdp_pass"] == d["rx_packets"] == d["arp_generated"] > 0

    # Replace: refused without -force, done with it.
    r = ip_link("link", "set", "vnet0", "xdpdrv", "pinned", b)
    assert r.returncode != 0 and "already" in r.stderr.lower()
    assert xdp_state("vnet0") == (1, pinned["pass_a"])
    assert ip_link("-force", "link", "set", "vnet0", "xdpdrv", "pinned", b).returncode == 0
    assert xdp_state("vnet0") == (1, pinned["pass_b"])

    # Native and generic never both.
    r = ip_link("link", "set", "vnet0", "xdpgeneric", "pinned", a)
    assert r.returncode != 0 and "Native and generic XDP can't be active at the same time" in r.stderr

    # MTU guard, both ways, with the messages a user sees.
    r = ip_link("-d", "link", "show", "vnet0")
    assert f"maxmtu {XDP_MAX_MTU}" in r.stdout
    r = ip_link("link", "set", "vnet0", "mtu", "9000")
    assert r.returncode != 0 and "mtu greater than device maximum" in r.stderr
    assert ip_link("link", "set", "vnet0", "mtu", str(XDP_MAX_MTU)).returncode == 0

    # Detach, twice: both succeed.
    assert ip_link("link", "set", "vnet0", "xdpdrv", "off").returncode == 0
    assert ip_link("link", "set", "vnet0", "xdpdrv", "off").returncode == 0
    assert xdp_state("vnet0") == (0, 0)
    assert "maxmtu 9000" in ip_link("-d", "link", "show", "vnet0").stdout
    assert ip_link("link", "set", "vnet0", "mtu", "9000").returncode == 0
    r = ip_link("link", "set", "vnet0", "xdpdrv", "pinned", a)
    assert r.returncode != 0 and "MTU too large for XDP" in r.stderr
    assert xdp_state("vnet0") == (0, 0)
    # Jumbo frames without XDP still arrive (RX buffers follow the MTU).
    d = generated(rate=200, burst=4, seconds=0.5)
    assert d["rx_packets"] == d["arp_generated"] > 0
    guest.sh("ip", "link", "set", "vnet0", "mtu", "1500")

    # vnet-trace refuses to replace a program it did not attach, and leaves it there.
    assert ip_link("link", "set", "vnet0", "xdpdrv", "pinned", a).returncode == 0
    r = subprocess.run(["vnet-trace", "xdp", "--json", "1", "1"], capture_output=True, text=True)
    assert r.returncode == 1
    assert r.stderr.strip() == (f"vnet-trace: vnet0 already has an XDP program vnet-trace did not attach "
                                f"(id {pinned['pass_a']}): --force replaces it")
    assert xdp_state("vnet0") == (1, pinned["pass_a"])

    # A program whose only reference is its attachment (the process that attached it
    # has exited) is released when its device is deleted.
    guest.sh("ip", "link", "add", "vnet7", "type", "vnet")
    subprocess.run(["python3", "-c", ATTACH_AND_EXIT, "vnet7"], check=True)
    mode, prog = xdp_state("vnet7")
    assert mode == 1 and prog_exists(prog)
    guest.sh("ip", "link", "del", "vnet7")
    guest.wait_until(lambda: not prog_exists(prog), 10, "the program to be freed with its device")


def test_100_attach_detach_cycles_under_rx_load(vnet: Path, pinned: dict[str, int]) -> None:
    prog = str(PIN_DIR / "vnet_test_pass_a")
    guest.quiet_link_up("vnet0")
    skbs = guest.slab_active("skbuff_head_cache")
    before = guest.ethtool_stats()
    guest.set_knob("rx_burst", 8)
    guest.set_knob("rx_rate", 4000)
    try:
        for _ in range(100):
            assert ip_link("link", "set", "vnet0", "xdpdrv", "pinned", prog).returncode == 0
            assert ip_link("link", "set", "vnet0", "xdpdrv", "off").returncode == 0
    finally:
        guest.set_knob("rx_rate", 0)
    time.sleep(0.5)
    d = guest.delta(guest.ethtool_stats(), before)
    assert xdp_state("vnet0") == (0, 0)
    assert d["xdp_packets"] == d["xdp_pass"] > 0  # the program ran in between swaps
    assert d["rx_packets"] == d["arp_generated"] > d["xdp_packets"]  # no frame lost in a swap
    assert d["rx_dropped"] == d["rx_alloc_failed"] == 0
    assert guest.slab_active("skbuff_head_cache") <= skbs + 40


def test_live_screen_on_a_terminal_exits_0_on_ctrl_c_and_detaches(vnet: Path) -> None:
    guest.quiet_link_up("vnet0")
    guest.set_knob("rx_rate", 100)
    try:
        rc, out = run_in_pty(["vnet-trace", "xdp", "--drop-arp", "--live", "0.5"], b"XDP vnet0", seconds=3)
    finally:
        guest.set_knob("rx_rate", 0)
    assert rc == 0, out[-2000:]
    assert b"Traceback" not in out
    assert b"drop ARP" in out and b"xdp_drop" in out
    assert xdp_state("vnet0") == (0, 0)
