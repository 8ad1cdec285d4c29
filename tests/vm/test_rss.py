"""RSS: the queue of every generated frame, checked against a Toeplitz hash computed
here (vnet_ebpf.rss, written from the definition) from the frame's own bytes, as the
kernel's napi_gro_receive_entry trace event shows them (bpftrace); ethtool -x/-X/-n,
and bad settings refused without effect."""

from __future__ import annotations

import ctypes
import errno
import fcntl
import re
import socket
import struct
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.vm import guest
from tests.vm.test_queues import per_queue, two_queues_up
from tests.vm.test_rx import generate
from tests.vm.test_userns import in_userns
from vnet_ebpf import rss
from vnet_ebpf.lab.witnesses import BpftraceWitness, rss_key, rss_table

pytestmark = pytest.mark.smoke

KEY = rss.VERIFICATION_KEY
SIOCETHTOOL, ETHTOOL_SRXFHINDIR = 0x8946, 0x39

# Each frame the driver hands to GRO on the device: its RX queue (queue_mapping is the
# queue + 1), the hash the skb carries and whether it is an L4 hash, and the bytes RSS
# hashes, read from the frame itself (skb->data is the IP header by then): addresses
# and ports, printed as the host's little-endian words.
RSS_BT = r"""
tracepoint:net:napi_gro_receive_entry /((struct sk_buff *)args->skbaddr)->dev->ifindex == IFINDEX/ {
    $d = ((struct sk_buff *)args->skbaddr)->data;
    if (args->protocol == 0x0800) {
        $l4 = $d + (*(uint8 *)$d & 0xf) * 4;
        printf("4 %d %u %d %u %u %u\n", args->queue_mapping - 1, args->hash, args->l4_hash,
               *(uint32 *)($d + 12), *(uint32 *)($d + 16), *(uint32 *)$l4);
    } else if (args->protocol == 0x86dd) {
        printf("6 %d %u %d %lu %lu %lu %lu %u\n", args->queue_mapping - 1, args->hash,
               args->l4_hash, *(uint64 *)($d + 8), *(uint64 *)($d + 16),
               *(uint64 *)($d + 24), *(uint64 *)($d + 32), *(uint32 *)($d + 40));
    } else {
        printf("other %d\n", args->queue_mapping - 1);
    }
}
"""


@dataclass(frozen=True)
class Frame:
    queue: int
    hash: int
    l4_hash: bool
    hashed: bytes  # addresses then ports, as on the wire


class RssWitness(BpftraceWitness):
    def __init__(self, dev: str = "vnet0") -> None:
        ifindex = Path(f"/sys/class/net/{dev}/ifindex").read_text().strip()
        super().__init__(RSS_BT.replace("IFINDEX", ifindex), ())

    def stop(self) -> list[Frame]:
        frames = []
        for line in self.finish().splitlines():
            f = line.split()
            if not f or f[0] not in ("4", "6", "other"):
                continue
            assert f[0] != "other", f"a frame that is not IP: {line}"
            words = [int(w) for w in f[4:]]
            raw = (struct.pack("<3I", *words) if f[0] == "4"
                   else struct.pack("<4QI", *words))
            frames.append(Frame(int(f[1]), int(f[2]), f[3] == "1", raw))
        return frames


def flows_through_rss(proto: str, flows: int) -> tuple[list[Frame], dict[str, int]]:
    """FLOWS flows of PROTO from the generator, for one second: each frame the stack got,
    and what ethtool -S counted meanwhile."""
    guest.set_knob("rx_proto", proto)
    guest.set_knob("rx_flows", flows)
    before = guest.ethtool_stats()
    with RssWitness() as witness:
        generate(rate=320, burst=16, seconds=1)
        frames = witness.stop()
    return frames, guest.delta(guest.ethtool_stats(), before)


@pytest.mark.parametrize("proto", ["udp4", "tcp4", "udp6", "tcp6"])
def test_every_frame_is_on_the_queue_its_toeplitz_hash_names(vnet: Path, proto: str) -> None:
    """Under a key and a table set with ethtool -X, each frame's queue is the table's
    entry at its Toeplitz hash (of the frame's own addresses and ports), and the skb
    carries that hash as an L4 hash; ethtool -S counts the same frames per queue."""
    two_queues_up()
    guest.sh("ethtool", "-X", "vnet0", "hkey", KEY.hex(":"), "weight", "3", "1")
    table = rss_table()
    assert rss_key() == KEY
    assert len(table) == 128 and table.count(0) == 96 and table.count(1) == 32

    frames, d = flows_through_rss(proto, 16)
    assert len(frames) == d["rx_packets"] > 0
    per_q: Counter[int] = Counter()
    for f in frames:
        h = rss.toeplitz(KEY, f.hashed)
        assert (f.hash, f.l4_hash) == (h, True), f
        assert f.queue == rss.queue(h, table), f
        per_q[f.queue] += 1
    # Every flow came (16 frames a tick, one of each), and both queues had some.
    assert len({f.hashed for f in frames}) == 16
    assert [per_q[0], per_q[1]] == per_queue(d)["rx_packets"]
    assert min(per_q[0], per_q[1]) > 0


