"""Views from recorded data: NDJSON validity, text layout, Rich rendering."""

import dataclasses
import json
import os

import pytest
from rich.console import Console, ConsoleDimensions

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
COST = model.CostReport(1.0, {"on_poll": model.ProgStat(50, 500_000, id=17)})
ARP = model.ArpEvent(ts_ns=5_000_000_000, ifindex=2, peer_mac="02:76:6e:65:74:02", peer_ip="10.0.0.2",
                     target_ip="10.0.0.1")


def test_every_ndjson_object_has_schema_interface_interval_and_timestamp() -> None:
    napi = dataclasses.replace(NAPI, ts=1_700_000_000.25)
    for obj in (ndjson.napi_obj("vnet0", napi, COST), ndjson.rings_obj("vnet0", dataclasses.replace(RINGS, ts=5.0)),
                ndjson.arp_obj("vnet0", ARP, wall_offset=1_700_000_000.0),
                ndjson.arp_summary_obj("vnet0", 3, 0, ts=1_700_000_001.0)):
        back = json.loads(ndjson.dumps(obj))
        assert back["schema"].startswith("vnet-trace.") and back["schema"].endswith("/2")
        assert back["interface"] == "vnet0"
        assert "interval_s" in back
        assert isinstance(back["ts"], float) and back["ts"] > 0
    # the event's CLOCK_MONOTONIC time plus the offset to the wall clock
    assert ndjson.arp_obj("vnet0", ARP, wall_offset=1_700_000_000.0)["ts"] == 1_700_000_005.0


def test_napi_json_fields() -> None:
    o = json.loads(ndjson.dumps(ndjson.napi_obj("vnet0", NAPI, COST)))
    assert (o["polls"], o["packets"], o["budget"]) == (50, 400, 64)
    assert o["work_hist"] == {"8": 50}
    assert (o["poll_ns_p50"], o["poll_ns_p99"]) == (524287, 524287)
    # bpftool's and bpftop's names, and the id `bpftool prog show id` takes
    assert o["probe_cost"] == {"run_cnt": 50, "run_time_ns": 500000, "cpu_pct": 0.05,
                               "progs": [{"name": "on_poll", "id": 17, "run_cnt": 50, "run_time_ns": 500000}]}


def test_napi_json_of_another_driver_has_no_poll_time() -> None:
    r = dataclasses.replace(NAPI, poll_ns_hist={}, poll_ns_mean=None, poll_ns_p50=None, poll_ns_p99=None, budget=None)
    o = json.loads(ndjson.dumps(ndjson.napi_obj("eth0", r)))
    assert (o["poll_ns_mean"], o["poll_ns_p50"], o["poll_ns_p99"], o["budget"]) == (None, None, None, None)
    row = text.napi_lines(r, hists=False)[0].split()
    assert row[4] == "-" and row[-3:] == ["-", "-", "-"]


def test_rings_json_fields() -> None:
    o = ndjson.rings_obj("vnet0", RINGS)
    for key in ("tx_size", "rx_size", "tx_max", "rx_max", "tx_hist", "rx_hist"):
        assert key in o
    assert o["tx_hist"] == {"8": 3, "16": 1}
    assert o["freed_hist"] == {"2": 2}


def test_arp_json_has_every_field_tcpdump_shows() -> None:
    o = ndjson.arp_obj("vnet0", ARP, 0.0)
    assert o["eth_src"] == o["sender_mac"] == "02:76:6e:65:74:02"
    assert (o["eth_dst"], o["target_mac"], o["op"], o["length"]) == ("ff:ff:ff:ff:ff:ff", "00:00:00:00:00:00",
                                                                       "request", 60)


def test_log2_hist_shows_slot_zero_inside_bccs_first_row() -> None:
    # bcc's BPF helper puts 0 and 1 in one slot, printed "0 -> 1"; ours keeps 0 apart.
    lines = text.log2_hist_lines([5, 1, 0, 2], "slots")
    assert lines[1].split()[:5] == ["0", "->", "1", ":", "6"]
    assert len(lines) == 4  # header + 3 rows: 0-1, 2-3, 4-7
    assert text.log2_hist_lines([4], "x") == [] == text.log2_hist_lines([], "x")


