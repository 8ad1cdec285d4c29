"""Witnesses in the lab guest: the real tools (ip, ethtool, tc, ynl) and the
kernel's own files (/sys/class/net), read the same way by the guest tests
(tests/vm) and the lessons' checkers (vnet_ebpf/lessons)."""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

__all__ = [
    "BpftraceWitness",
    "Kmsg",
    "NapiWitness",
    "bql",
    "delta",
    "ethtool_stats",
    "get_knob",
    "ip_stats",
    "kernel_at_least",
    "kernel_config",
    "kmsg_mark",
    "ksym",
    "qdisc_backlog",
    "quiet_link_up",
    "set_knob",
    "sh",
    "tx_idle",
    "wait_until",
    "ynl",
]

YNL_SPECS = Path("/etc/vnet-lab/ynl-specs")


def sh(*argv: str, check: bool = True) -> str:
    """Run a real tool (ip, ethtool, ...) and return its stdout."""
    return subprocess.run(argv, capture_output=True, text=True, check=check).stdout


def quiet_link_up(dev: str) -> None:
    """Bring DEV up without the stack sending frames of its own (IPv6 DAD, RS, MLD),
    so that counts of what we send can be exact."""
    Path(f"/proc/sys/net/ipv6/conf/{dev}/disable_ipv6").write_text("1\n")
    sh("ip", "link", "set", dev, "up")


def ethtool_stats(dev: str = "vnet0", netns: str | None = None) -> dict[str, int]:
    """`ethtool -S DEV` as a dict (the real ethtool binary, parsed); in ip netns NETNS."""
    stats: dict[str, int] = {}
    prefix = ("ip", "netns", "exec", netns) if netns else ()
    for line in sh(*prefix, "ethtool", "-S", dev).splitlines()[1:]:
        name, _, value = line.strip().partition(":")
        stats[name.strip()] = int(value)
    return stats


def ip_stats(dev: str = "vnet0") -> dict[str, dict[str, int]]:
    """The interface counters as `ip -s -s -j link show DEV` reports them."""
    (link,) = json.loads(sh("ip", "-s", "-s", "-j", "link", "show", dev))
    stats: dict[str, dict[str, int]] = link["stats64"]
    return stats


def delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: after[k] - before[k] for k in after}


def rss_table(dev: str = "vnet0") -> list[int]:
    """The indirection table as `ethtool -x` prints it."""
    out = sh("ethtool", "-x", dev)
    rows = re.findall(r"^\s*(\d+):((?:\s+\d+)+)\s*$", out, re.M)
    table = [int(v) for _, vals in rows for v in vals.split()]
    assert [int(start) for start, _ in rows] == list(range(0, len(table), 8))
    return table


def rss_key(dev: str = "vnet0") -> bytes:
    m = re.search(r"RSS hash key:\n([0-9a-f:]+)", sh("ethtool", "-x", dev))
    assert m
    return bytes.fromhex(m.group(1).replace(":", ""))


def set_knob(name: str, value: object, dev: str = "vnet0") -> None:
    """A generator knob of one device: /sys/class/net/DEV/vnet/NAME."""
    Path(f"/sys/class/net/{dev}/vnet/{name}").write_text(f"{value}\n")


def get_knob(name: str, dev: str = "vnet0") -> str:
    return Path(f"/sys/class/net/{dev}/vnet/{name}").read_text().strip()


