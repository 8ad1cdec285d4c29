"""ethtool -G/-C round trips (netdevsim style), and bad input rejected without effect."""

from __future__ import annotations

import json
import random
import re
import struct
import subprocess
import time
from pathlib import Path
from typing import Any, cast

import pytest

from tests.vm import guest


def rings() -> dict[str, int]:
    """Current ring sizes as `ethtool -g` prints them."""
    current = guest.sh("ethtool", "-g", "vnet0").split("Current hardware settings:")[1]
    return {k.lower(): int(v) for k, v in re.findall(r"^(RX|TX):\s+(\d+)", current, re.M)}


def tx_usecs() -> int:
    m = re.search(r"^tx-usecs:\s+(\d+)", guest.sh("ethtool", "-c", "vnet0"), re.M)
    assert m
    return int(m.group(1))


def _channel_counts(text: str) -> dict[str, int]:
    # ethtool prints "n/a" where a maximum is 0 on some versions: count it as 0.
    return {k.lower(): int(v) if v.isdigit() else 0
            for k, v in re.findall(r"^(RX|TX|Other|Combined):\s+(\S+)", text, re.M)}


def channels(dev: str = "vnet0") -> dict[str, dict[str, int]]:
    """`ethtool -l` as printed: {"max": {"rx": 0, ..., "combined": 1}, "current": {...}}."""
    maxima, current = guest.sh("ethtool", "-l", dev).split("Pre-set maximums:")[1].split("Current hardware settings:")
    return {"max": _channel_counts(maxima), "current": _channel_counts(current)}


def fails(*argv: str) -> str:
    r = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert r.returncode != 0, f"{argv} succeeded"
    return r.stderr


@pytest.mark.parametrize("up", [False, True])
def test_random_round_trips(vnet: Path, up: bool) -> None:
    rng = random.Random(1234 + up)
    if up:
        guest.quiet_link_up("vnet0")
        guest.set_knob("rx_rate", 2000)
    want = {"rx": 256, "tx": 256}
    usecs = 20
    for _ in range(25):
        if rng.random() < 0.6:
            field = rng.choice(["rx", "tx"])
            want[field] = 2 ** rng.randint(4, 12)
            guest.sh("ethtool", "-G", "vnet0", field, str(want[field]))
        else:
            usecs = rng.randint(0, 1000)
            guest.sh("ethtool", "-C", "vnet0", "tx-usecs", str(usecs))
        # Every field, after every change: changing one must not disturb another.
        assert rings() == want
        assert tx_usecs() == usecs
        if up:
            guest.send_frames("vnet0", 20)
    guest.set_knob("rx_rate", 0)
    if up:
        guest.wait_until(guest.tx_idle, what="TX completions")


def test_invalid_ring_and_coalesce_values_change_nothing(vnet: Path) -> None:
    guest.sh("ethtool", "-G", "vnet0", "rx", "512", "tx", "64")
    guest.sh("ethtool", "-C", "vnet0", "tx-usecs", "77")
    assert "powers of two" in fails("ethtool", "-G", "vnet0", "tx", "100")
    fails("ethtool", "-G", "vnet0", "rx", "8")
    fails("ethtool", "-G", "vnet0", "tx", "8192")  # above the maximum: the core refuses
    fails("ethtool", "-G", "vnet0", "rx", "0")
    assert "at most" in fails("ethtool", "-C", "vnet0", "tx-usecs", "1000001")
    fails("ethtool", "-C", "vnet0", "tx-frames", "5")  # not a supported parameter
    fails("ethtool", "-C", "vnet0", "rx-usecs", "1000001")
    assert rings() == {"rx": 512, "tx": 64}
    assert tx_usecs() == 77


