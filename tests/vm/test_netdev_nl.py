"""The netdev netlink interfaces current drivers implement, each on the kernels that
have it (docs/kernels.md), checked against the kernel's own answers through its
`ynl` CLI and against ethtool -S and ip -s link, exactly.

Skipped where the running kernel predates the interface: 6.1 has no netdev
netlink family at all.
"""

from __future__ import annotations

import ctypes
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.vm import guest
from tests.vm.test_rx import generate
from vnet_ebpf.probes import bpfstats

# Every test here is in the smoke set: each kernel has its own set of these interfaces.
pytestmark = pytest.mark.smoke

needs_netdev_nl = pytest.mark.skipif(not guest.kernel_at_least(6, 3), reason="netdev netlink family is 6.3+")
needs_queue_napi = pytest.mark.skipif(not guest.kernel_at_least(6, 8), reason="queue/NAPI netlink is 6.8+")
needs_qstats = pytest.mark.skipif(not guest.kernel_at_least(6, 9), reason="qstats are 6.9+")
needs_napi_config = pytest.mark.skipif(not guest.kernel_at_least(6, 13), reason="netif_napi_add_config is 6.13+")

TRACING = Path("/sys/kernel/tracing")
PIN_DIR = Path("/sys/fs/bpf")
XDP_PROGS = """
int vnet_t_drop(struct xdp_md *ctx) { return XDP_DROP; }
int vnet_t_tx(struct xdp_md *ctx) { return XDP_TX; }
int vnet_t_pass(struct xdp_md *ctx) { return XDP_PASS; }
"""


def ifindex(dev: str = "vnet0") -> int:
    return int(Path(f"/sys/class/net/{dev}/ifindex").read_text())


def napis(dev: str = "vnet0") -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = guest.ynl("netdev", "napi-get", {"ifindex": ifindex(dev)}, dump=True) or []
    return result


def queues(dev: str = "vnet0") -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = guest.ynl("netdev", "queue-get", {"ifindex": ifindex(dev)}, dump=True) or []
    return result


def pools(dev: str = "vnet0") -> list[dict[str, Any]]:
    every: list[dict[str, Any]] = guest.ynl("netdev", "page-pool-get", dump=True) or []
    return [p for p in every if p.get("ifindex") == ifindex(dev)]


def qstats(dev: str = "vnet0", scope: str | None = None) -> list[dict[str, Any]]:
    attrs: dict[str, object] = {"ifindex": ifindex(dev)}
    if scope:
        attrs["scope"] = scope
    result: list[dict[str, Any]] = guest.ynl("netdev", "qstats-get", attrs, dump=True) or []
    return result


@pytest.fixture(scope="module")
def xdp_progs() -> Iterator[dict[str, Path]]:
    """XDP_DROP, XDP_TX and XDP_PASS programs compiled by BCC and pinned, for `ip link`."""
    from bcc import BPF

    b = BPF(text=XDP_PROGS)
    paths = {}
    for verdict in ("drop", "tx", "pass"):
        fd = int(b.load_func(f"vnet_t_{verdict}", BPF.XDP).fd)
        path = PIN_DIR / f"vnet_t_{verdict}"
        path.unlink(missing_ok=True)
        raw = ctypes.create_string_buffer(str(path).encode())
        bpfstats.bpf_cmd(6, ctypes.create_string_buffer(struct.pack("QI", ctypes.addressof(raw), fd), 16))
        paths[verdict] = path
    yield paths
    for path in paths.values():
        path.unlink(missing_ok=True)
    b.cleanup()


def attach(prog: Path | None, dev: str = "vnet0") -> None:
    if prog is None:
        guest.sh("ip", "link", "set", "dev", dev, "xdpdrv", "off")
    else:
        guest.sh("ip", "link", "set", "dev", dev, "xdpdrv", "pinned", str(prog))


@needs_netdev_nl
def test_xdp_features_in_dev_get(vnet: Path) -> None:
    dev = guest.ynl("netdev", "dev-get", {"ifindex": ifindex()})
    assert dev["ifindex"] == ifindex()
    assert set(dev["xdp-features"]) == {"basic", "redirect", "ndo-xmit"}


