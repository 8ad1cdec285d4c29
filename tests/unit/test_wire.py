"""vnet-wire without the driver: parsing, the shaper's timing, pcap bytes, and the pump
driven over SOCK_SEQPACKET socket pairs standing in for the two /dev/vnet files (they
keep frame boundaries, poll the same way and say EAGAIN when full).

Each pair is (dev, wire): the test plays the device on `dev` (send = the device
transmitted a frame, recv = the device received one) and the pump holds `wire`.
"""

from __future__ import annotations

import errno
import io
import json
import os
import random
import select
import signal
import socket
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from vnet_ebpf import units
from vnet_ebpf.backend import Backend
from vnet_ebpf.errors import UserError
from vnet_ebpf.wire import cli, pcap
from vnet_ebpf.wire import pump as pump_mod
from vnet_ebpf.wire.pump import Counters, Pump, Shaper, Shaping, Side

# -- parsing -----------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "netns", "ifname"), [
    ("vnet0", None, "vnet0"), ("ns1/vnet0", "ns1", "vnet0"), ("a" * 15, None, "a" * 15),
])
def test_parse_side(text: str, netns: str | None, ifname: str) -> None:
    side = cli.parse_side(text)
    assert (side.netns, side.ifname) == (netns, ifname)
    assert str(side) == text


@pytest.mark.parametrize("text", ["", "ns1/", "/vnet0", "a/b/vnet0", "a" * 16, "ns1/vnet 0", "../vnet0", "vnet0:1"])
def test_parse_side_errors(text: str) -> None:
    with pytest.raises(ValueError):  # the messages are checked through the CLI
        cli.parse_side(text)


@pytest.mark.parametrize(("text", "seconds"), [
    ("10ms", 0.01), ("500us", 0.0005), ("1s", 1.0), ("1.5 s", 1.5), ("2msec", 0.002), ("0", 0.0), (".5ms", 0.0005),
])
def test_parse_duration(text: str, seconds: float) -> None:
    assert units.parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(("text", "message"), [
    ("10", "'10' has no unit: say 10ms, 10us or 10s"),
    ("10m", "'10m' is not a duration: a number and s, ms or us (1s, 10ms, 500us)"),
    ("-1ms", "'-1ms' is not a duration"),
    ("ms", "'ms' is not a duration"),
])
def test_parse_duration_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        units.parse_duration(text)


@pytest.mark.parametrize(("text", "rate"), [
    ("10M", 10e6), ("1.5G", 1.5e9), ("64k", 64e3), ("64K", 64e3), ("100kbit", 100e3), ("1000", 1000.0),
    ("10Mbit/s", 10e6),
])
def test_parse_rate(text: str, rate: float) -> None:
    assert units.parse_rate(text) == pytest.approx(rate)


@pytest.mark.parametrize(("text", "message"), [
    ("10Mbps", "is not a rate: bit/s with an optional k, M or G"),
    ("fast", "is not a rate"),
    ("0", "a rate must be above 0"),
    ("10T", "is not a rate"),
])
def test_parse_rate_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        units.parse_rate(text)


@pytest.mark.parametrize(("text", "percent"), [("5", 5.0), ("5%", 5.0), ("0.1", 0.1), ("100", 100.0), ("0", 0.0)])
def test_parse_percent(text: str, percent: float) -> None:
    assert units.parse_percent(text) == percent


@pytest.mark.parametrize(("text", "message"), [("101", "more than 100%"), ("-1", "not a percentage"),
                                               ("half", "not a percentage")])
def test_parse_percent_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        units.parse_percent(text)


def test_describe() -> None:
    assert cli.describe(Shaping()) == ""
    assert cli.describe(Shaping(delay=0.01, rate=10e6, loss=0.5)) == "delay 10ms, rate 10 Mbit/s, loss 0.5%"
    assert cli.describe(Shaping(delay=0.0005, rate=64e3)) == "delay 500us, rate 64 kbit/s"


# -- the shaper ----------------------------------------------------------------------------


def test_shaper_serializes_at_the_rate() -> None:
    s = Shaper(rate=10e6)  # a 1250-byte frame is 10000 bits: 1 ms
    assert [s.due(0.0, 1250) for _ in range(3)] == pytest.approx([0.001, 0.002, 0.003])
    # Arriving while the link is busy: it waits for the frame before it.
    assert s.due(0.0025, 1250) == pytest.approx(0.004)
    # An idle link saves up no credit: the next frame takes its full time.
    assert s.due(1.0, 125) == pytest.approx(1.0001)