@pytest.mark.smoke
def test_channels_are_the_queue_pairs_and_nothing_else_is_accepted(vnet: Path) -> None:
    """ethtool -l shows the device's queue pairs as combined channels (queues=2 by
    default, one running), as sysfs counts its queues; beyond the maximum, to zero, or
    separate RX or TX channels are refused, and nothing changes (tests/vm/test_queues.py
    moves the count)."""
    queues = sorted(p.name for p in Path("/sys/class/net/vnet0/queues").iterdir())
    assert queues == ["rx-0", "tx-0"]
    expected = {"max": {"rx": 0, "tx": 0, "other": 0, "combined": 2},
                "current": {"rx": 0, "tx": 0, "other": 0, "combined": 1}}
    assert channels() == expected
    guest.sh("ethtool", "-L", "vnet0", "combined", "1")
    fails("ethtool", "-L", "vnet0", "combined", "3")
    fails("ethtool", "-L", "vnet0", "combined", "0")
    fails("ethtool", "-L", "vnet0", "rx", "1")
    fails("ethtool", "-L", "vnet0", "tx", "1", "combined", "0")
    assert channels() == expected
    assert sorted(p.name for p in Path("/sys/class/net/vnet0/queues").iterdir()) == queues


def link_settings(dev: str = "vnet0") -> dict[str, str]:
    """`ethtool DEV` as it prints the settings: {"Speed": "10000Mb/s", "Duplex": "Full", ...}."""
    return dict(re.findall(r"^\s+([A-Z][\w -]+):\s+(.*?)\s*$", guest.sh("ethtool", dev), re.M))


def test_link_settings_follow_ethtool_s_and_agree_with_sysfs(vnet: Path) -> None:
    down = link_settings()
    # No link, no speed, as a real NIC reports it; the port and its modes are there anyway.
    assert (down["Speed"], down["Duplex"], down["Port"], down["Auto-negotiation"]) == \
        ("Unknown!", "Unknown! (255)", "Twisted Pair", "off")
    assert down["Link detected"] == "no"
    # Down, the duplex reads "unknown": a speed alone keeps the duplex set before.
    guest.sh("ethtool", "-s", "vnet0", "speed", "100")
    guest.quiet_link_up("vnet0")
    up = link_settings()
    assert (up["Speed"], up["Duplex"], up["Link detected"]) == ("100Mb/s", "Full", "yes")
    guest.sh("ethtool", "-s", "vnet0", "speed", "10000")
    assert ((vnet / "speed").read_text().strip(), (vnet / "duplex").read_text().strip()) == ("10000", "full")
    supported = guest.sh("ethtool", "vnet0").split("Supported link modes:")[1].split("Supported pause")[0].split()
    assert supported == ["10baseT/Half", "10baseT/Full", "100baseT/Half", "100baseT/Full", "1000baseT/Full",
                         "10000baseT/Full"]
    for speed, duplex in [("1000", "full"), ("10", "half"), ("100", "full"), ("10000", "full")]:
        guest.sh("ethtool", "-s", "vnet0", "speed", speed, "duplex", duplex)
        assert ((vnet / "speed").read_text().strip(), (vnet / "duplex").read_text().strip()) == (speed, duplex)
        got = link_settings()
        assert (got["Speed"], got["Duplex"]) == (f"{speed}Mb/s", duplex.capitalize())
    # Beyond the port's modes: refused, nothing changes.
    guest.sh("ethtool", "-s", "vnet0", "speed", "1000", "duplex", "full")
    for bad in (["speed", "1000", "duplex", "half"], ["speed", "25000"], ["speed", "40000", "duplex", "full"],
                ["autoneg", "on"], ["port", "fibre"], ["port", "da"], ["speed", "12345"],
                ["advertise", "0x020"], ["mdix", "on"], ["phyad", "1"]):
        fails("ethtool", "-s", "vnet0", *bad)
        assert ((vnet / "speed").read_text().strip(), (vnet / "duplex").read_text().strip()) == ("1000", "full")
    # The setting stays across down/up, as a NIC's configured speed does.
    guest.sh("ip", "link", "set", "vnet0", "down")
    assert link_settings()["Speed"] == "Unknown!"
    guest.quiet_link_up("vnet0")
    assert link_settings()["Speed"] == "1000Mb/s"


def ethtool_d_words() -> list[int]:
    """The register dump as the ethtool binary reads it (`-d raw on`: the bare words)."""
    raw = subprocess.run(["ethtool", "-d", "vnet0", "raw", "on"], capture_output=True, check=True).stdout
    return list(struct.unpack(f"={len(raw) // 4}I", raw))