@needs_queue_napi
def test_queues_link_to_the_napi_while_up_and_not_after_down(vnet: Path) -> None:
    guest.quiet_link_up("vnet0")
    (napi,) = napis()
    assert napi["ifindex"] == ifindex()
    qs = {(q["type"], q["id"]): q for q in queues()}
    assert set(qs) == {("rx", 0), ("tx", 0)}
    # The RX queue is the one the NAPI poll serves.
    assert qs["rx", 0]["napi-id"] == napi["id"]
    # Same count as sysfs, as the kernel's queues.py checks.
    assert len([q for q in qs if q[0] == "rx"]) == len(list(vnet.glob("queues/rx-*")))

    guest.sh("ip", "link", "set", "vnet0", "down")
    assert napis() == []
    assert all("napi-id" not in q for q in queues())

    guest.sh("ip", "link", "set", "vnet0", "up")
    (again,) = napis()
    assert {(q["type"], q.get("napi-id")) for q in queues()} >= {("rx", again["id"])}


@needs_napi_config
def test_napi_settings_survive_down_up(vnet: Path) -> None:
    guest.quiet_link_up("vnet0")
    (napi,) = napis()
    guest.ynl("netdev", "napi-set", {"id": napi["id"], "defer-hard-irqs": 7, "gro-flush-timeout": 20000})
    guest.sh("ip", "link", "set", "vnet0", "down")
    guest.sh("ip", "link", "set", "vnet0", "up")
    (after,) = napis()
    assert after["id"] == napi["id"]
    assert after["defer-hard-irqs"] == 7
    assert after["gro-flush-timeout"] == 20000


def _traffic() -> None:
    """Frames both ways, with the TX queue stopping and waking on a small ring."""
    guest.sh("tc", "qdisc", "replace", "dev", "vnet0", "root", "pfifo", "limit", "1000")
    guest.sh("ethtool", "-G", "vnet0", "tx", "16")
    guest.sh("ethtool", "-C", "vnet0", "tx-usecs", "20000")
    Path("/sys/class/net/vnet0/queues/tx-0/byte_queue_limits/limit_min").write_text("1000000\n")
    guest.send_frames("vnet0", 60)
    generate(rate=400, burst=8, seconds=1)
    guest.wait_until(guest.tx_idle, timeout=60, what="the TX ring to drain")


def _all_counters() -> tuple[dict[str, int], dict[str, int], dict[str, dict[str, int]], list[dict[str, Any]]]:
    """qstats (device scope), ethtool -S, ip -s link and qstats per queue, read back to back
    while nothing moves."""
    (dev,) = qstats()
    return dev, guest.ethtool_stats(), guest.ip_stats(), qstats(scope="queue")


@needs_qstats
def test_qstats_equal_ethtool_and_rtnetlink_exactly(vnet: Path) -> None:
    guest.quiet_link_up("vnet0")
    _traffic()
    dev, eth, ip, per_queue = _all_counters()

    assert dev["rx-packets"] == eth["rx_packets"] == ip["rx"]["packets"] > 0
    assert dev["rx-bytes"] == eth["rx_bytes"] == ip["rx"]["bytes"]
    assert dev["tx-packets"] == eth["tx_packets"] == ip["tx"]["packets"] == 60
    assert dev["tx-bytes"] == eth["tx_bytes"] == ip["tx"]["bytes"]
    assert dev["rx-alloc-fail"] == eth["rx_alloc_failed"]
    assert dev["rx-hw-drops"] == eth["rx_ring_full"] == ip["rx"]["missed_errors"]
    if guest.kernel_at_least(6, 10):
        assert dev["tx-stop"] == eth["tx_queue_stopped"] > 0
        assert dev["tx-wake"] == eth["tx_queue_woken"] == dev["tx-stop"]
    # One queue pair: queue 0 carries the device's whole history.
    by_q = {(q["queue-type"], q["queue-id"]): q for q in per_queue}
    assert set(by_q) == {("rx", 0), ("tx", 0)}
    assert by_q["rx", 0]["rx-packets"] == dev["rx-packets"]
    assert by_q["tx", 0]["tx-packets"] == dev["tx-packets"]
    assert by_q["tx", 0]["tx-bytes"] == dev["tx-bytes"]


@needs_qstats
def test_qstats_never_go_backwards(vnet: Path, xdp_progs: dict[str, Path]) -> None:
    guest.quiet_link_up("vnet0")
    _traffic()
    keys = ["rx-packets", "rx-bytes", "tx-packets", "tx-bytes", "rx-alloc-fail"]
    if guest.kernel_at_least(6, 10):
        keys += ["tx-stop", "tx-wake"]
    (last,) = qstats()
    steps: dict[str, list[list[str]]] = {
        "down/up": [["ip", "link", "set", "vnet0", "down"], ["ip", "link", "set", "vnet0", "up"]],
        "ring resize": [["ethtool", "-G", "vnet0", "rx", "64", "tx", "64"]],
        "XDP attach": [["ip", "link", "set", "dev", "vnet0", "xdpdrv", "pinned", str(xdp_progs["pass"])]],
        "XDP detach": [["ip", "link", "set", "dev", "vnet0", "xdpdrv", "off"]],
    }
    for what, cmds in steps.items():
        for cmd in cmds:
            guest.sh(*cmd)
        generate(rate=400, burst=8, seconds=0.3)
        (now,) = qstats()
        eth = guest.ethtool_stats()
        for k in keys:
            assert now[k] >= last[k], f"{k} went back after {what}: {last[k]} -> {now[k]}"
        assert now["rx-packets"] == eth["rx_packets"]
        last = now


