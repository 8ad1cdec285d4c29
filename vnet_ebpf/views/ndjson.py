"""One JSON object per line (NDJSON), each with a schema name.  docs/json.md documents them."""

from __future__ import annotations

import json
from typing import Any

from vnet_ebpf.model import XDP_CLASSES, ArpEvent, CostReport, NapiReport, RingsReport, XdpReport


def _keys(d: dict[int, int]) -> dict[str, int]:
    return {str(k): v for k, v in sorted(d.items())}


def cost_obj(c: CostReport) -> dict[str, Any]:
    return {"runs": c.run_cnt, "run_time_ns": c.run_time_ns, "cpu_pct": round(c.cpu_pct, 4)}


def napi_obj(iface: str, r: NapiReport, cost: CostReport | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "schema": "vnet-trace.napi/1",
        "interface": iface,
        "interval_s": round(r.interval_s, 6),
        "polls": r.polls,
        "packets": r.packets,
        "budget": r.budget,
        "budget_exhausted": r.exhausted,
        "over_budget": r.over_budget,
        "work_hist": _keys(r.work_hist),
        "poll_ns_hist": _keys(r.poll_ns_hist),
        "poll_ns_mean": round(r.poll_ns_mean, 1),
        "polls_per_cpu": _keys(r.polls_per_cpu),
        "packets_per_cpu": _keys(r.packets_per_cpu),
    }
    if cost is not None:
        obj["probe_cost"] = cost_obj(cost)
    return obj


def rings_obj(iface: str, r: RingsReport, cost: CostReport | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "schema": "vnet-trace.rings/1",
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
        "tx_proto": dict(r.tx_proto),
    }
    if cost is not None:
        obj["probe_cost"] = cost_obj(cost)
    return obj


def arp_obj(iface: str, ev: ArpEvent) -> dict[str, Any]:
    return {
        "schema": "vnet-trace.arp/1",
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


def arp_summary_obj(iface: str, events: int, lost: int) -> dict[str, Any]:
    return {"schema": "vnet-trace.arp-summary/1", "interface": iface, "interval_s": None,
            "events": events, "lost": lost}


def xdp_obj(iface: str, program: dict[str, Any], r: XdpReport, schema: str = "vnet-trace.xdp/1") -> dict[str, Any]:
    """One interval (or, with the summary schema, everything since attach) of `vnet-trace xdp`."""
    return {
        "schema": schema,
        "interface": iface,
        "interval_s": round(r.interval_s, 6),
        "program": program,
        "packets": r.packets,
        "verdicts": r.by_action(),
        "by_class": {c: {a: n for (cc, a), n in r.verdicts.items() if cc == c} for c in XDP_CLASSES},
        "driver": dict(r.driver),
        "prog_runs": r.prog.run_cnt,
        "prog_run_time_ns": r.prog.run_time_ns,
    }


def dumps(obj: dict[str, Any]) -> str:
    return json.dumps(obj, separators=(",", ":"), sort_keys=False)