def regs_json() -> dict[str, Any]:
    out = guest.sh("vnet-trace", "regs", "--json")
    return cast(dict[str, Any], json.loads(out))


def test_register_dump_agrees_with_ethtool_and_the_counters(vnet: Path) -> None:
    guest.sh("ethtool", "-G", "vnet0", "tx", "64", "rx", "128")
    guest.sh("ethtool", "-C", "vnet0", "tx-usecs", "33", "rx-usecs", "44")
    assert "Offset" in guest.sh("ethtool", "-d", "vnet0")  # ethtool's own hex dump of the same words
    # Down: no rings, no interrupt (a disabled NAPI keeps its SCHED bit: not shown).
    down = regs_json()
    assert not any(down["irq"].values()) and down["registers"]["tx_size"] == 0, down
    guest.quiet_link_up("vnet0")
    # Traffic both ways, then quiet: the rings are new since the open, so their
    # free-running indexes count every frame since, as ethtool -S does.
    guest.set_knob("rx_rate", 500)
    assert regs_json()["irq"]["rx_pending"]  # the generator's next tick is an RX interrupt
    guest.send_frames("vnet0", 150)  # more than the ring: the indexes wrap past its size
    time.sleep(0.5)
    guest.set_knob("rx_rate", 0)
    guest.wait_until(guest.tx_idle, what="TX completions")
    guest.wait_until(lambda: regs_json()["rx"]["filled"] == 0, what="NAPI to empty the RX ring")
    time.sleep(0.2)  # the generator's last timer
    o, words, stats = regs_json(), ethtool_d_words(), guest.ethtool_stats()
    assert o["version"] == 1
    assert list(o["registers"].values()) == words[:len(o["registers"])]
    r = o["registers"]
    assert (r["tx_size"], r["rx_size"], r["tx_usecs"], r["rx_usecs"]) == (64, 128, 33, 44)
    assert r["tx_head"] == r["tx_doorbell"] == r["tx_tail"] == stats["tx_packets"] >= 150
    assert r["rx_head"] == r["rx_tail"] == stats["rx_packets"] > 0
    assert r["tx_sent"] == 0  # only a backend's reader moves it
    assert o["hardware"] == "simulated" and r["hw"] == 0
    assert o["irq"] == {"tx_pending": False, "rx_pending": False, "tx_napi": False, "rx_napi": False,
                        "tx_stopped": False}
    text = guest.sh("vnet-trace", "regs")
    assert f"TX ring  size    64  head {r['tx_head']:>10}" in text


BAD_KNOB_VALUES = [
    ("rx_rate", "10000001"), ("rx_rate", "-1"), ("rx_rate", "fast"),
    ("rx_burst", "0"), ("rx_burst", "1025"),
    ("peer_mac", "zz:zz"), ("peer_mac", "01:00:5e:00:00:01"), ("peer_mac", "00:00:00:00:00:00"),
    ("peer_mac", "02:00:00:00:00:01junk"),
    ("peer_ip", "1.2.3"), ("peer_ip", "224.0.0.1"), ("peer_ip", "10.0.0.2x"),
]


@pytest.mark.parametrize(("name", "bad"), BAD_KNOB_VALUES)
def test_invalid_knob_values_are_rejected_and_change_nothing(vnet: Path, name: str, bad: str) -> None:
    before = (guest.get_param(name), guest.get_knob(name))
    with pytest.raises(OSError) as err:
        guest.set_param(name, bad)
    assert err.value.errno == 22  # EINVAL
    with pytest.raises(OSError) as err:
        guest.set_knob(name, bad)
    assert err.value.errno == 22
    assert (guest.get_param(name), guest.get_knob(name)) == before