def test_log2_slots_round_trip() -> None:
    hist = {0: 1, 1: 2, 4: 3, 1024: 4}
    slots = model.log2_slots(hist)
    assert model.log2_sparse(slots) == hist


def test_napi_text_columns_align_with_header() -> None:
    row = text.napi_lines(NAPI, hists=False)[0]
    assert len(row) == len(text.NAPI_HEADER)
    assert row.split()[1:] == ["50.0", "400.0", "8.00", "64", "0.0", "300000", "524287", "524287"]


def test_rings_text_columns_align_with_header() -> None:
    row = text.rings_lines(RINGS, hists=False)[0]
    assert len(row) == len(text.RINGS_HEADER)
    assert row.split()[1:] == ["16", "16", "16", "8", "8", "256", "1", "1", "120", "3000", "4"]


def test_arp_line_is_tcpdump_like() -> None:
    line = text.arp_line(ARP, wall_offset=0.0)
    assert line.endswith("02:76:6e:65:74:02 > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 60: "
                         "Request who-has 10.0.0.1 tell 10.0.0.2, length 46")


def render(renderable: object, width: int = 120) -> str:
    console = Console(record=True, width=width, color_system=None, file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(renderable)
    return console.export_text()


def top(width: int, height: int, napi: model.NapiReport = NAPI, arp: int = 12) -> list[str]:
    events = [dataclasses.replace(ARP, ts_ns=ARP.ts_ns + i) for i in range(arp)]
    out = render(rviews.top_screen("vnet0", napi, RINGS, COST, events, 0.0, "tracepoint",
                                   ConsoleDimensions(width, height)), width)
    return out.rstrip("\n").split("\n")


#: A busy interval: every packets-per-poll value 0..64 and poll times over 12 log2 buckets.
BUSY = dataclasses.replace(NAPI, work_hist={v: 1 + v % 7 for v in range(65)},
                           poll_ns_hist={1 << b: 3 for b in range(8, 20)})


@pytest.mark.parametrize(("width", "height"), [(80, 24), (100, 30), (120, 40), (200, 60)])
@pytest.mark.parametrize("napi", [NAPI, BUSY], ids=["one-value", "busy"])
def test_top_fits_the_terminal(width: int, height: int, napi: model.NapiReport) -> None:
    lines = top(width, height, napi)
    assert len(lines) <= height - 1  # the cursor's line stays on the screen: nothing scrolls
    assert max(len(line) for line in lines) <= width  # nothing wraps
    assert not any("…" in line for line in lines)  # nothing is cut with an ellipsis
    screen = "\n".join(lines)
    # every section is there, the ARP requests and the probe cost included
    for must in ("rings", "NAPI", "packets per poll", "poll time", "generated ARP requests", "who-has 10.0.0.1",
                 "probe cost", "of budget 64", "BQL 120 / 3,000 B"):
        assert must in screen, must


def test_top_folds_histogram_rows_it_has_no_room_for() -> None:
    lines = top(80, 24, BUSY)
    rows = [line for line in lines if line.lstrip().startswith((">=", "<="))]
    assert rows  # folded edges are labelled, not dropped
    # every poll is still counted: the rows of the packets-per-poll histogram add up
    left = [line[:39] for line in lines[lines.index(next(x for x in lines if "packets per poll" in x)) + 1:]]
    total = 0
    for line in left:
        parts = line.split()
        if len(parts) >= 2 and parts[1].replace(",", "").isdigit():
            total += int(parts[1].replace(",", ""))
        else:
            break
    assert total == sum(BUSY.work_hist.values())


def test_top_at_132_columns_prints_arp_requests_as_tcpdump_does() -> None:
    assert any(text.arp_line(ARP, 0.0) in line for line in top(140, 40, arp=1))


def test_top_shows_the_program_ids_when_there_is_room() -> None:
    assert any("id 17" in line and "on_poll" in line for line in top(120, 40))


def test_rings_panel_shows_cost_and_freed_histogram() -> None:
    out = render(rviews.rings_panel("vnet0", RINGS, COST))
    assert "descriptors freed per TX-done run" in out and "1 programs" in out


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
    assert obj["schema"] == "vnet-trace.xdp/2" and obj["interface"] == "vnet0" and obj["interval_s"] == 2.0
    assert obj["packets"] == 42 and obj["verdicts"]["drop"] == 10
    assert obj["by_class"]["arp"] == {"aborted": 0, "drop": 10, "pass": 30, "tx": 0, "redirect": 0}
    assert obj["driver"]["xdp_packets"] == 42
    assert obj["prog"] == {"name": "vnet_xdp", "id": 0, "run_cnt": 42, "run_time_ns": 4200}


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


# ---- queue pairs ---------------------------------------------------------------

def queue(i: int) -> model.QueueRings:
    return model.QueueRings(i, xmits=10 * (i + 1), polls=5, packets=40, tx_now=i, tx_max=i + 1, tx_size=256,
                            rx_now=2 * i, rx_max=3 * i, rx_size=256, bql_inflight=100 * i, bql_limit=3000,
                            stopped=i % 2, woken=i % 2)


EIGHT = dataclasses.replace(RINGS, queues=[queue(i) for i in range(8)])


def test_fold_queues_keeps_the_first_and_adds_up_the_rest() -> None:
    folded = model.fold_queues(EIGHT.queues, 3)
    assert [q.label for q in folded] == ["0", "1", "2-7"]
    rest = EIGHT.queues[2:]
    last = folded[-1]
    assert last.xmits == sum(q.xmits for q in rest) and last.stopped == sum(q.stopped for q in rest)
    assert (last.tx_now, last.tx_size) == (sum(q.tx_now for q in rest), 6 * 256)
    assert last.rx_max == max(q.rx_max for q in rest)
    assert model.fold_queues(EIGHT.queues, 8) == EIGHT.queues
    assert [q.label for q in model.fold_queues(EIGHT.queues, 0)] == ["0-7"]


def test_queue_rings_take_each_queues_stops_and_wakes_from_the_driver() -> None:
    q = model.QueueSeen(1, xmits=3)
    iv = model.Interval(1.0, {k: 0 for k in model.COUNTERS}, [], [], [], [], [], [], [],
                        {"tx1_queue_stopped": 4, "tx1_queue_woken": 3, "tx0_queue_stopped": 9},
                        {}, model.Snapshot(0.0, {}), queues=[q])
    (r,) = model.queue_rings(iv)
    assert (r.id, r.xmits, r.stopped, r.woken) == (1, 3, 4, 3)


def test_rings_views_show_a_row_per_queue_only_with_several() -> None:
    assert len(text.rings_lines(RINGS, hists=False)) == 1
    lines = text.rings_lines(EIGHT, hists=False)
    assert len(lines) == 9 and lines[3].split()[0] == "q2"
    obj = ndjson.rings_obj("vnet0", EIGHT)
    assert [q["id"] for q in obj["queues"]] == list(range(8))
    assert obj["queues"][3]["xmits"] == 40 and obj["queues"][3]["queue_stopped"] == 1
    panel = render(rviews.rings_panel("vnet0", EIGHT, queue_rows=4))
    assert "3-7" in panel and "pkts/poll" in panel


@pytest.mark.parametrize(("width", "height"), [(80, 24), (120, 40)])
def test_top_with_eight_queues_fits_and_folds(width: int, height: int) -> None:
    napi = dataclasses.replace(NAPI, queues=[model.QueueSeen(i, polls=i) for i in range(8)])
    out = render(rviews.top_screen("vnet0", napi, EIGHT, COST, [ARP], 0.0, "tracepoint",
                                   ConsoleDimensions(width, height)), width)
    lines = out.rstrip("\n").split("\n")
    assert len(lines) <= height - 1 and max(len(line) for line in lines) <= width
    start = next(i for i, line in enumerate(lines) if line.startswith("queue"))
    end = next(i for i, line in enumerate(lines) if "NAPI" in line)
    labels = [line.split()[0] for line in lines[start + 1:end] if line[:1].isdigit()]
    assert labels[0] == "0" and labels[-1].endswith("7")  # every queue shown, some folded
    assert (len(labels) < 8) == (height < 40)
    assert "rx7:7" in out or width < 100
