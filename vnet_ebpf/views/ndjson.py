"""One JSON object per line (NDJSON), each with a schema name.  docs/json.md documents them.

Every object carries ``ts``, the wall-clock time (Unix seconds) it describes, so that a
series lines up with other logs; the BPF programs' cost is named as bpftool and bpftop
name it (``run_cnt``, ``run_time_ns``) and each program comes with its kernel id.
"""

from __future__ import annotations

import json
from typing import Any

from vnet_ebpf.model import (
    XDP_CLASSES,
    ArpEvent,
    CostReport,
    NapiReport,
    ProgStat,
    QueueRings,
    QueuesReport,
    RingsReport,
    XdpReport,
)
from vnet_ebpf.regs import Regs


def _keys(d: dict[int, int]) -> dict[str, int]:
    return {str(k): v for k, v in sorted(d.items())}


def _ts(t: float) -> float | None:
    return round(t, 6) if t else None


def prog_obj(name: str, p: ProgStat) -> dict[str, Any]:
    return {"name": name, "id": p.id, "run_cnt": p.run_cnt, "run_time_ns": p.run_time_ns}


def cost_obj(c: CostReport) -> dict[str, Any]:
    """What our BPF programs cost in the interval: totals, then each program
    (id: `bpftool prog show id ID` shows the same program)."""
    return {"run_cnt": c.run_cnt, "run_time_ns": c.run_time_ns, "cpu_pct": round(c.cpu_pct, 4),
            "progs": [prog_obj(name, p) for name, p in sorted(c.progs.items())]}


def napi_obj(iface: str, r: NapiReport, cost: CostReport | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "schema": "vnet-trace.napi/2",
        "ts": _ts(r.ts),
        "interface": iface,
        "interval_s": round(r.interval_s, 6),
        "polls": r.polls,
        "packets": r.packets,
        "budget": r.budget,
        "budget_exhausted": r.exhausted,
        "over_budget": r.over_budget,
        "work_hist": _keys(r.work_hist),
        "poll_ns_hist": _keys(r.poll_ns_hist),
        "poll_ns_mean": None if r.poll_ns_mean is None else round(r.poll_ns_mean, 1),
        "poll_ns_p50": r.poll_ns_p50,
        "poll_ns_p99": r.poll_ns_p99,
        "polls_per_cpu": _keys(r.polls_per_cpu),
        "packets_per_cpu": _keys(r.packets_per_cpu),
        "queues": [{"id": q.id, "polls": q.polls, "packets": q.packets} for q in r.queues],
    }
    if cost is not None:
        obj["probe_cost"] = cost_obj(cost)
    return obj


def rings_obj(iface: str, r: RingsReport, cost: CostReport | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "schema": "vnet-trace.rings/2",
        "ts": _ts(r.ts),
        "interface": iface,
        "interval_s": round(r.interval_s, 6),
        "tx_size": r.tx_size,
        "rx_size": r.rx_size,
        "tx_now": r.tx_now,
        "rx_now": r.rx_now,
        "tx_max": r.tx_max,
        "rx_max": r.rx_max,
        "tx_hist": _keys(r.tx_hist),
        "rx_hist": _keys(r.rx_hist),
        "xmits": r.xmits,
        "polls": r.polls,
        "tx_ring_fills": r.tx_fills,
        "queue_stopped": r.queue_stopped,
        "queue_woken": r.queue_woken,
        "bql_inflight": r.bql_inflight,
        "bql_limit": r.bql_limit,
        "completion_runs": r.completion_runs,
        "completions": r.completions,
        "freed_hist": _keys(r.freed_hist),
        "tx_proto": dict(r.tx_proto),
        "queues": [queue_rings_obj(q) for q in r.queues],
    }
    if cost is not None:
        obj["probe_cost"] = cost_obj(cost)
    return obj


def queue_rings_obj(q: QueueRings) -> dict[str, Any]:
    return {"id": q.id, "tx_now": q.tx_now, "tx_max": q.tx_max, "tx_size": q.tx_size,
            "rx_now": q.rx_now, "rx_max": q.rx_max, "rx_size": q.rx_size, "xmits": q.xmits,
            "polls": q.polls, "packets": q.packets, "queue_stopped": q.stopped,
            "queue_woken": q.woken, "bql_inflight": q.bql_inflight, "bql_limit": q.bql_limit}


def arp_obj(iface: str, ev: ArpEvent, wall_offset: float) -> dict[str, Any]:
    """WALL_OFFSET: time.time() - time.monotonic(), to turn the event's ts_ns into ts."""
    return {
        "schema": "vnet-trace.arp/2",
        "ts": _ts(ev.ts_ns / 1e9 + wall_offset),
        "interface": iface,
        "interval_s": None,
        "ts_ns": ev.ts_ns,
        "eth_src": ev.peer_mac,
        "eth_dst": "ff:ff:ff:ff:ff:ff",
        "op": "request",
        "sender_mac": ev.peer_mac,
        "sender_ip": ev.peer_ip,
        "target_mac": "00:00:00:00:00:00",
        "target_ip": ev.target_ip,
        "length": 60,
    }


def arp_summary_obj(iface: str, events: int, lost: int, ts: float) -> dict[str, Any]:
    return {"schema": "vnet-trace.arp-summary/2", "ts": _ts(ts), "interface": iface, "interval_s": None,
            "events": events, "lost": lost}


def xdp_obj(iface: str, program: dict[str, Any], r: XdpReport, schema: str = "vnet-trace.xdp/2") -> dict[str, Any]:
    """One interval (or, with the summary schema, everything since attach) of `vnet-trace xdp`."""
    return {
        "schema": schema,
        "ts": _ts(r.ts),
        "interface": iface,
        "interval_s": round(r.interval_s, 6),
        "program": program,
        "packets": r.packets,
        "verdicts": r.by_action(),
        "by_class": {c: {a: n for (cc, a), n in r.verdicts.items() if cc == c} for c in XDP_CLASSES},
        "driver": dict(r.driver),
        "prog": prog_obj("vnet_xdp", r.prog),
    }


def queues_obj(iface: str, r: QueuesReport) -> dict[str, Any]:
    """One interval of `vnet-trace queues`: each queue's counter deltas, BQL of TX queues."""
    queues = []
    for q in r.queues:
        o: dict[str, Any] = {"type": q.kind, "id": q.id, "counters": dict(q.counters)}
        if q.kind == "tx" and q.id in r.bql:
            o["bql_inflight"], o["bql_limit"] = r.bql[q.id]
        queues.append(o)
    return {"schema": "vnet-trace.queues/1", "ts": _ts(r.ts), "interface": iface,
            "interval_s": round(r.interval_s, 6), "source": r.source, "queues": queues,
            "bql": {str(k): {"inflight": v[0], "limit": v[1]} for k, v in sorted(r.bql.items())}}


def regs_obj(iface: str, r: Regs, ts: float) -> dict[str, Any]:
    """`vnet-trace regs --json`: the register dump, each register by name, decoded."""
    return {"schema": "vnet-trace.regs/1", "ts": _ts(ts), "interface": iface, "interval_s": None, "version": r.version,
            "registers": dict(r.words), "irq": r.irq, "hardware": r.hardware,
            "tx": r.ring("tx"), "rx": r.ring("rx")}


def dumps(obj: dict[str, Any]) -> str:
    return json.dumps(obj, separators=(",", ":"), sort_keys=False)