@pytest.mark.smoke
def test_generator_knobs_are_per_device_and_parameters_are_defaults(vnet: Path) -> None:
    guest.unload()
    guest.load("numdevs=2", "peer_ip=192.0.2.9")
    for dev in ("vnet0", "vnet1"):
        guest.quiet_link_up(dev)
    assert [guest.get_knob("peer_ip", d) for d in ("vnet0", "vnet1")] == ["192.0.2.9"] * 2
    b0, b1 = guest.ethtool_stats("vnet0"), guest.ethtool_stats("vnet1")
    guest.set_knob("rx_burst", 4, "vnet1")
    guest.set_knob("rx_rate", 400, "vnet1")
    time.sleep(1)
    guest.set_knob("rx_rate", 0, "vnet1")
    time.sleep(0.3)
    d0 = guest.delta(guest.ethtool_stats("vnet0"), b0)
    d1 = guest.delta(guest.ethtool_stats("vnet1"), b1)
    assert d0["arp_generated"] == 0 and d1["arp_generated"] >= 100
    assert d1["rx_packets"] == d1["arp_generated"] and d1["napi_polls"] > 0
    # A changed parameter is the default of devices made from now on, not of those that exist.
    guest.set_param("rx_burst", 7)
    guest.set_param("peer_mac", "02:00:5e:10:00:07")
    guest.sh("ip", "link", "add", "vnet7", "type", "vnet")
    assert guest.get_knob("rx_burst", "vnet7") == "7" and guest.get_knob("rx_burst", "vnet0") == "1"
    assert guest.get_knob("peer_mac", "vnet7") == "02:00:5e:10:00:07"
    assert guest.get_knob("peer_mac", "vnet0") == "02:76:6e:65:74:02"
    # Knobs follow a device into another namespace and go with it.
    guest.sh("ip", "netns", "add", "vnet-knobs")
    try:
        guest.sh("ip", "link", "set", "vnet7", "netns", "vnet-knobs")
        out = guest.sh("ip", "netns", "exec", "vnet-knobs", "cat", "/sys/class/net/vnet7/vnet/rx_burst")
        assert out.strip() == "7"
    finally:
        guest.sh("ip", "netns", "del", "vnet-knobs")


def test_knob_writes_race_the_generator_without_deadlock(vnet: Path) -> None:
    # The peer is read by the generator (a softirq) while sysfs writes it: with a
    # writer that let BHs run, a generator tick on the writer's CPU spun forever.
    guest.quiet_link_up("vnet0")
    guest.set_knob("rx_burst", 1)
    guest.set_knob("rx_rate", 200_000)
    before = guest.ethtool_stats()["arp_generated"]
    try:
        for i in range(2000):
            guest.set_knob("peer_mac", f"02:00:00:00:{i >> 8 & 0xff:02x}:{i & 0xff:02x}")
            guest.set_knob("peer_ip", f"10.1.{i >> 8 & 0xff}.{i & 0xff or 1}")
    finally:
        guest.set_knob("rx_rate", 0)
    assert guest.ethtool_stats()["arp_generated"] > before
    assert guest.get_knob("peer_mac") == "02:00:00:00:07:cf"


def test_devices_from_ip_link_add_have_no_carrier_until_up(vnet: Path) -> None:
    guest.sh("ip", "link", "add", "vnet5", "type", "vnet")
    # ethtool's "Link detected" is the carrier itself, shown whether the device is up or not.
    assert "Link detected: no" in guest.sh("ethtool", "vnet5")
    guest.quiet_link_up("vnet5")
    assert "Link detected: yes" in guest.sh("ethtool", "vnet5")
    guest.sh("ip", "link", "set", "vnet5", "down")
    assert "Link detected: no" in guest.sh("ethtool", "vnet5")


def test_numdevs_out_of_range_refuses_to_load() -> None:
    guest.unload()
    r = subprocess.run(["insmod", str(guest.MODULE), "numdevs=17"], capture_output=True, text=True, check=False)
    assert r.returncode != 0 and "Invalid" in r.stderr
    assert not guest.loaded()


def test_numdevs_and_link_state(vnet: Path) -> None:
    guest.unload()
    guest.load("numdevs=3")
    names = sorted(p.name for p in Path("/sys/class/net").iterdir() if p.name.startswith("vnet"))
    assert names == ["vnet0", "vnet1", "vnet2"]
    macs = {Path(f"/sys/class/net/{n}/address").read_text() for n in names}
    assert len(macs) == 3
    # The link follows the carrier: down, then up.
    assert "Link detected: no" in guest.sh("ethtool", "vnet1")
    guest.sh("ip", "link", "set", "vnet1", "up")
    assert "Link detected: yes" in guest.sh("ethtool", "vnet1")
    assert Path("/sys/class/net/vnet1/carrier").read_text().strip() == "1"


