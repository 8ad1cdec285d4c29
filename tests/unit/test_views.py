"""Views from recorded data: NDJSON validity, text layout, Rich rendering."""

import json

from rich.console import Console

from vnet_ebpf import model
from vnet_ebpf.views import ndjson, text
from vnet_ebpf.views import rich as rviews

NAPI = model.NapiReport(
    interval_s=1.0, polls=50, packets=400, budget=64, exhausted=0, over_budget=0,
    work_hist={8: 50}, poll_ns_hist={262144: 50}, poll_ns_mean=300000.0, poll_ns_p50=524287,
    poll_ns_p99=524287, polls_per_cpu={0: 50}, packets_per_cpu={0: 400},
)
RINGS = model.RingsReport(
    interval_s=1.0, tx_size=16, rx_size=256, tx_now=16, rx_now=8, tx_max=16, rx_max=8,
    tx_hist={8: 3, 16: 1}, rx_hist={8: 50}, xmits=4, polls=50, tx_fills=1, queue_stopped=1,
    queue_woken=1, bql_inflight=120, bql_limit=3000, completion_runs=2, completions=4, freed_hist={2: 2},
)
COST = model.CostReport(1.0, {"on_poll": model.ProgStat(50, 500_000)})
ARP = model.ArpEvent(ts_ns=5_000_000_000, ifindex=2, peer_mac="02:76:6e:65:74:02", peer_ip="10.0.0.2",
                     target_ip="10.0.0.1")


def test_ndjson_objects_are_single_line_valid_json_with_schema() -> None:
    for obj in (ndjson.napi_obj("vnet0", NAPI, COST), ndjson.rings_obj("vnet0", RINGS),
                ndjson.arp_obj("vnet0", ARP), ndjson.arp_summary_obj("vnet0", 3, 0)):
        line = ndjson.dumps(obj)
        assert "\n" not in line
        back = json.loads(line)
        assert back["schema"].startswith("vnet-trace.")
        assert back["interface"] == "vnet0"
        assert "interval_s" in back


def test_napi_json_fields() -> None:
    o = json.loads(ndjson.dumps(ndjson.napi_obj("vnet0", NAPI, COST)))
    assert (o["polls"], o["packets"], o["budget"]) == (50, 400, 64)
    assert o["work_hist"] == {"8": 50}
    assert o["probe_cost"] == {"runs": 50, "run_time_ns": 500000, "cpu_pct": 0.05}


def test_rings_json_fields() -> None:
    o = ndjson.rings_obj("vnet0", RINGS)
    for key in ("tx_size", "rx_size", "tx_max", "rx_max", "tx_hist", "rx_hist"):
        assert key in o
    assert o["tx_hist"] == {"8": 3, "16": 1}


def test_arp_json_has_every_field_tcpdump_shows() -> None:
    o = ndjson.arp_obj("vnet0", ARP)
    assert o["eth_src"] == o["sender_mac"] == "02:76:6e:65:74:02"
    assert (o["eth_dst"], o["target_mac"], o["op"], o["length"]) == ("ff:ff:ff:ff:ff:ff", "00:00:00:00:00:00",
                                                                       "request", 60)


def test_hist_lines_like_bcc() -> None:
    lines = text.hist_lines("work", text.linear_rows({7: 1, 8: 4}))
    assert lines[0] == "work : count     distribution"
    assert lines[1] == "   7 : 1         |**********                              |"
    assert lines[2] == "   8 : 4         |****************************************|"
    assert text.log2_rows({4: 2, 16: 1}) == [("4 -> 7", 2), ("8 -> 15", 0), ("16 -> 31", 1)]


def test_napi_text_columns_align_with_header() -> None:
    row = text.napi_lines(NAPI, hists=False)[0]
    assert len(row) == len(text.NAPI_HEADER)
    assert row.split()[1:] == ["50.0", "400.0", "8.00", "64", "0.0", "300000", "524287"]


