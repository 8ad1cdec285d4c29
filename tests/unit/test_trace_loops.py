"""vnet-trace's command loops driven by a fake tracer: intervals, counts, Ctrl-C at each
phase, what reaches stdout, and that the probes are always detached.

The fake stands in for BCC and the kernel only; everything between the command line
and the tracer's snapshots (the interval loop, the model, the views) is the real code.
The tracer itself is tested in the guest against the kernel (tests/vm).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner

from vnet_ebpf import model
from vnet_ebpf.errors import UserError
from vnet_ebpf.probes import bccglue, device, emulation
from vnet_ebpf.probes import napi as napi_mod
from vnet_ebpf.probes import tracer as tracer_mod
from vnet_ebpf.trace import cli, session
from vnet_ebpf.views import text

ROW = re.compile(r"^\d\d:\d\d:\d\d ")


class FakeTracer:
    """Snapshots whose counters grow by STEP per read: each interval sees STEP polls of
    4 packets, with budget 64.  RAISE_ON_ENTER / STOP_AT model Ctrl-C during the
    compile and during the loop."""

    made: ClassVar[list[FakeTracer]] = []
    raise_on_enter: type[BaseException] | None = None
    stop_at: int | None = None  # the read that a Ctrl-C arrives after
    step = 10

    def __init__(self, dev: device.Device, *args: Any, **kwargs: Any) -> None:
        self.dev = dev
        self.kind = "tracepoint"
        self.reads = 0
        self.closed = False
        self.entered = False
        FakeTracer.made.append(self)

    def __enter__(self) -> FakeTracer:
        if self.raise_on_enter is not None:
            raise self.raise_on_enter()
        self.entered = True
        return self

    def close(self) -> None:
        self.closed = True

    def alive(self) -> bool:
        return True

    def snapshot(self) -> model.Snapshot:
        n = self.reads * self.step
        self.reads += 1
        if self.stop_at is not None and self.reads >= self.stop_at:
            session.STOP.set()  # what the SIGINT handler does
        counters = dict.fromkeys(model.COUNTERS, 0)
        counters.update(polls=n, poll_packets=4 * n, poll_ns=1000 * n, xmit=n, txc_runs=n, txc_freed=n)
        work = [0] * 257
        work[4] = n
        ns = [0] * 64
        ns[10] = n  # 512..1023 ns
        return model.Snapshot(t=float(self.reads), wall=1_700_000_000.0 + self.reads, counters=counters,
                              polls_per_cpu=[n, 0], packets_per_cpu=[4 * n, 0], work_hist=work, poll_ns_hist=ns,
                              tx_hist=[0, n] + [0] * 14, rx_hist=[0] * 16, freed_hist=[0, n] + [0] * 14,
                              budget=64 if n else 0,
                              progs={"tp_napi_poll": model.ProgStat(n, 100 * n, id=7)})

    def open_arp(self, cb: Any) -> None:
        pass

    def poll_arp(self, timeout_ms: int) -> None:
        pass


@pytest.fixture(autouse=True)
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[FakeTracer]]:
    """Root, BCC and the device as the commands expect them, and the fake tracer."""
    import signal

    FakeTracer.made = []
    FakeTracer.raise_on_enter = None
    FakeTracer.stop_at = None
    session.STOP.clear()
    driver = {"vnet0": "vnet", "eth0": "virtio_net"}
    real_resolve = device.resolve

    def resolve(name: str, any_driver: bool = False, command: str = "") -> device.Device:
        if name not in driver:  # a real device of this machine
            return real_resolve(name, any_driver, command)
        dev = device.Device(name, 3, driver[name])
        if not dev.is_vnet and not any_driver:
            raise UserError(f"{name} is not vnet ({command})")
        return dev

    monkeypatch.setattr(bccglue, "require_root", lambda: None)
    monkeypatch.setattr(bccglue, "import_bcc", lambda: None)
    monkeypatch.setattr(device, "resolve", resolve)
    monkeypatch.setattr(emulation, "warning", lambda: None)
    monkeypatch.setattr(tracer_mod, "Tracer", FakeTracer)
    monkeypatch.setattr(tracer_mod, "probe_kind", lambda wanted: "tracepoint")
    monkeypatch.setattr(napi_mod, "NapiTracer", FakeTracer)
    old = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    yield FakeTracer
    signal.signal(signal.SIGINT, old[0])
    signal.signal(signal.SIGTERM, old[1])
    session.STOP.clear()


def run(*args: str) -> Any:
    return CliRunner().invoke(cli.main, list(args))


def test_napi_json_prints_count_objects_from_the_snapshots(fake: type[FakeTracer]) -> None:
    result = run("napi", "--json", "0.1", "3")
    assert result.exit_code == 0, result.output
    objs = [json.loads(line) for line in result.output.splitlines()]
    assert len(objs) == 3
    for i, o in enumerate(objs, start=2):
        assert o["schema"] == "vnet-trace.napi/2"
        assert o["ts"] == 1_700_000_000.0 + i  # the wall clock of the read that ends the interval
        assert (o["polls"], o["packets"], o["budget"]) == (10, 40, 64)
        assert o["work_hist"] == {"4": 10}
        assert (o["poll_ns_p50"], o["poll_ns_p99"]) == (1023, 1023)
        assert o["probe_cost"]["progs"] == [{"name": "tp_napi_poll", "id": 7, "run_cnt": 10, "run_time_ns": 1000}]
    assert fake.made[0].closed


def test_napi_text_prints_a_header_and_one_row_per_interval() -> None:
    result = run("napi", "0.1", "2")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Tracing NAPI polls of vnet0... Hit Ctrl-C to end."
    assert lines[1] == text.NAPI_HEADER
    rows = [line for line in lines if ROW.match(line)]
    assert len(rows) == 2
    assert rows[0].split()[1:] == ["10.0", "40.0", "4.00", "64", "0.0", "1000", "1023", "1023"]
    assert sum(line.startswith("probe cost:") for line in lines) == 2


def test_napi_on_another_driver_uses_the_napi_poll_tracepoint(fake: type[FakeTracer]) -> None:
    result = run("napi", "-i", "eth0", "--json", "0.1", "1")
    assert result.exit_code == 0, result.output
    assert fake.made[0].dev.driver == "virtio_net"


def test_napi_on_another_driver_refuses_vnet_probes() -> None:
    result = run("napi", "-i", "eth0", "--probes", "kprobe", "0.1", "1")
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1
    assert "napi:napi_poll tracepoint" in result.output


@pytest.mark.parametrize("cmd", ["rings", "top", "arp", "xdp"])
def test_vnet_views_on_another_driver_are_one_line(cmd: str) -> None:
    result = run(cmd, "-i", "eth0")
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [f"vnet-trace: eth0 is not vnet ({cmd})"]


def test_rings_text_prints_the_probe_cost() -> None:
    result = run("rings", "0.1", "2")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert sum(bool(ROW.match(line)) for line in lines) == 2
    assert sum(line.startswith("probe cost:") and "prog ids 7" in line for line in lines) == 2
    assert any("TX freed/run" in line for line in lines)


@pytest.mark.parametrize("args", [["napi"], ["napi", "--json"], ["rings"], ["rings", "--live"], ["top"], ["arp"]])
def test_ctrl_c_during_the_compile_is_one_line_and_status_130(fake: type[FakeTracer], args: list[str]) -> None:
    fake.raise_on_enter = KeyboardInterrupt
    result = run(*args)
    assert result.exit_code == 130
    assert result.output.strip().splitlines()[-1] == "vnet-trace: interrupted"
    assert "Traceback" not in result.output and "didn't yield" not in result.output
    assert fake.made[0].closed  # whatever BCC had loaded is freed


@pytest.mark.parametrize("args", [["napi", "0.1"], ["napi", "--json", "0.1"], ["rings", "0.1"],
                                  ["rings", "--live", "0.1"], ["top", "0.1"]])
def test_ctrl_c_while_tracing_ends_cleanly_after_the_intervals_so_far(fake: type[FakeTracer],
                                                                      args: list[str]) -> None:
    fake.stop_at = 3  # the first read, then two intervals; Ctrl-C lands during the third
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert fake.made[0].reads == 3
    assert fake.made[0].closed
    if "--json" in args:
        assert len(result.output.splitlines()) == 2
    elif args[0] != "top" and "--live" not in args:
        assert sum(bool(ROW.match(line)) for line in result.output.splitlines()) == 2


def test_count_zero_runs_until_interrupted(fake: type[FakeTracer]) -> None:
    fake.stop_at = 6
    result = run("napi", "--json", "0.1", "0")
    assert result.exit_code == 0
    assert len(result.output.splitlines()) == 5


def test_top_draws_once_per_interval(fake: type[FakeTracer], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("LINES", "24")
    result = run("top", "0.1", "2")
    assert result.exit_code == 0, result.output
    assert "vnet-trace top  vnet0" in result.output
    assert "4.00/poll of budget 64" in result.output


@pytest.mark.parametrize(("alias", "mode"), [("skb", "generic"), ("xdpgeneric", "generic"), ("drv", "native"),
                                             ("xdpdrv", "native"), ("native", "native"), ("generic", "generic")])
def test_xdp_mode_takes_xdp_loader_and_iproute2_names(alias: str, mode: str) -> None:
    assert cli.XDP_MODES[alias] == mode
    assert run("xdp", "--mode", alias, "--help").exit_code == 0


@pytest.mark.parametrize("cmd", ["napi", "rings", "top", "xdp", "queues"])
def test_interval_commands_explain_interval_and_count_and_end_with_examples(cmd: str) -> None:
    out = run(cmd, "--help").output
    flat = " ".join(out.split())  # click wraps the paragraph
    assert "INTERVAL is the seconds between reports" in flat
    assert "COUNT is how many reports to print" in flat
    tail = out.rstrip().splitlines()
    assert "examples:" in out
    assert tail[-1].lstrip().startswith("vnet-trace ")


def test_queues_reads_a_real_device_without_root_or_bpf() -> None:
    """`queues` needs no fake: lo exists everywhere (its totals come from sysfs)."""
    result = run("queues", "-i", "lo", "--json", "0.1", "2")
    assert result.exit_code == 0, result.output
    objs = [json.loads(line) for line in result.output.splitlines()]
    assert [o["schema"] for o in objs] == ["vnet-trace.queues/1"] * 2
    assert all(o["source"] in ("qstats", "sysfs") and o["queues"] for o in objs)


def test_live_screens_redraw_per_report_not_on_a_timer() -> None:
    """Rich's Live redraws 4 times a second by default: for data that changes once an
    interval that is three wasted redraws (and flicker over a serial console)."""
    screen = cli.live_screen()
    assert screen.auto_refresh is False