def test_rxhash_off_leaves_the_hash_out_and_the_queues_as_they_were(vnet: Path) -> None:
    """ethtool -K rxhash off: the NIC still steers by the hash, but the skb has none."""
    two_queues_up()
    guest.sh("ethtool", "-X", "vnet0", "hkey", KEY.hex(":"))
    guest.sh("ethtool", "-K", "vnet0", "rxhash", "off")
    table = rss_table()
    frames, d = flows_through_rss("udp4", 8)
    assert len(frames) == d["rx_packets"] > 0
    for f in frames:
        assert (f.hash, f.l4_hash) == (0, False), f
        assert f.queue == rss.queue(rss.toeplitz(KEY, f.hashed), table), f
    guest.sh("ethtool", "-K", "vnet0", "rxhash", "on")


def test_a_table_never_set_follows_ethtool_L_and_a_set_one_holds_its_queues(vnet: Path) -> None:
    """The default table spreads over the queues running (ethtool_rxfh_indir_default:
    entry i is i modulo the count); one set by the user stays, and -L below a queue it
    names is refused by the kernel, until ethtool -X default."""
    guest.quiet_link_up("vnet0")
    assert rss_table() == [0] * 128
    guest.sh("ethtool", "-L", "vnet0", "combined", "2")
    assert rss_table() == [i % 2 for i in range(128)]
    guest.sh("ethtool", "-X", "vnet0", "weight", "1", "1")
    before = rss_table()
    p = subprocess.run(["ethtool", "-L", "vnet0", "combined", "1"], capture_output=True, text=True)
    assert p.returncode != 0 and "indirection table" in p.stderr
    assert rss_table() == before
    assert "Combined:\t2" in guest.sh("ethtool", "-l", "vnet0").split("Current")[1]
    guest.sh("ethtool", "-X", "vnet0", "default")
    guest.sh("ethtool", "-L", "vnet0", "combined", "1")
    assert rss_table() == [0] * 128


def test_rx_flow_hash_names_addresses_and_ports_of_tcp_and_udp(vnet: Path) -> None:
    for flow in ("tcp4", "udp4", "tcp6", "udp6"):
        out = guest.sh("ethtool", "-n", "vnet0", "rx-flow-hash", flow)
        assert re.findall(r"^(IP SA|IP DA|L4 bytes 0 & 1|L4 bytes 2 & 3)", out, re.M) == [
            "IP SA", "IP DA", "L4 bytes 0 & 1", "L4 bytes 2 & 3"], out


def srxfhindir(dev: str, entries: list[int]) -> int:
    """ETHTOOL_SRXFHINDIR straight through the ioctl, as any program may send it:
    the errno (0 if taken)."""
    buf = ctypes.create_string_buffer(struct.pack(f"II{len(entries)}I", ETHTOOL_SRXFHINDIR,
                                                  len(entries), *entries))
    ifr = struct.pack("16sP", dev.encode(), ctypes.addressof(buf))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            fcntl.ioctl(s, SIOCETHTOOL, ifr)
        except OSError as e:
            return e.errno or -1
    return 0


def test_bad_rss_settings_are_refused_and_change_nothing(vnet: Path) -> None:
    two_queues_up()
    guest.sh("ethtool", "-X", "vnet0", "hkey", KEY.hex(":"), "weight", "1", "1")
    kept = (rss_key(), rss_table())
    bad = [
        ["equal", "3"],                       # a queue that is not running
        ["hkey", "00:11"],                    # a key of the wrong length
        ["hkey", (KEY + b"\x00").hex(":")],
        ["hfunc", "xor"],                     # a hash this NIC does not have
        ["weight", "0", "0"],
        ["context", "1", "equal", "2"],       # no RSS contexts
    ]
    for args in bad:
        p = subprocess.run(["ethtool", "-X", "vnet0", *args], capture_output=True, text=True)
        assert p.returncode != 0, args
        assert (rss_key(), rss_table()) == kept, args
    # Raw tables: an entry past the queues, a huge one, and the wrong size.
    assert srxfhindir("vnet0", [0] * 127 + [2]) == errno.EINVAL
    assert srxfhindir("vnet0", [0xFFFFFFFF] * 128) == errno.EINVAL
    assert srxfhindir("vnet0", [0] * 64) == errno.EINVAL
    assert (rss_key(), rss_table()) == kept
    assert srxfhindir("vnet0", [1] * 128) == 0
    assert rss_table() == [1] * 128


def test_an_unprivileged_user_sets_rss_within_its_queues_only(vnet: Path) -> None:
    """nobody in `unshare -Urn`, on a device of its own: -X within the running queues
    is taken, beyond them refused, and the kernel log stays clean (the fixture)."""
    script = ("ip link add v0 numtxqueues 4 numrxqueues 4 type vnet\n"
              "ip link set v0 up\n"
              "ethtool -L v0 combined 3\n"
              "ethtool -X v0 equal 3\n"
              "ethtool -X v0 equal 4 2>/dev/null && exit 3\n"
              f"ethtool -X v0 hkey {KEY.hex(':')}\n"
              "ethtool -L v0 combined 2 2>/dev/null && exit 4\n"
              "ethtool -X v0 default\n"
              "ethtool -L v0 combined 2\n"
              "ethtool -x v0 | grep -c '^ *[0-9]*:'\n")
    p = in_userns(script, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["16"]
