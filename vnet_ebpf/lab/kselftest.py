"""The kernel's own driver tests (tools/testing/selftests/drivers/net) over vnet.

The netdev CI runs this suite against virtio_net with two NICs looped, the second in
a namespace called ``ns-remote``.  Here the pair is vnet0 and vnet1 joined by
``vnet-wire``: what one transmits, the other receives, through /dev/vnet.  The suite
is the guest kernel's own, built from its linux-source when the image is made
(guest/provision.sh), so each kernel runs the tests it shipped with.

In the guest (``vnet-lab kselftest`` boots it and runs this)::

    python3 -m vnet_ebpf.lab.kselftest [--json FILE] [TEST.py ...]

Each test case ends as pass, skip (with the suite's reason), xfail or fail.  Skips and
failures this driver is known to have are listed in KNOWN, with the reason, and
docs/kernels.md gives the table; any other result that is not a pass fails the run,
and so does a listed one that has started to pass (the list must be kept true).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

#: Where provision.sh wrote the installed suite's path (/opt/kselftest/linux-X.Y).
KSELFTEST_PATH = Path("/etc/vnet-lab/kselftest")

#: The far end, as the netdev CI names it (nipa's vm-virtio-loop.sh), and its addresses:
#: documentation prefixes (RFC 5737, RFC 3849), which no real network uses.
REMOTE_NS = "ns-remote"
LOCAL_DEV, REMOTE_DEV = "vnet0", "vnet1"
LOCAL_V4, REMOTE_V4 = "192.0.2.1", "192.0.2.2"
LOCAL_V6, REMOTE_V6 = "2001:db8:1::1", "2001:db8:1::2"

#: One file's time limit: the suite's own (drivers/net/settings: timeout=360).
FILE_TIMEOUT = 360


@dataclass(frozen=True)
class Case:
    """One test case's result, as the suite printed it in KTAP."""

    file: str  # ping.py
    name: str  # ping.test_v4
    result: str  # pass, fail, skip or xfail
    reason: str = ""


KTAP_LINE = re.compile(r"^(?P<not>not )?ok \d+ (?P<name>\S+)(?: # (?P<comment>.*))?$")


def parse_ktap(file: str, text: str) -> list[Case]:
    """The test cases of one file's KTAP output (ksft.py's ktap_result lines)."""
    cases = []
    for line in text.splitlines():
        m = KTAP_LINE.match(line.strip())
        if not m:
            continue
        comment = (m["comment"] or "").strip()
        if m["not"]:
            result, reason = "fail", comment
        elif comment.startswith("SKIP"):
            result, reason = "skip", comment[4:].strip()
        elif comment.startswith("XFAIL"):
            result, reason = "xfail", comment[5:].strip()
        else:
            result, reason = "pass", ""
        cases.append(Case(file, m["name"], result, reason))
    return cases


@dataclass(frozen=True)
class Known:
    """Test cases (an fnmatch pattern of their names) that end in RESULT on vnet, and why.
    KIND says whose limit it is: "hardware" (what a NIC has and a virtual one cannot),
    "gap" (what vnet could do and does not yet) or "kernel" (how Debian built it)."""

    pattern: str
    result: str
    kind: str
    why: str


MULTIQUEUE = ("vnet0 is bound to vnet-wire, and a /dev/vnet file carries one queue pair, so "
              "ethtool -l shows a maximum of 1 (one file per queue is issue 23's next step)")
XDP_FRAGS = ("multi-buffer XDP (xdp.frags, MTU 9000): vnet's RX buffer is one page, and it refuses "
             "XDP above an MTU of 3502 B")

#: What vnet is known not to pass, on every kernel whose suite has the case; docs/kernels.md
#: shows the same list.  Cases not listed must pass (or be the suite's own xfail).
KNOWN: tuple[Known, ...] = (
    Known("hds.*", "skip", "hardware", "header-data split: the NIC writes headers and payload to "
          "separate buffers"),
    Known("macsec.test_offload_*", "skip", "hardware", "MACsec offload: a crypto engine in the NIC"),
    Known("macsec.test_vlan.offloaded", "skip", "hardware", "MACsec offload: a crypto engine in the NIC"),
    Known("macsec.test_vlan_toggle.*", "skip", "hardware", "MACsec offload: a crypto engine in the NIC"),
    Known("stats.check_pause", "skip", "hardware", "pause frames: a physical-layer feature"),
    Known("stats.check_fec*", "skip", "hardware", "forward error correction: a physical-layer feature"),
    Known("ping.test_xdp_offload", "skip", "hardware", "XDP offload runs the program on the NIC"),
    Known("shaper.*", "skip", "gap", "net_shaper rate limits per queue: vnet has no shaper ops, "
          "and the suite's vnet0 runs one queue"),
    Known("queues.addremove_queues", "skip", "gap", MULTIQUEUE),
    Known("ring_reconfig.reconfig_tx_stall", "skip", "gap", MULTIQUEUE),
    Known("napi_threaded.*", "fail", "gap", MULTIQUEUE + "; the test asserts two queues instead "
          "of skipping (it passes on an unbound two-pair vnet device: tests/vm/test_queues.py)"),
    Known("ping.test_xdp_native_mb", "skip", "gap", XDP_FRAGS),
    Known("xdp.test_xdp_native_update_mb_to_sb", "skip", "gap", XDP_FRAGS),
    Known("xdp.test_xdp_native_*_mb.*", "fail", "gap", XDP_FRAGS),
    Known("xdp.test_xdp_native_adjst_*", "fail", "gap", XDP_FRAGS),
    Known("psp", "fail", "kernel", "Debian builds without CONFIG_INET_PSP: psp.py stops at the "
          "missing netlink family before its first case"),
)


