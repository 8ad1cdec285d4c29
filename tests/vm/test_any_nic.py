"""vnet-trace on a driver that is not ours: the lab guest's virtio-net NIC (QEMU user
networking restricted to the guest; slirp answers ICMP echo at 10.0.2.2).

`napi -i eth0` against the kernel's napi:napi_poll tracepoint (bpftrace) and netlink
qstats (the kernel's ynl); `queues -i eth0` against ynl; the vnet-only views refuse
it in one line.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.vm import guest
from tests.vm.test_trace import Trace
from vnet_ebpf.lab.witnesses import NapiWitness

LAN = os.environ.get("VNET_LAB_LAN", "")
GATEWAY = "10.0.2.2"

pytestmark = pytest.mark.skipif(not LAN, reason="no lab LAN NIC (VNET_LAB_LAN)")
needs_qstats = pytest.mark.skipif(not guest.kernel_at_least(6, 10), reason="virtio_net has qstats from 6.10")


def ifindex() -> int:
    return int(Path(f"/sys/class/net/{LAN}/ifindex").read_text())


def qstats() -> dict[tuple[str, int], dict[str, int]]:
    """(queue type, id) -> counters, per queue, as the kernel's ynl reads them."""
    found: list[dict[str, Any]] = guest.ynl("netdev", "qstats-get", {"ifindex": ifindex(), "scope": "queue"},
                                          dump=True) or []
    return {(q["queue-type"], q["queue-id"]): {k: v for k, v in q.items()
                                               if k not in ("ifindex", "queue-type", "queue-id")} for q in found}


def ping(count: int, interval: float = 0.02) -> None:
    subprocess.run(["ping", "-q", "-n", "-c", str(count), "-i", str(interval), "-W", "2", GATEWAY],
                   check=True, capture_output=True)


@pytest.fixture(scope="module", autouse=True)
def quiet_lan() -> None:
    """The gateway's neighbour entry made permanent: otherwise the kernel re-confirms it
    with an ARP probe and reply 5 s after a stale entry is used, traffic that would land
    just outside a witness's window."""
    if not LAN:
        return
    ping(1)
    (entry,) = json.loads(guest.sh("ip", "-j", "neigh", "show", GATEWAY, "dev", LAN))
    guest.sh("ip", "neigh", "replace", GATEWAY, "lladdr", entry["lladdr"], "dev", LAN, "nud", "permanent")


def test_the_lan_is_a_virtio_net_nic_that_reaches_only_the_slirp_gateway() -> None:
    assert Path(f"/sys/class/net/{LAN}/device/driver").resolve().name == "virtio_net"
    ping(2)
    unreachable = subprocess.run(["ping", "-c", "1", "-W", "2", "1.1.1.1"], capture_output=True, check=False)
    assert unreachable.returncode != 0  # restricted: no route out of the guest


@pytest.mark.smoke
def test_napi_on_virtio_net_agrees_with_the_tracepoint_and_qstats() -> None:
    ping(1)  # the gateway's ARP entry, before counting
    trace = Trace("napi", "-i", LAN, "--json", "1")
    try:
        trace.wait_lines(1)  # compiled, attached, one interval reported
        with NapiWitness(LAN, poll=None) as witness:
            before = qstats() if guest.kernel_at_least(6, 10) else {}
            ping(100, 0.01)
            time.sleep(0.5)  # the last replies and TX completions get polled
            after = qstats() if guest.kernel_at_least(6, 10) else {}
            tp_work, over = witness.stop()
        seen = len(trace.lines)
        trace.wait_lines(seen + 2)
    finally:
        rc, err = trace.stop()
    assert rc == 0, err
    objs = trace.objects()
    assert all(o["schema"] == "vnet-trace.napi/2" and o["interface"] == LAN for o in objs)
    work: Counter[int] = Counter()
    for o in objs:
        work.update({int(k): v for k, v in o["work_hist"].items()})
    # The kernel's tracepoint saw exactly the polls we counted: RX and TX NAPIs alike.
    assert work == tp_work and sum(tp_work.values()) > 0
    assert over == 0 and sum(o["over_budget"] for o in objs) == 0
    assert {o["budget"] for o in objs if o["polls"]} == {witness.budget} == {64}
    # No poll time from the tracepoint: shown as absent, not as 0.
    assert all(o["poll_ns_mean"] is None and o["poll_ns_p99"] is None for o in objs)
    if before:
        # Every packet the RX NAPIs delivered is one virtio_net counted (TX polls do no work).
        rx = sum(after[k].get("rx-packets", 0) - before.get(k, {}).get("rx-packets", 0)
                 for k in after if k[0] == "rx")
        assert sum(o["packets"] for o in objs) == rx >= 100


@needs_qstats
def test_queues_on_virtio_net_agree_with_ynl_exactly() -> None:
    ping(1)
    before = qstats()
    trace = Trace("queues", "-i", LAN, "--json", "0.5")
    try:
        trace.wait_lines(1)
        ping(50, 0.01)
        time.sleep(0.5)
        seen = len(trace.lines)
        trace.wait_lines(seen + 1)
    finally:
        rc, err = trace.stop()
    after = qstats()
    assert rc == 0, err
    objs = trace.objects()
    assert all(o["schema"] == "vnet-trace.queues/1" and o["source"] == "qstats" for o in objs)
    ours: Counter[tuple[str, int, str]] = Counter()
    for o in objs:
        for q in o["queues"]:
            ours.update({(q["type"], q["id"], k): v for k, v in q["counters"].items()})
    theirs = Counter({(t, i, k): v - before.get((t, i), {}).get(k, 0)
                      for (t, i), counters in after.items() for k, v in counters.items()})
    assert +ours == +theirs  # every counter of every queue, exactly (zeros aside)
    assert ours[("rx", 0, "rx-packets")] >= 50 and ours[("tx", 0, "tx-packets")] >= 50
    # BQL of each TX queue, as sysfs has it at the end
    last = objs[-1]
    for q in last["queues"]:
        if q["type"] == "tx":
            limit = int(Path(f"/sys/class/net/{LAN}/queues/tx-{q['id']}/byte_queue_limits/limit").read_text())
            assert q["bql_limit"] == limit


@pytest.mark.parametrize("cmd", ["rings", "top", "arp"])
def test_vnet_views_say_in_one_line_that_they_need_vnet(cmd: str) -> None:
    proc = subprocess.run(["vnet-trace", cmd, "-i", LAN], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        f"vnet-trace: {LAN} is not a vnet device (driver: virtio_net): `vnet-trace {cmd}` needs one "
        "(`vnet-trace napi` and `vnet-trace queues` work on any device)"]


def test_queues_json_is_one_object_per_interval() -> None:
    proc = subprocess.run(["vnet-trace", "queues", "-i", LAN, "--json", "0.2", "3"], capture_output=True, text=True,
                          timeout=60, check=True)
    objs = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(objs) == 3 and all(o["interface"] == LAN and o["ts"] > 0 for o in objs)