def test_shaper_adds_the_delay_after_the_link() -> None:
    s = Shaper(rate=10e6, delay=0.005)
    assert [s.due(0.0, 1250) for _ in range(2)] == pytest.approx([0.006, 0.007])
    assert Shaper(delay=0.01).due(2.0, 1500) == pytest.approx(2.01)


# -- pcap ------------------------------------------------------------------------------------


def parse_pcap(data: bytes) -> tuple[tuple[int, ...], list[tuple[int, int, int, int, bytes]]]:
    """(file header, [(sec, usec, caplen, len, frame)]) in the host's order, as written."""
    header = struct.unpack_from("=IHHiIII", data)
    records, off = [], 24
    while off < len(data):
        sec, usec, cap, n = struct.unpack_from("=IIII", data, off)
        off += 16
        records.append((sec, usec, cap, n, data[off:off + cap]))
        off += cap
    return header, records


def test_pcap_bytes() -> None:
    f = io.BytesIO()
    w = pcap.PcapWriter(f)
    w.record(b"\x01" * 60, 1700000000.5)
    w.record(memoryview(b"\x02" * 1514), 1700000000.9999996)  # rounds up into the next second
    w.flush()
    header, records = parse_pcap(f.getvalue())
    assert header == (0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)
    assert records == [(1700000000, 500000, 60, 60, b"\x01" * 60),
                       (1700000001, 0, 1514, 1514, b"\x02" * 1514)]


def test_pcap_cannot_create(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"^cannot write .*/no/such/dir/w\.pcap: No such file or directory$"):
        pcap.PcapWriter.create(str(tmp_path / "no/such/dir/w.pcap"))


# -- the pump --------------------------------------------------------------------------------


def seqpacket() -> tuple[socket.socket, socket.socket]:
    return socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)


@dataclass
class Rig:
    """Two devices, each a (dev, wire) pair: the pump gets the wire ends."""

    dev_a: socket.socket
    wire_a: socket.socket
    dev_b: socket.socket
    wire_b: socket.socket

    @property
    def a(self) -> Side:
        return Side(self.wire_a.fileno(), "ns1/vnet0")

    @property
    def b(self) -> Side:
        return Side(self.wire_b.fileno(), "ns2/vnet1")

    def close(self) -> None:
        for s in (self.dev_a, self.wire_a, self.dev_b, self.wire_b):
            s.close()


@pytest.fixture
def rig() -> Iterator[Rig]:
    r = Rig(*seqpacket(), *seqpacket())
    for s in (r.dev_a, r.dev_b):
        s.setblocking(False)
    yield r
    r.close()


def frame(i: int, size: int = 60) -> bytes:
    return i.to_bytes(4, "big") + bytes(size - 4)


def received(dev: socket.socket) -> list[bytes]:
    """Every frame waiting on DEV."""
    out = []
    while True:
        try:
            out.append(dev.recv(70000))
        except BlockingIOError:
            return out


def readable(s: socket.socket) -> bool:
    p = select.poll()
    p.register(s, select.POLLIN)
    return bool(p.poll(0))


def test_frames_cross_once_each_in_order(rig: Rig) -> None:
    p = Pump(rig.a, rig.b)
    for i in range(100):
        rig.dev_a.send(frame(i))
    for i in range(50):
        rig.dev_b.send(frame(1000 + i, 1514))
    p.round(1.0)
    assert received(rig.dev_b) == [frame(i) for i in range(100)]
    assert received(rig.dev_a) == [frame(1000 + i, 1514) for i in range(50)]
    assert p.counters == (Counters(frames=100, bytes=6000), Counters(frames=50, bytes=50 * 1514))
    p.round(0)  # nothing more crosses
    assert received(rig.dev_a) == received(rig.dev_b) == []


def test_a_round_reads_at_most_a_batch_per_side(rig: Rig) -> None:
    p = Pump(rig.a, rig.b, batch=8)
    for i in range(20):
        rig.dev_a.send(frame(i))
    p.round(0)
    assert len(received(rig.dev_b)) == 8
    p.round(0)
    p.round(0)
    assert len(received(rig.dev_b)) == 12
    assert p.counters[0].frames == 20


def test_a_busy_side_does_not_starve_the_other(rig: Rig) -> None:
    p = Pump(rig.a, rig.b, batch=8)
    for i in range(20):
        rig.dev_a.send(frame(i))
        rig.dev_b.send(frame(i))
    p.round(0)
    assert [c.frames for c in p.counters] == [8, 8]