def known(name: str) -> Known | None:
    return next((k for k in KNOWN if fnmatch.fnmatchcase(name, k.pattern)), None)


def judge(cases: list[Case]) -> list[str]:
    """What is wrong with CASES: every result that is neither a pass nor the known one,
    and every known non-pass that no longer happens.  The suite's own xfail (what it
    could not exercise here, such as 6.12's stats.check_pause) stands for a pass or a
    skip."""
    problems = []
    for c in cases:
        k = known(c.name)
        want = k.result if k else "pass"
        if c.result != want and not (want in ("pass", "skip") and c.result == "xfail"):
            problems.append(f"{c.name}: {c.result}, expected {want}" + (f" ({c.reason})" if c.reason else ""))
    return problems


def table(cases: list[Case]) -> str:
    """The results, one line per test case: file, case, result and the suite's reason."""
    width = max((len(c.name) for c in cases), default=4)
    lines = [f"{'test':<{width}}  result  reason"]
    for c in cases:
        lines.append(f"{c.name:<{width}}  {c.result:<6}  {c.reason}".rstrip())
    counts = {r: sum(c.result == r for c in cases) for r in ("pass", "skip", "xfail", "fail")}
    lines.append(", ".join(f"{n} {r}" for r, n in counts.items()))
    return "\n".join(lines)


# --- the guest side: the pair of devices, the wire, the runs --------------------------


def _sh(*argv: str) -> None:
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)


def _sysctl(ns: str | None, *settings: str) -> None:
    prefix = ["ip", "netns", "exec", ns] if ns else []
    _sh(*prefix, "sysctl", "-qw", *settings)


def setup() -> subprocess.Popen[bytes]:
    """vnet0 here and vnet1 in ns-remote, with IPv4 and IPv6 addresses that survive a
    down/up (keep_addr_on_down, as the suite assumes), the simulated NIC's generator
    silent, and vnet-wire between them.  Returns the wire."""
    # The wire is a process, under emulation far slower than virtio with vhost: fq_codel,
    # Debian's default qdisc, would drop the tail of the suite's bursts for sitting 5 ms
    # in the queue.  pfifo_fast, the kernel's own default, only drops beyond txqueuelen.
    _sysctl(None, "net.core.default_qdisc=pfifo_fast")
    # gro.py's PPPoE cases need its GRO handler, which the pppoe module registers (the
    # suite's config builds it in); netpoll_basic.py needs netconsole.
    for module in ("pppoe", "netconsole"):
        subprocess.run(["modprobe", module], check=False)
    if not Path(f"/sys/class/net/{REMOTE_DEV}").exists():
        _sh("ip", "link", "add", REMOTE_DEV, "type", "vnet")
    # The simulated NIC's ARP generator would add frames no test asked for.
    for dev in (LOCAL_DEV, REMOTE_DEV):
        Path(f"/sys/class/net/{dev}/vnet/rx_rate").write_text("0\n")
    # netpoll_basic.py makes a netconsole target through configfs.
    if not os.path.ismount("/sys/kernel/config"):
        _sh("mount", "-t", "configfs", "configfs", "/sys/kernel/config")
    _sh("ip", "netns", "add", REMOTE_NS)
    keep = ("net.ipv6.conf.all.keep_addr_on_down=1", "net.ipv6.conf.default.keep_addr_on_down=1")
    for ns in (None, REMOTE_NS):
        _sysctl(ns, *keep)
    _sh("ip", "link", "set", REMOTE_DEV, "netns", REMOTE_NS)
    _sh("ip", "-n", REMOTE_NS, "link", "set", "lo", "up")
    for ns, dev, v4, v6 in ((None, LOCAL_DEV, LOCAL_V4, LOCAL_V6), (REMOTE_NS, REMOTE_DEV, REMOTE_V4, REMOTE_V6)):
        ip = ["ip", "-n", ns] if ns else ["ip"]
        _sh(*ip, "addr", "add", f"{v4}/24", "dev", dev)
        _sh(*ip, "-6", "addr", "add", f"{v6}/64", "dev", dev, "nodad")
        _sh(*ip, "link", "set", dev, "up")
        # In case a qdisc was attached before the default changed; the default itself is
        # what the suite's tests go back to when they delete theirs (ring_reconfig.py).
        _sh("tc", *(["-n", ns] if ns else []), "qdisc", "replace", "dev", dev, "root", "pfifo_fast")
    wire = subprocess.Popen(["vnet-wire", LOCAL_DEV, f"{REMOTE_NS}/{REMOTE_DEV}"], stdout=subprocess.DEVNULL)
    # The first test's first frame must find both devices on the wire: until a device is
    # bound, the simulated NIC sends its frames nowhere.  vnet-wire exits at once on an error.
    deadline = time.monotonic() + 60
    while not all(_hw(ns, dev) == "backend" for ns, dev in ((None, LOCAL_DEV), (REMOTE_NS, REMOTE_DEV))):
        if wire.poll() is not None:
            raise SystemExit(f"kselftest: vnet-wire exited with status {wire.returncode}")
        if time.monotonic() > deadline:
            raise SystemExit("kselftest: vnet-wire did not bind both devices within 60 s")
        time.sleep(0.2)
    return wire


