"""The register map of `ethtool -d` (vnet_ebpf.regs) against kmod/vnet_uapi.h, and its decoding."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest

from vnet_ebpf import regs
from vnet_ebpf.errors import UserError
from vnet_ebpf.views import ndjson, text

UAPI = (Path(__file__).resolve().parents[2] / "kmod" / "vnet_uapi.h").read_text()


def test_the_map_is_the_kernels() -> None:
    body = re.search(r"enum vnet_reg \{(.*?)\};", UAPI, re.S)
    assert body
    names = re.findall(r"^\s*VNET_REG_(\w+),", body.group(1), re.M)
    assert names[-1] == "NUM"
    assert tuple(n.lower() for n in names[:-1]) == regs.REGISTERS
    bits = {m[0].lower(): int(m[1]) for m in re.findall(r"#define VNET_IRQ_(\w+)\s+\(1U << (\d+)\)", UAPI)}
    assert bits == {name: i for i, name in enumerate(regs.IRQ_BITS)}
    version = re.search(r"#define VNET_REGS_VERSION\s+(\d+)", UAPI)
    assert version and int(version.group(1)) == regs.VERSION


def dump(**words: int) -> bytes:
    return struct.pack(f"={len(regs.REGISTERS)}I", *(words.get(n, 0) for n in regs.REGISTERS))


def test_decode_names_each_word_and_wraps_the_free_running_indexes() -> None:
    r = regs.decode(1, dump(tx_size=256, tx_head=3, tx_doorbell=1, tx_tail=2**32 - 2, rx_size=64, rx_head=7,
                            rx_tail=5, irq=0b10101, hw=1, tx_usecs=20, rx_usecs=30))
    assert r.words["tx_size"] == 256 and r.words["rx_usecs"] == 30
    assert r.ring("tx") == {"posted": 5, "not_rung": 2}  # head 3 is 5 past tail 2^32 - 2
    assert r.ring("rx") == {"filled": 2}
    assert r.irq == {"tx_pending": True, "rx_pending": False, "tx_napi": True, "rx_napi": False, "tx_stopped": True}
    assert r.hardware == "backend"
    lines = text.regs_lines("vnet0", r)
    assert lines[0] == "vnet0 registers (ethtool -d, version 1), hardware: backend"
    assert "5 posted, not yet completed; 2 posted after the last doorbell" in lines[2]
    assert lines[5] == "IRQ      0x15: tx_pending, tx_napi, tx_stopped"
    o = ndjson.regs_obj("vnet0", r, 1.5)
    assert o["schema"] == "vnet-trace.regs/1" and o["registers"]["tx_head"] == 3 and o["tx"]["posted"] == 5


def test_a_longer_dump_keeps_the_known_words() -> None:
    r = regs.decode(1, dump(tx_size=16) + struct.pack("=2I", 9, 9))
    assert r.words["tx_size"] == 16 and len(r.words) == len(regs.REGISTERS)


@pytest.mark.parametrize(("version", "data", "says"), [
    (2, dump(), "version 2: this vnet-trace reads version 1"),
    (1, dump()[:-4], "has 48"),
    (1, dump() + b"\0", "has 48"),
])
def test_a_dump_it_cannot_read_is_one_clear_error(version: int, data: bytes, says: str) -> None:
    with pytest.raises(UserError, match=says):
        regs.decode(version, data)
