"""The KVM-probe memo (one result per probe key, so alternating guests does not re-probe) and
the driver digest that decides when the guest rebuilds vnet.ko."""

import json
from pathlib import Path

import pytest

from vnet_ebpf.lab import accel, runner
from vnet_ebpf.lab.image import Image


def test_memo_read_write(tmp_path: Path) -> None:
    memo = tmp_path / "accel.json"
    assert accel.read_accel_memo(memo) == {}
    accel.write_accel_memo(memo, {"a": "kvm", "b": "tcg"})
    assert accel.read_accel_memo(memo) == {"a": "kvm", "b": "tcg"}
    memo.write_text("{corrupt")
    assert accel.read_accel_memo(memo) == {}
    memo.write_text('["kvm"]')
    assert accel.read_accel_memo(memo) == {}
    memo.write_text(json.dumps({"key": "old|probe", "accel": "tcg"}))  # the one-entry format before guests
    assert accel.read_accel_memo(memo) == {"old|probe": "tcg"}
    memo.write_text(json.dumps({"a": "kvm", "b": "warp"}))
    assert accel.read_accel_memo(memo) == {"a": "kvm"}
    memo.write_text(json.dumps({"key": ["not", "a", "key"], "accel": "kvm"}))
    assert accel.read_accel_memo(memo) == {}
    memo.write_text("[" * 100_000)
    assert accel.read_accel_memo(memo) == {}


def test_each_guest_kernel_is_probed_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VNET_LAB_CACHE", str(tmp_path))
    monkeypatch.delenv("VNET_LAB_ACCEL", raising=False)
    monkeypatch.setattr("os.access", lambda path, mode: True)
    monkeypatch.setattr(accel, "_qemu_version", lambda: "QEMU 7.2")
    probes: list[str] = []

    def fake_run_vm(image: Image, *args: object, **kw: object) -> runner.RunResult:
        probes.append(image.guest)
        status = 0 if image.guest == "trixie" else 1
        return runner.RunResult(status, tmp_path / "k", tmp_path / "c", True)

    monkeypatch.setattr(runner, "run_vm", fake_run_vm)
    trixie = Image(tmp_path / "t", "6.12.118+deb13-amd64", "trixie")
    book = Image(tmp_path / "b", "6.1.0-56-amd64", "bookworm")
    for _ in range(2):
        assert accel.choose_accel(trixie, tmp_path) == "kvm"
        assert accel.choose_accel(book, tmp_path) == "tcg"
    assert probes == ["trixie", "bookworm"]
    assert sorted(accel.read_accel_memo(tmp_path / "accel.json").values()) == ["kvm", "tcg"]


def test_kmod_digest_ignores_generated_mod_c(tmp_path: Path) -> None:
    (tmp_path / "vnet_main.c").write_text("int x;")
    (tmp_path / "Kbuild").write_text("obj-m := vnet.o")
    before = runner.kmod_digest(tmp_path)
    (tmp_path / "vnet.mod.c").write_text("MODULE_INFO(vermagic, VERMAGIC_STRING);")
    (tmp_path / "vnet.o").write_bytes(b"\0")
    assert runner.kmod_digest(tmp_path) == before
    (tmp_path / "vnet_main.c").write_text("int y;")
    assert runner.kmod_digest(tmp_path) != before