class PagePoolHolds:
    """Counts pages page pools take from the page allocator, with the kernel's own
    page_pool:page_pool_state_hold tracepoint (one event per page)."""

    event = TRACING / "events/page_pool/page_pool_state_hold/enable"

    def __enter__(self) -> PagePoolHolds:
        (TRACING / "trace").write_text("")
        self.event.write_text("1\n")
        return self

    def count(self) -> int:
        text = (TRACING / "trace").read_text()
        return sum(1 for line in text.splitlines() if "page_pool_state_hold:" in line)

    def __exit__(self, *exc: object) -> None:
        self.event.write_text("0\n")
        (TRACING / "trace").write_text("")


@pytest.mark.parametrize("verdict", [None, "drop", "tx"])
def test_rx_buffers_are_recycled_not_allocated_per_frame(vnet: Path, xdp_progs: dict[str, Path],
                                                         verdict: str | None) -> None:
    """Frames up the stack (skbs), XDP_DROP and XDP_TX: the refill of each slot takes
    its page back from the ring's page pool instead of from the page allocator."""
    guest.quiet_link_up("vnet0")
    if verdict:
        attach(xdp_progs[verdict])
    before = guest.ethtool_stats()
    with PagePoolHolds() as holds:
        generate(rate=2000, burst=16, seconds=1.5)
        guest.wait_until(guest.tx_idle, timeout=30, what="XDP_TX frames to complete")
        taken = holds.count()
    d = guest.delta(guest.ethtool_stats(), before)
    frames = d["arp_generated"]
    assert frames >= 1000
    if verdict == "drop":
        assert d["xdp_drop"] == frames
    elif verdict == "tx":
        assert d["xdp_tx"] == frames and d["xdp_tx_errors"] == 0
    else:
        assert d["rx_packets"] == frames
    # At most one bulk refill (64 pages) from the allocator, for over 1000 frames.
    assert taken <= 64, f"{taken} pages allocated for {frames} frames"
    if verdict:
        attach(None)


@needs_queue_napi
def test_page_pool_reported_with_device_and_napi(vnet: Path) -> None:
    guest.quiet_link_up("vnet0")
    (napi,) = napis()
    (pool,) = pools()
    assert pool["napi-id"] == napi["id"]
    # Idle: the only pages out of the pool are the RX ring's, one per slot.
    ring = int(guest.sh("ethtool", "-g", "vnet0").split("Current hardware settings:")[1].split("RX:")[1].split()[0])
    assert pool["inflight"] == ring
    guest.sh("ethtool", "-G", "vnet0", "rx", "64")
    (pool,) = pools()
    assert pool["inflight"] == 64
    guest.sh("ip", "link", "set", "vnet0", "down")
    assert pools() == []


@needs_queue_napi
@pytest.mark.skipif(not guest.kernel_config("CONFIG_PAGE_POOL_STATS"), reason="kernel without CONFIG_PAGE_POOL_STATS")
def test_page_pool_stats_count_the_recycling(vnet: Path) -> None:
    guest.quiet_link_up("vnet0")

    def stats() -> dict[str, Any]:
        every = guest.ynl("netdev", "page-pool-stats-get", dump=True) or []
        (mine,) = [s for s in every if s["info"].get("ifindex") == ifindex()]
        return dict(mine)

    before, eth_before = stats(), guest.ethtool_stats()
    generate(rate=2000, burst=16, seconds=1.5)
    after = stats()
    d = guest.delta(guest.ethtool_stats(), eth_before)
    recycled = sum(after[k] - before[k] for k in ("recycle-cached", "recycle-ring"))
    # Every frame's page came back to the pool when the stack freed its skb ...
    assert recycled == d["rx_packets"] > 1000
    # ... and the refills were served from the pool's cache.
    assert after["alloc-fast"] - before["alloc-fast"] >= d["rx_packets"] - 64