def wait_until(cond: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def bql(dev: str, name: str) -> int:
    return int(Path(f"/sys/class/net/{dev}/queues/tx-0/byte_queue_limits/{name}").read_text())


def qdisc_backlog(dev: str) -> int:
    """Packets the root qdisc still holds, as `tc -s -j qdisc` reports them."""
    qdiscs = json.loads(sh("tc", "-s", "-j", "qdisc", "show", "dev", dev, "root"))
    return sum(int(q.get("qlen", 0)) for q in qdiscs)


def tx_idle(dev: str = "vnet0") -> bool:
    """Nothing left to send: the qdisc is empty and BQL's in-flight bytes are zero."""
    return qdisc_backlog(dev) == 0 and bql(dev, "inflight") == 0


def kernel_at_least(major: int, minor: int) -> bool:
    """The running kernel is MAJOR.MINOR or newer (from uname, e.g. 6.12.118+deb13-amd64)."""
    m = re.match(r"(\d+)\.(\d+)", os.uname().release)
    assert m, os.uname().release
    return (int(m.group(1)), int(m.group(2))) >= (major, minor)


def kernel_config(option: str) -> bool:
    """CONFIG_OPTION is =y or =m in the running kernel's config."""
    config = Path(f"/boot/config-{os.uname().release}")
    return any(line.startswith(f"{option}=") and line.rstrip()[-1] in "ym"
               for line in config.read_text().splitlines())


def ynl(family: str, op: str, attrs: dict[str, object] | None = None, *, dump: bool = False,
        check: bool = True) -> Any:
    """The kernel's own netlink CLI (tools/net/ynl, from this kernel's source) asking
    FAMILY for OP: an independent witness of what the kernel reports.  Returns the
    decoded reply (a list for a dump); with check=False, the CompletedProcess."""
    spec = Path(YNL_SPECS.read_text().strip()) / f"{family}.yaml"
    argv = ["ynl", "--spec", str(spec), "--dump" if dump else "--do", op, "--output-json"]
    if attrs is not None:
        argv += ["--json", json.dumps(attrs)]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if not check:
        return proc
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {proc.stderr.strip()}")
    return json.loads(proc.stdout) if proc.stdout.strip() else None


class Kmsg:
    """The kernel log from now on, read from /dev/kmsg by sequence (a wrapped ring
    or a `dmesg -C` cannot shift what we look at)."""

    def __init__(self) -> None:
        self.fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
        os.lseek(self.fd, 0, os.SEEK_END)
        self.lines: list[str] = []

    def read(self) -> list[str]:
        """Every message logged since the mark (first lines of records), kept cumulatively."""
        while True:
            try:
                rec = os.read(self.fd, 16384)
            except BlockingIOError:
                break
            except BrokenPipeError:  # overwritten before we read it: go on with the next
                continue
            self.lines.append(rec.decode(errors="replace").partition(";")[2].split("\n")[0])
        return self.lines

    def close(self) -> None:
        os.close(self.fd)


def kmsg_mark() -> Kmsg:
    """Start watching the kernel log, to look only at what comes after."""
    return Kmsg()


class BpftraceWitness:
    """bpftrace running PROGRAM (kernel tracepoints: a witness we did not write).

    bpftrace says "Attaching..." before it has attached, so readiness is proven
    by a handshake: the test calls getppid() until a probe answers, which also
    clears the maps named in RESET, so only what comes after is counted.
    """

    def __init__(self, program: str, reset: tuple[str, ...]) -> None:
        clears = "".join(f"    clear({m});\n" for m in reset)
        self.program = (program + "\ntracepoint:syscalls:sys_enter_getppid /pid == $1/ {\n"
                        + clears + '    printf("reset\\n");\n}\n')

    def __enter__(self) -> Self:
        self.proc = subprocess.Popen(["bpftrace", "-B", "line", "-e", self.program, str(os.getpid())],
                                     stdout=subprocess.PIPE, text=True)
        out = self.proc.stdout
        assert out is not None
        deadline = time.monotonic() + 60
        line = ""
        while line != "reset\n":
            assert time.monotonic() < deadline and self.proc.poll() is None, "bpftrace did not attach"
            os.getppid()
            if select.select([out], [], [], 0.1)[0]:
                line = out.readline()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()

    def finish(self) -> str:
        """Stop bpftrace; what it printed (its maps) from then on."""
        self.proc.send_signal(2)
        out, _ = self.proc.communicate(timeout=60)
        return out


def ksym(name: str) -> int:
    """The address of kernel (or module) symbol NAME, from /proc/kallsyms (root)."""
    for line in Path("/proc/kallsyms").read_text().splitlines():
        addr, _, sym = line.split()[:3]
        if sym == name:
            return int(addr, 16)
    raise KeyError(name)


# Filtered on the device's ifindex through the napi_struct (kernel BTF), not on the
# dev_name string: bpftrace 0.23 reads that __data_loc field as empty on 6.12; and on
# the poll function, RX's: the device's TX NAPI (completions) polls through the same
# tracepoint.
NAPI_BT = r"""
tracepoint:napi:napi_poll /((struct napi_struct *)args->napi)->dev->ifindex == IFINDEX && POLL_FILTER/ {
    @work[args->work] = count();
    @over = sum(args->work > args->budget ? 1 : 0);
    @budget = max(args->budget);
}
"""


class NapiWitness(BpftraceWitness):
    """bpftrace on the kernel's own napi:napi_poll tracepoint: work per poll."""

    def __init__(self, dev: str = "vnet0", poll: str | None = "vnet_napi_poll") -> None:
        """Polls of DEV; of its POLL function only (None: every NAPI of DEV)."""
        ifindex = Path(f"/sys/class/net/{dev}/ifindex").read_text().strip()
        poll_filter = f"(uint64)((struct napi_struct *)args->napi)->poll == {hex(ksym(poll))}" if poll else "1"
        program = NAPI_BT.replace("IFINDEX", ifindex).replace("POLL_FILTER", poll_filter)
        super().__init__(program, ("@work", "@over", "@budget"))
        self.budget = 0

    def stop(self) -> tuple[Counter[int], int]:
        """Work per poll -> polls, and the polls over budget; the largest budget is in .budget."""
        out = self.finish()
        work = Counter({int(k): int(v) for k, v in re.findall(r"@work\[(-?\d+)\]: (\d+)", out)})
        over = re.search(r"@over: (\d+)", out)
        budget = re.search(r"@budget: (\d+)", out)
        self.budget = int(budget.group(1)) if budget else 0
        return work, int(over.group(1)) if over else 0