def self_test(*mode: str) -> tuple[int, str, dict[str, int]]:
    """`ethtool -t vnet0 [MODE]`: whether it exited 0, PASS or FAIL, and each test's result."""
    p = subprocess.run(["ethtool", "-t", "vnet0", *mode], capture_output=True, text=True)
    verdict = re.search(r"The test result is (PASS|FAIL)", p.stdout)
    assert verdict, p.stdout + p.stderr
    extra = p.stdout.split("extra info:")[1]
    results = {m[0].strip(): int(m[1]) for m in re.findall(r"^(\S.*?)\s+(\d+)$", extra, re.M)}
    return int(p.returncode != 0), verdict[1], results


@pytest.mark.smoke
def test_self_test_loops_frames_through_the_device(vnet: Path) -> None:
    """ethtool -t: the offline loopback sends 16 frames out through the qdisc and the TX
    ring; the simulated NIC loops them into the RX ring, and each comes back up the stack,
    as ethtool -S counts (tx_other and rx_other: EtherType 0x88b5) and tcpdump sees."""
    guest.quiet_link_up("vnet0")
    guest.set_knob("rx_rate", 200)  # the generator stops for the test and starts again
    dump = subprocess.Popen(["tcpdump", "-i", "vnet0", "-n", "-U", "--immediate-mode", "-w", "/tmp/selftest.pcap",
                             "ether proto 0x88b5"], stderr=subprocess.PIPE, text=True)
    assert dump.stderr is not None and "listening" in dump.stderr.readline()
    before = guest.ethtool_stats()
    status, verdict, results = self_test()
    d = guest.delta(guest.ethtool_stats(), before)
    time.sleep(0.5)
    dump.send_signal(2)
    _, summary = dump.communicate(timeout=30)
    assert (status, verdict, results) == (0, "PASS", {"ring indexes (online)": 0, "loopback (offline)": 0})
    assert d["tx_other"] == d["rx_other"] == 16 and d["tx_dropped"] == d["rx_dropped"] == 0
    assert "0 packets dropped by kernel" in summary
    # One line a frame (tcpdump adds a hex dump for an EtherType it does not know).
    frames = [f for f in guest.sh("tcpdump", "-r", "/tmp/selftest.pcap", "-nn", "-e").splitlines()
              if not f.startswith("\t")]
    assert len(frames) == 32 and all("length 128" in f for f in frames), frames
    # Online only: no loopback, no frames.
    before = guest.ethtool_stats()
    assert self_test("online") == (0, "PASS", {"ring indexes (online)": 0, "loopback (offline)": 0})
    assert guest.delta(guest.ethtool_stats(), before)["tx_other"] == 0
    # The generator runs again.
    before = guest.ethtool_stats()
    time.sleep(0.5)
    assert guest.delta(guest.ethtool_stats(), before)["arp_generated"] > 0
    guest.set_knob("rx_rate", 0)


def test_self_test_fails_where_loopback_cannot_work(vnet: Path) -> None:
    """Down (no rings to loop through), no link partner, and frames slower than the test
    may wait (tx-usecs 1 s): FAIL, 16 frames missing, and then it passes again."""
    fail = (1, "FAIL", {"ring indexes (online)": 0, "loopback (offline)": 16})
    assert self_test() == fail
    guest.quiet_link_up("vnet0")
    guest.sh("ip", "link", "set", "vnet0", "carrier", "off")
    assert self_test() == fail
    guest.sh("ip", "link", "set", "vnet0", "carrier", "on")
    guest.wait_until(lambda: Path("/sys/class/net/vnet0/carrier").read_text().strip() == "1", what="carrier")
    # Frames that take 1 s cannot be back within the test's 500 ms: it sends none.
    guest.sh("ethtool", "-C", "vnet0", "tx-usecs", "1000000")
    before = guest.ethtool_stats()
    assert self_test() == fail
    assert guest.delta(guest.ethtool_stats(), before)["tx_other"] == 0
    guest.sh("ethtool", "-C", "vnet0", "tx-usecs", "20")
    assert self_test() == (0, "PASS", {"ring indexes (online)": 0, "loopback (offline)": 0})
