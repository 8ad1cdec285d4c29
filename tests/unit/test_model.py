"""The model's arithmetic: deltas, rates, histograms, percentiles."""

from vnet_ebpf import model


def snap(t: float, counters: dict[str, int] | None = None, **kw: object) -> model.Snapshot:
    full = {name: 0 for name in model.COUNTERS}
    full.update(counters or {})
    return model.Snapshot(t, full, **kw)  # type: ignore[arg-type]


def test_interval_deltas_and_rates() -> None:
    a = snap(10.0, counters={"polls": 100, "poll_packets": 800}, work_hist=[0, 5, 0, 0, 0, 0, 0, 0, 95],
             polls_per_cpu=[60, 40], driver={"tx_queue_stopped": 3})
    b = snap(12.0, counters={"polls": 150, "poll_packets": 1200}, work_hist=[0, 5, 0, 0, 0, 0, 0, 0, 145],
             polls_per_cpu=[80, 70], driver={"tx_queue_stopped": 7})
    iv = model.interval(a, b)
    assert iv.seconds == 2.0
    assert iv.counters["polls"] == 50
    assert iv.rate("poll_packets") == 200.0
    assert iv.work_hist[8] == 50 and sum(iv.work_hist) == 50
    assert iv.polls_per_cpu == [20, 30]
    assert iv.driver == {"tx_queue_stopped": 4}


def test_napi_report() -> None:
    work = [0] * 65
    work[8], work[64] = 30, 10
    ns = [0] * 64
    ns[10] = 39  # 512..1023 ns
    ns[20] = 1  # 524288..1048575 ns
    a = snap(0.0)
    b = snap(1.0, counters={"polls": 40, "poll_packets": 880, "poll_exhausted": 10, "poll_ns": 40_000},
             work_hist=work, poll_ns_hist=ns, polls_per_cpu=[40], packets_per_cpu=[880])
    r = model.napi_report(model.interval(a, b))
    assert r.work_hist == {8: 30, 64: 10}
    assert r.polls_per_s == 40.0 and r.packets_per_s == 880.0
    assert r.exhausted_pct == 25.0
    assert r.work_mean == 22.0
    assert r.poll_ns_mean == 1000.0
    assert r.poll_ns_p50 == 1023
    # 39 of 40 polls (97.5 %) are at or under 1023 ns: p97 is there, p99 is not.
    assert model.percentile_log2(ns, 0.97) == 1023
    assert r.poll_ns_p99 == 1048575
    assert r.poll_ns_hist == {512: 39, 524288: 1}


def test_log2_buckets_match_bcc() -> None:
    assert [model.log2_bounds(s) for s in range(5)] == [(0, 0), (1, 1), (2, 3), (4, 7), (8, 15)]
    for v in (0, 1, 2, 3, 4, 7, 8, 255, 256, 4096):
        lo, hi = model.log2_bounds(model.log2_value_slot(v))
        assert lo <= v <= hi


def test_empty_histograms() -> None:
    assert model.percentile_log2([0, 0, 0], 0.5) is None
    r = model.napi_report(model.interval(snap(0.0), snap(1.0)))
    assert r.work_mean == 0.0 and r.exhausted_pct == 0.0 and r.work_hist == {}


def test_rings_report_uses_end_state() -> None:
    b = snap(1.0, counters={"xmit": 10, "tx_fills": 2, "txc_runs": 3, "txc_freed": 9, "tx_arp": 7, "tx_other": 2},
             tx_hist=[0, 0, 0, 0, 4],
             tx_now=5, tx_max=16, tx_size=16, rx_size=256, bql_inflight=600, bql_limit=3000,
             driver={"tx_queue_stopped": 2, "tx_queue_woken": 2})
    r = model.rings_report(model.interval(snap(0.0, driver={"tx_queue_stopped": 0, "tx_queue_woken": 0}), b))
    assert (r.tx_now, r.tx_max, r.tx_size, r.rx_size) == (5, 16, 16, 256)
    assert r.tx_hist == {8: 4}
    assert (r.queue_stopped, r.queue_woken, r.completions, r.completion_runs) == (2, 2, 9, 3)
    assert r.tx_proto == {"arp": 7, "ipv4": 0, "ipv6": 0, "other": 2}


def test_cost_report() -> None:
    a = snap(0.0, progs={"on_xmit": model.ProgStat(10, 1000)})
    b = snap(2.0, progs={"on_xmit": model.ProgStat(110, 21000), "on_poll": model.ProgStat(5, 500)})
    c = model.cost_report(model.interval(a, b))
    assert c.run_cnt == 105
    assert c.run_time_ns == 20500
    assert round(c.cpu_pct, 6) == round(100 * 20500 / 2e9, 6)


def test_queue_deltas_count_the_interval_and_keep_the_rings_at_its_end() -> None:
    a = [model.QueueSeen(0, xmits=10, polls=4, packets=30, tx_now=5)]
    b = [model.QueueSeen(0, xmits=15, polls=6, packets=50, tx_now=2, bql_limit=7),
         model.QueueSeen(1, xmits=3, polls=1, packets=8)]
    d = model.queue_deltas(a, b)
    assert [(q.id, q.xmits, q.polls, q.packets) for q in d] == [(0, 5, 2, 20), (1, 3, 1, 8)]
    assert (d[0].tx_now, d[0].bql_limit) == (2, 7)
    assert d[1].work_mean == 8.0


def test_a_queue_that_runs_again_counts_from_where_it_stopped() -> None:
    """The probes count every queue from attach: after ethtool -L 2, 1, 2, queue 1's
    interval is what it did in that interval, not its history."""
    a = [model.QueueSeen(0, xmits=5), model.QueueSeen(1, xmits=40, running=False)]
    b = [model.QueueSeen(0, xmits=9), model.QueueSeen(1, xmits=43)]
    assert [(q.id, q.xmits) for q in model.queue_deltas(a, b)] == [(0, 4), (1, 3)]
    assert [q.id for q in model.queue_deltas(b, a)] == [0]
