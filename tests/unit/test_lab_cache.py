from pathlib import Path

from vnet_ebpf.lab import cache


def test_key_is_stable_and_order_independent() -> None:
    a = cache.cache_key({"x": b"1", "y": b"2"}, {"suite": "bookworm"})
    b = cache.cache_key({"y": b"2", "x": b"1"}, {"suite": "bookworm"})
    assert a == b
    assert len(a) == 64


def test_key_changes_with_any_input() -> None:
    base = cache.cache_key({"x": b"1"}, {"suite": "bookworm"})
    assert cache.cache_key({"x": b"2"}, {"suite": "bookworm"}) != base
    assert cache.cache_key({"z": b"1"}, {"suite": "bookworm"}) != base
    assert cache.cache_key({"x": b"1"}, {"suite": "trixie"}) != base


def test_key_has_no_concatenation_collisions() -> None:
    assert cache.cache_key({"ab": b"c"}, {}) != cache.cache_key({"a": b"bc"}, {})
    assert cache.cache_key({"a": b""}, {"a": ""}) != cache.cache_key({}, {"a": ""})


def test_image_key_follows_guest_files(tmp_path: Path) -> None:
    for name in cache.IMAGE_INPUTS:
        (tmp_path / name).write_text(name)
    before = cache.image_key(guest_dir=tmp_path)
    assert cache.image_key(guest_dir=tmp_path) == before
    (tmp_path / "provision.sh").write_text("changed")
    assert cache.image_key(guest_dir=tmp_path) != before


def test_real_inputs_exist() -> None:
    assert len(cache.image_key()) == 64


def test_cache_root_precedence() -> None:
    assert cache.cache_root({"VNET_LAB_CACHE": "/c", "HOME": "/h"}) == Path("/c")
    assert cache.cache_root({"XDG_CACHE_HOME": "/x", "HOME": "/h"}) == Path("/x/vnet-lab")
    assert cache.cache_root({"HOME": "/h"}) == Path("/h/.cache/vnet-lab")
    assert cache.image_dir(Path("/c"), "ab" * 32) == Path("/c/images/" + "ab" * 8)