def test_a_full_side_stops_that_direction_and_it_resumes(rig: Rig) -> None:
    rig.wire_b.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1)  # B's "RX ring" holds a few frames
    p = Pump(rig.a, rig.b)
    for i in range(40):
        rig.dev_a.send(frame(i, 100))
    rig.dev_b.send(frame(900))  # the other direction is not held up
    p.round(0)
    first = p.counters[0].frames
    assert 0 < first < 39
    assert p.counters[1].frames == 1
    # The refused frame is kept and A is no longer read: the rest waits in A's "TX ring".
    assert readable(rig.wire_a)
    p.round(0)
    assert p.counters[0].frames == first
    assert readable(rig.wire_a)
    got = received(rig.dev_b)
    for _ in range(40):  # B drains its ring; POLLOUT lets the wire go on
        p.round(0)
        got += received(rig.dev_b)
    assert got == [frame(i, 100) for i in range(40)]
    assert received(rig.dev_a) == [frame(900)]
    assert p.counters[0] == Counters(frames=40, bytes=4000)


def test_write_errors_drop_one_frame_and_go_on(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = os.write

    def write(fd: int, data: bytes | memoryview) -> int:
        if fd == rig.wire_b.fileno() and bytes(data[:4]) in (frame(3)[:4], frame(5)[:4]):
            raise OSError(errno.ENETDOWN, os.strerror(errno.ENETDOWN))
        return real_write(fd, data)

    monkeypatch.setattr("os.write", write)  # the pump looks it up at each batch
    p = Pump(rig.a, rig.b)
    for i in range(8):
        rig.dev_a.send(frame(i))
    p.round(0)
    assert received(rig.dev_b) == [frame(i) for i in (0, 1, 2, 4, 6, 7)]
    assert p.counters[0] == Counters(frames=6, bytes=360, dropped_write=2)


def test_other_write_errors_are_one_line(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    def write(fd: int, data: bytes | memoryview) -> int:
        raise OSError(errno.ENXIO, os.strerror(errno.ENXIO))

    monkeypatch.setattr("os.write", write)  # the pump looks it up at each batch
    p = Pump(rig.a, rig.b)
    rig.dev_a.send(frame(0))
    with pytest.raises(UserError, match=r"^ns2/vnet1 was deleted$"):
        p.round(0)


def test_a_hung_up_side_ends_the_run(rig: Rig) -> None:
    p = Pump(rig.a, rig.b)
    rig.dev_a.close()
    with pytest.raises(UserError, match=r"^ns1/vnet0 was closed$"):
        p.round(0)


def test_seeded_loss_drops_the_expected_frames(rig: Rig) -> None:
    p = Pump(rig.a, rig.b, shaping=Shaping(loss=30, seed=7))
    for i in range(200):
        rig.dev_a.send(frame(i))
    p.round(0)
    rng = random.Random(pump_mod.direction_seed(7, 0))
    kept = [i for i in range(200) if not rng.random() < 0.3]
    assert received(rig.dev_b) == [frame(i) for i in kept]
    c = p.counters[0]
    assert (c.frames, c.dropped_loss) == (len(kept), 200 - len(kept))
    assert 40 < c.dropped_loss < 80


def test_loss_100_drops_everything(rig: Rig) -> None:
    p = Pump(rig.a, rig.b, shaping=Shaping(loss=100))
    for i in range(10):
        rig.dev_a.send(frame(i))
    p.round(0)
    assert received(rig.dev_b) == []
    assert p.counters[0] == Counters(dropped_loss=10)


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_shaped_frames_are_delivered_when_due(rig: Rig) -> None:
    clock = FakeClock()
    p = Pump(rig.a, rig.b, shaping=Shaping(rate=10e6, delay=0.005), clock=clock)
    for i in range(3):
        rig.dev_a.send(frame(i, 1250))  # 1 ms each at 10 Mbit/s
    p.round(0)
    assert received(rig.dev_b) == []
    due = []
    for t in (0.0059, 0.0061, 0.0071, 0.0079, 0.0081):
        clock.t = t
        p.round(0)
        due.append(len(received(rig.dev_b)))
    assert due == [0, 1, 1, 0, 1]
    assert p.counters[0] == Counters(frames=3, bytes=3750)


def test_a_full_queue_stops_reading(rig: Rig) -> None:
    clock = FakeClock()
    p = Pump(rig.a, rig.b, shaping=Shaping(delay=1.0), queue_limit=5, clock=clock)
    for i in range(8):
        rig.dev_a.send(frame(i))
    p.round(0)
    p.round(0)
    assert received(rig.dev_b) == []
    assert readable(rig.wire_a)  # 3 frames left in A's "TX ring", not dropped
    clock.t = 1.0
    p.round(0)  # delivers 5
    assert received(rig.dev_b) == [frame(i) for i in range(5)]
    p.round(0)  # reads the last 3, due at 2.0
    clock.t = 2.0
    p.round(0)
    assert received(rig.dev_b) == [frame(i) for i in range(5, 8)]
    assert p.counters[0] == Counters(frames=8, bytes=480)


@pytest.mark.parametrize("shaping", [Shaping(), Shaping(delay=0.001)])
def test_run_stops_at_count(rig: Rig, shaping: Shaping) -> None:
    p = Pump(rig.a, rig.b, shaping=shaping)
    for i in range(10):
        rig.dev_a.send(frame(i))
    p.run(count=4)
    assert p.counters[0] == Counters(frames=4, bytes=240)
    assert len(received(rig.dev_b)) == 4
    assert readable(rig.wire_a)  # the rest was never read


def test_run_stops_after_seconds(rig: Rig) -> None:
    p = Pump(rig.a, rig.b)
    p.run(seconds=0.05)
    assert 0.04 < p.seconds < 1


def test_run_stops_when_the_stop_fd_is_readable(rig: Rig) -> None:
    r, w = os.pipe()
    try:
        p = Pump(rig.a, rig.b, stop_fd=r)
        rig.dev_a.send(frame(1))
        os.write(w, b"\0")
        p.run()
        assert p.stopped
    finally:
        os.close(r)
        os.close(w)


def test_pump_writes_the_pcap(rig: Rig) -> None:
    f = io.BytesIO()
    w = pcap.PcapWriter(f)
    p = Pump(rig.a, rig.b, pcap=w, wall=lambda: 1700000000.25)
    rig.dev_a.send(frame(1))
    rig.dev_b.send(frame(2, 100))
    p.round(0)
    assert not w.dirty  # flushed every round
    _, records = parse_pcap(f.getvalue())
    assert records == [(1700000000, 250000, 60, 60, frame(1)), (1700000000, 250000, 100, 100, frame(2, 100))]


def test_the_same_fd_twice_is_refused(rig: Rig) -> None:
    with pytest.raises(ValueError, match="different"):
        Pump(rig.a, rig.a)


# -- reports ---------------------------------------------------------------------------------


def test_json_report() -> None:
    rows = [("ns1/vnet0", "ns2/vnet1", Counters(1, 60, 2, 3, 4)), ("ns2/vnet1", "ns1/vnet0", Counters())]
    obj = cli.report_obj(1.23456, rows)
    assert obj == {"schema": "vnet-wire/1", "seconds": 1.235, "directions": [
        {"from": "ns1/vnet0", "to": "ns2/vnet1", "frames": 1, "bytes": 60, "dropped_loss": 2, "dropped_write": 3,
         "queued": 4},
        {"from": "ns2/vnet1", "to": "ns1/vnet0", "frames": 0, "bytes": 0, "dropped_loss": 0, "dropped_write": 0,
         "queued": 0},
    ]}
    assert json.loads(json.dumps(obj)) == obj


def test_table_report() -> None:
    lines = cli.report_lines(2.0, [("a", "b", Counters(10, 600)), ("b", "a", Counters(5, 300, 1))])
    assert lines[0].split() == ["DIRECTION", "FRAMES", "BYTES", "DROPPED_LOSS", "DROPPED_WRITE", "QUEUED"]
    assert lines[1].split() == ["a", "->", "b", "10", "600", "0", "0", "0"]
    assert lines[2].split() == ["b", "->", "a", "5", "300", "1", "0", "0"]
    assert lines[3] == "in 2.000 s"


# -- the command line --------------------------------------------------------------------------


@pytest.fixture
def fake_devices(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> Rig:
    """open_in_netns hands out the rig's wire ends: A is ns1/vnet0, B is ns2/vnet1."""
    ends = {"ns1/vnet0": rig.wire_a, "ns2/vnet1": rig.wire_b}

    def fake_open(netns: str | None, ifname: str, path: str = "", nonblock: bool = True) -> Backend:
        name = f"{netns}/{ifname}" if netns else ifname
        if name not in ends:
            raise UserError(f"no such device: {name}")
        b = Backend(os.dup(ends[name].fileno()), name)
        b.ifindex = 1
        return b

    monkeypatch.setattr(cli, "open_in_netns", fake_open)
    monkeypatch.setattr(cli, "LinkEnd", QuietEnd)
    return rig


class QuietEnd:
    """A LinkEnd (wire/link.py) without netlink, whose device never changes state."""

    def __init__(self, netns: str | None, ifindex: int, name: str) -> None:
        self.fd, self._w = os.pipe()
        self.up = True

    def set_carrier(self, on: bool) -> None:
        pass

    def changed(self) -> bool:
        return False

    def close(self) -> None:
        os.close(self.fd)
        os.close(self._w)


def test_cli_carries_frames_and_prints_the_table(fake_devices: Rig) -> None:
    for i in range(3):
        fake_devices.dev_a.send(frame(i))
    result = CliRunner().invoke(cli.main, ["ns1/vnet0", "ns2/vnet1", "--count", "3"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Wiring ns1/vnet0 <-> ns2/vnet1... Hit Ctrl-C to end."
    assert lines[2].split() == ["ns1/vnet0", "->", "ns2/vnet1", "3", "180", "0", "0", "0"]
    assert received(fake_devices.dev_b) == [frame(i) for i in range(3)]


def test_cli_json_and_pcap(fake_devices: Rig, tmp_path: Path) -> None:
    fake_devices.dev_a.send(frame(1))
    fake_devices.dev_b.send(frame(2, 1514))
    out = tmp_path / "w.pcap"
    result = CliRunner().invoke(cli.main, ["ns1/vnet0", "ns2/vnet1", "--count", "2", "--json", "--pcap", str(out)])
    assert result.exit_code == 0, result.output
    obj = json.loads(result.output)
    assert obj["schema"] == "vnet-wire/1"
    assert [(d["from"], d["to"], d["frames"], d["bytes"]) for d in obj["directions"]] == [
        ("ns1/vnet0", "ns2/vnet1", 1, 60), ("ns2/vnet1", "ns1/vnet0", 1, 1514)]
    header, records = parse_pcap(out.read_bytes())
    assert header[0] == 0xA1B2C3D4 and header[6] == 1
    assert sorted(r[3] for r in records) == [60, 1514]


def test_cli_sigterm_is_a_normal_end(fake_devices: Rig) -> None:
    fake_devices.dev_a.send(frame(1))

    def term_once_running() -> None:
        # A frame crossing means the pump runs, so the handlers are in place.
        select.select([fake_devices.dev_b], [], [], 5)
        os.kill(os.getpid(), signal.SIGTERM)

    before = signal.getsignal(signal.SIGTERM)
    t = threading.Thread(target=term_once_running)
    t.start()
    result = CliRunner().invoke(cli.main, ["ns1/vnet0", "ns2/vnet1", "--json"])
    t.join()
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["directions"][0]["frames"] == 1
    assert signal.getsignal(signal.SIGTERM) == before  # put back


def test_cli_device_gone_is_one_line_after_the_counters(fake_devices: Rig) -> None:
    fake_devices.dev_a.send(frame(1))
    fake_devices.dev_a.close()
    result = CliRunner().invoke(cli.main, ["ns1/vnet0", "ns2/vnet1", "--json"])
    assert result.exit_code == 1
    out, err = result.output.splitlines()
    assert json.loads(out)["directions"][0]["frames"] == 1
    assert err == "vnet-wire: ns1/vnet0 was closed"


def test_cli_unknown_device(fake_devices: Rig) -> None:
    result = CliRunner().invoke(cli.main, ["ns1/vnet0", "vnet9"])
    assert result.exit_code == 1
    assert result.output == "vnet-wire: no such device: vnet9\n"


@pytest.mark.parametrize(("args", "message"), [
    (["vnet0", "vnet0"], "A and B are the same device (vnet0)"),
    (["vnet0", "vnet1", "--rate", "10Mbps"], "Invalid value for '--rate': '10Mbps' is not a rate"),
    (["vnet0", "vnet1", "--delay", "5"], "Invalid value for '--delay': '5' has no unit"),
    (["vnet0", "vnet1", "--loss", "200"], "Invalid value for '--loss': '200' is more than 100%"),
    (["a/b/vnet0", "vnet1"], "Invalid value for 'A': 'a/b/vnet0' is not DEV or NETNS/DEV"),
    (["vnet0"], "Missing argument 'B'"),
])
def test_cli_usage_errors(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli.main, args)
    assert result.exit_code == 2
    assert message in result.output


def test_cli_help() -> None:
    result = CliRunner().invoke(cli.main, ["--help"])
    assert result.exit_code == 0
    assert "NETNS/DEV" in result.output and "examples:" in result.output


def test_scripts_entry() -> None:
    text = (Path(__file__).parents[2] / "pyproject.toml").read_text()
    assert 'vnet-wire = "vnet_ebpf.entry:wire"' in text


# -- the cable: carrier following the far end (vnet_ebpf/wire/link.py) --------------------

from vnet_ebpf.wire import link  # noqa: E402


def nlmsg(mtype: int, seq: int, body: bytes) -> bytes:
    raw = link.NLMSGHDR.pack(link.NLMSGHDR.size + len(body), mtype, 0, seq, 0) + body
    return raw + bytes(-len(raw) % 4)


def test_netlink_messages_are_split_on_their_aligned_lengths() -> None:
    a = nlmsg(link.RTM_NEWLINK, 0, link.IFINFOMSG.pack(0, 1, 7, link.IFF_UP, 0) + b"\x05\x00\x21\x00\x01")
    b = nlmsg(link.NLMSG_ERROR, 3, struct.pack("=i", 0))
    got = link.messages(a + b)
    assert [(t, s) for t, s, _ in got] == [(link.RTM_NEWLINK, 0), (link.NLMSG_ERROR, 3)]
    assert link.IFINFOMSG.unpack_from(got[0][2])[2:4] == (7, link.IFF_UP)
    # A truncated message, or a length below the header's own, ends the walk, not a crash.
    assert link.messages(a[:10]) == link.messages(a[:-4]) == []
    assert link.messages(struct.pack("=IHHII", 4, 16, 0, 0, 0)) == []


class FakeEnd:
    """A LinkEnd without netlink: whether it is up, and the carriers set on it."""

    def __init__(self, fd: int, up: bool) -> None:
        self.fd, self.up, self.pending = fd, up, up
        self.carrier: list[bool] = []

    def changed(self) -> bool:
        was, self.up = self.up, self.pending
        return was != self.up

    def set_carrier(self, on: bool) -> None:
        self.carrier.append(on)


def test_each_carrier_follows_the_other_ends_admin_state() -> None:
    a, b = FakeEnd(3, True), FakeEnd(4, False)
    cable = link.Cable(a, b)  # type: ignore[arg-type]
    cable.sync()
    assert (a.carrier, b.carrier) == ([False], [True])
    b.pending = True
    cable.on_event(4)
    assert a.carrier == [False, True]
    cable.on_event(4)  # an event that does not change IFF_UP (a carrier change) sets nothing
    a.pending = False
    cable.on_event(3)
    assert (a.carrier, b.carrier) == ([False, True], [True, False])


class FakeSock:
    """The events socket of a LinkEnd: recv() gives these, then EAGAIN."""

    def __init__(self, items: list[bytes | OSError]) -> None:
        self.items = items

    def recv(self, size: int) -> bytes:
        if not self.items:
            raise BlockingIOError(errno.EAGAIN, "again")
        item = self.items.pop(0)
        if isinstance(item, OSError):
            raise item
        return item


def link_event(index: int, up: bool) -> bytes:
    return nlmsg(link.RTM_NEWLINK, 0, link.IFINFOMSG.pack(0, 1, index, link.IFF_UP if up else 0, 0))


def test_lost_events_are_dropped_and_the_state_asked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    end = link.LinkEnd.__new__(link.LinkEnd)
    end.ifindex, end.name, end.up = 7, "ns/vnet0", True
    # ENOBUFS, then an older event saying "down": the fresh answer (up) wins.
    end.events = FakeSock([OSError(errno.ENOBUFS, "No buffer space"), link_event(7, False)])  # type: ignore[assignment]
    monkeypatch.setattr(end, "query_up", lambda: True)
    assert end.changed() is False and end.up is True
    # Events of other devices change nothing; ours does.
    end.events = FakeSock([link_event(8, False), link_event(7, False)])  # type: ignore[assignment]
    assert end.changed() is True and end.up is False
    end.events = FakeSock([OSError(errno.EBADF, "Bad file descriptor")])
    with pytest.raises(UserError, match="rtnetlink events of ns/vnet0: Bad file descriptor"):
        end.changed()