def _hw(ns: str | None, dev: str) -> str:
    """The hardware behind DEV's rings (its vnet/hw file): simulated, or backend once bound."""
    prefix = ["ip", "netns", "exec", ns] if ns else []
    p = subprocess.run([*prefix, "cat", f"/sys/class/net/{dev}/vnet/hw"], capture_output=True, text=True)
    return p.stdout.strip()


def emulated(cmdline: str) -> bool:
    """Does software emulation run this guest (vnet-lab's vnet_lab.accel= on CMDLINE)?"""
    accel = [a.partition("=")[2] for a in cmdline.split() if a.startswith("vnet_lab.accel=")]
    return bool(accel) and accel[-1] != "kvm"


def suite_env(suite: Path) -> dict[str, str]:
    """The suite's variables (drivers/net/README.rst): the device and the far end; the
    ethtool it expects first on PATH (guest/provision.sh); and, under emulation,
    KSFT_MACHINE_SLOW, with which kselftests report timing misses without failing."""
    slow = {"KSFT_MACHINE_SLOW": "yes"} if emulated(Path("/proc/cmdline").read_text()) else {}
    return {**os.environ, **slow, "PATH": f"{suite / 'bin'}:{os.environ.get('PATH', '/usr/sbin:/usr/bin')}",
            "NETIF": LOCAL_DEV, "LOCAL_V4": LOCAL_V4, "REMOTE_V4": REMOTE_V4,
            "LOCAL_V6": LOCAL_V6, "REMOTE_V6": REMOTE_V6, "REMOTE_TYPE": "netns", "REMOTE_ARGS": REMOTE_NS}


def _text(data: bytes | str | None) -> str:
    return data.decode(errors="replace") if isinstance(data, bytes) else (data or "")


def run_file(suite: Path, file: str) -> tuple[list[Case], float]:
    """Run one test file of drivers/net; its cases (a file that printed none is one
    failed case of its own name) and how long it took."""
    t = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, file], cwd=suite / "drivers/net", env=suite_env(suite),
                              capture_output=True, text=True, timeout=FILE_TIMEOUT, check=False)
        out, err, status = proc.stdout, proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as e:
        out, err, status = _text(e.stdout), _text(e.stderr), -1
    took = time.monotonic() - t
    sys.stdout.write(out)
    sys.stdout.write("".join(f"# stderr| {line}\n" for line in err.splitlines()))
    sys.stdout.flush()
    cases = parse_ktap(file, out)
    if not cases:
        why = "timed out" if status == -1 else f"exit status {status}, no results"
        cases = [Case(file, file.removesuffix(".py"), "fail", why)]
    return cases, took


def suite_files(suite: Path) -> list[str]:
    """The test files of drivers/net this kernel installed (kselftest-list.txt)."""
    files = []
    for line in (suite / "kselftest-list.txt").read_text().splitlines():
        coll, _, name = line.partition(":")
        if coll == "drivers/net" and name.endswith(".py"):
            files.append(name)
    return files


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="kselftest", description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("tests", nargs="*", help="test files of drivers/net (default: all)")
    args = ap.parse_args(argv)
    if not KSELFTEST_PATH.exists():
        print("kselftest: this guest has no drivers/net selftests (kernels before 6.12)", file=sys.stderr)
        return 1
    suite = Path(KSELFTEST_PATH.read_text().strip())
    kernel = suite.name.removeprefix("linux-")
    files = args.tests or suite_files(suite)
    wire = setup()
    cases: list[Case] = []
    took: dict[str, float] = {}
    try:
        for f in files:
            print(f"######## drivers/net/{f}", flush=True)
            got, took[f] = run_file(suite, f)
            cases += got
    finally:
        wire.terminate()
        wire.wait(timeout=30)
    print(f"######## the drivers/net selftests of linux-{kernel} over {LOCAL_DEV} and "
          f"{REMOTE_NS}/{REMOTE_DEV}")
    print(table(cases))
    print("time per file: " + ", ".join(f"{f} {s:.0f} s" for f, s in took.items()))
    if args.json:
        args.json.write_text(json.dumps({"kernel": kernel, "cases": [asdict(c) for c in cases],
                                         "seconds": took}, indent=1) + "\n")
    problems = judge(cases)
    for p in problems:
        print(f"kselftest: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
