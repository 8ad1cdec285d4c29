"""The lessons, in the order the driver grows (lessons/README.md lists them).  Each
has an experiment and a checker (vnet_ebpf/lessons/experiments.py) and marked code
in kmod/ that its skeleton removes (vnet_ebpf/lessons/markers.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Lesson:
    number: int
    slug: str
    title: str


LESSONS: tuple[Lesson, ...] = (
    Lesson(1, "module", "The module and its log"),
    Lesson(2, "net-device", "The net_device"),
    Lesson(3, "tx-ring", "The TX ring"),
    Lesson(4, "bql", "Deferred completion and BQL"),
    Lesson(5, "rx-ring", "The RX ring, with the generator as the hardware"),
    Lesson(6, "napi", "NAPI and its budget"),
    Lesson(7, "stats", "Statistics: ip -s link, ethtool -S and netlink qstats"),
    Lesson(8, "arp", "ARP frames"),
    Lesson(9, "xdp", "XDP"),
    Lesson(10, "page-pool", "page_pool"),
    Lesson(11, "backend", "The userspace backend and the wire"),
    Lesson(12, "queues-rss", "Queue pairs and RSS"),
)


def lesson(number: int) -> Lesson:
    for item in LESSONS:
        if item.number == number:
            return item
    raise LookupError(f"no lesson {number}: there are lessons 1 to {len(LESSONS)}")