def test_rings_text_columns_align_with_header() -> None:
    row = text.rings_lines(RINGS, hists=False)[0]
    assert len(row) == len(text.RINGS_HEADER)
    assert row.split()[1:] == ["16", "16", "16", "8", "8", "256", "1", "1", "120", "3000", "4"]


def test_arp_line_is_tcpdump_like() -> None:
    line = text.arp_line(ARP, wall_offset=0.0)
    assert line.endswith("02:76:6e:65:74:02 > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 60: "
                         "Request who-has 10.0.0.1 tell 10.0.0.2, length 46")


def render(renderable: object) -> str:
    console = Console(record=True, width=120, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_rich_panels_render_the_figures() -> None:
    out = render(rviews.top_screen("vnet0", NAPI, RINGS, COST, [text.arp_line(ARP, 0.0)]))
    assert "NAPI vnet0" in out and "rings vnet0" in out
    assert "8.00 of budget 64" in out
    assert "1 / 1" in out  # queue stops / wakes
    assert "120 / 3,000 bytes" in out
    assert "who-has 10.0.0.1" in out
    assert "0.050 % of one CPU" in out


def test_cost_panel_without_stats() -> None:
    assert "unavailable" in render(rviews.cost_panel(model.CostReport(1.0, {})))


def _xdp_pair() -> tuple[model.XdpSnapshot, model.XdpSnapshot]:
    a = model.XdpSnapshot(t=10.0, verdicts={}, driver={"xdp_packets": 100, "xdp_drop": 7, "rx_packets": 5})
    b = model.XdpSnapshot(t=12.0, verdicts={("arp", "pass"): 30, ("arp", "drop"): 10, ("ipv4", "tx"): 2},
                          driver={"xdp_packets": 142, "xdp_drop": 17, "rx_packets": 35},
                          prog=model.ProgStat(run_cnt=42, run_time_ns=4200))
    return a, b


def test_xdp_report_arithmetic() -> None:
    r = model.xdp_report(*_xdp_pair())
    assert r.packets == 42 and r.packets_per_s == 21.0
    assert r.by_action() == {"aborted": 0, "drop": 10, "pass": 30, "tx": 2, "redirect": 0}
    assert r.by_class() == {"arp": 40, "ipv4": 2, "ipv6": 0, "other": 0}
    assert r.driver == {"xdp_packets": 42, "xdp_drop": 10}  # only the XDP counters
    assert r.ns_per_run == 100.0


def test_xdp_json_fields() -> None:
    r = model.xdp_report(*_xdp_pair())
    obj = json.loads(ndjson.dumps(ndjson.xdp_obj("vnet0", {"mode": "native"}, r)))
    assert obj["schema"] == "vnet-trace.xdp/1" and obj["interface"] == "vnet0" and obj["interval_s"] == 2.0
    assert obj["packets"] == 42 and obj["verdicts"]["drop"] == 10
    assert obj["by_class"]["arp"] == {"aborted": 0, "drop": 10, "pass": 30, "tx": 0, "redirect": 0}
    assert obj["driver"]["xdp_packets"] == 42 and obj["prog_runs"] == 42


def test_xdp_text_columns_align_with_header() -> None:
    line = text.xdp_line(model.xdp_report(*_xdp_pair()))
    assert len(line.split()) == len(text.XDP_HEADER.split())
    assert line.split()[1:7] == ["21.0", "0", "10", "30", "2", "0"]


def test_xdp_panel_renders_interval_and_totals() -> None:
    a, b = _xdp_pair()
    console = Console(record=True, width=120)
    console.print(rviews.xdp_panel("vnet0", "native XDP on vnet0: every frame: XDP_PASS",
                                   model.xdp_report(a, b), model.xdp_report(a, b)))
    out = console.export_text()
    assert "XDP vnet0" in out and "every frame: XDP_PASS" in out
    assert "30 (30)" in out and "10 (10)" in out
    assert "xdp_packets" in out and "42" in out
