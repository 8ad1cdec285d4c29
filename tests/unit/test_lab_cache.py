import json
from pathlib import Path

import pytest

from vnet_ebpf.lab import cache, image
from vnet_ebpf.lab.guests import GUESTS

TRIXIE = GUESTS["trixie"]
BPO = GUESTS["trixie-backports"]
BOOKWORM = GUESTS["bookworm"]


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
    before = cache.image_key(TRIXIE, guest_dir=tmp_path)
    assert cache.image_key(TRIXIE, guest_dir=tmp_path) == before
    (tmp_path / "provision.sh").write_text("changed")
    assert cache.image_key(TRIXIE, guest_dir=tmp_path) != before


def test_real_inputs_exist() -> None:
    assert len(cache.image_key(TRIXIE)) == 64


def test_each_guest_has_its_own_key_and_folder() -> None:
    keys = {name: cache.image_key(g) for name, g in GUESTS.items()}
    assert len(set(keys.values())) == 3
    # trixie-backports differs from trixie only in its suites: they are in the key.
    folders = {cache.image_dir(Path("/c"), g, keys[n]) for n, g in GUESTS.items()}
    assert folders == {Path(f"/c/images/{n}-{keys[n][:16]}") for n in GUESTS}


def test_cache_root_precedence() -> None:
    assert cache.cache_root({"VNET_LAB_CACHE": "/c", "HOME": "/h"}) == Path("/c")
    assert cache.cache_root({"XDG_CACHE_HOME": "/x", "HOME": "/h"}) == Path("/x/vnet-lab")
    assert cache.cache_root({"HOME": "/h"}) == Path("/h/.cache/vnet-lab")
    assert cache.image_dir(Path("/c"), TRIXIE, "ab" * 32) == Path("/c/images/trixie-" + "ab" * 8)


def _image(root: Path, name: str, meta: object | None = None) -> Path:
    path = root / "images" / name
    path.mkdir(parents=True)
    if meta is not None:
        (path / "image.json").write_text(meta if isinstance(meta, str) else json.dumps(meta))
    return path


def test_stale_images_are_only_the_same_guests(tmp_path: Path) -> None:
    keep = _image(tmp_path, "trixie-" + "1" * 16)
    old_trixie = _image(tmp_path, "trixie-" + "2" * 16, "{corrupt")
    bpo = _image(tmp_path, "trixie-backports-" + "3" * 16)
    _image(tmp_path, "trixie-backports-" + "4" * 16)
    book = _image(tmp_path, "bookworm-" + "5" * 16)
    legacy_book = _image(tmp_path, "6" * 16, {"suite": "bookworm", "kernel_release": "6.1.0-56-amd64"})
    _image(tmp_path, "7" * 16, "not json")  # cannot tell whose: kept
    _image(tmp_path, "trixie-" + "8" * 16 + ".tmp")  # being built: kept
    assert cache.stale_images(tmp_path, TRIXIE, keep) == [old_trixie]
    assert cache.stale_images(tmp_path, BPO, bpo) == [tmp_path / "images" / ("trixie-backports-" + "4" * 16)]
    assert cache.stale_images(tmp_path, BOOKWORM, book) == [legacy_book]
    assert cache.stale_images(tmp_path / "nothing", TRIXIE, keep) == []


def _current(root: Path, meta: object) -> Path:
    path = cache.image_dir(root, TRIXIE, cache.image_key(TRIXIE))
    path.mkdir(parents=True)
    for name in ("vmlinuz", "initrd.img", "root.img"):
        (path / name).write_bytes(b"")
    (path / "image.json").write_text(meta if isinstance(meta, str) else json.dumps(meta))
    return path


# Truncated, not JSON, not UTF-8, nested too deep to parse, not an object, keys missing or wrong.
BAD_IMAGE_JSON = [b"", b'{"guest": "trix', b"{corrupt", b"\xff\xfe{}", b"[" * 100_000, b"null", b"[1, 2]",
                  b'"trixie"', b"{}", b'{"guest": "trixie"}', b'{"kernel_release": 7}', b'{"kernel_release": ""}']


@pytest.mark.parametrize("meta", BAD_IMAGE_JSON)
def test_find_image_treats_a_bad_image_json_as_missing(tmp_path: Path, meta: bytes) -> None:
    path = _current(tmp_path, "")
    (path / "image.json").write_bytes(meta)
    assert image.find_image(TRIXIE, tmp_path) is None


@pytest.mark.parametrize("meta", [m for m in BAD_IMAGE_JSON if b'"guest"' not in m])
def test_a_bad_image_json_tells_no_owner(tmp_path: Path, meta: bytes) -> None:
    # Named by its key alone (an image from before there were guests): only image.json could tell whose.
    legacy = _image(tmp_path, "9" * 16)
    (legacy / "image.json").write_bytes(meta)
    assert cache.image_owner(legacy) is None
    assert cache.stale_images(tmp_path, TRIXIE, tmp_path / "images" / "keep") == []


def test_image_json_that_is_a_folder(tmp_path: Path) -> None:
    path = _current(tmp_path, "")
    (path / "image.json").unlink()
    (path / "image.json").mkdir()
    assert image.find_image(TRIXIE, tmp_path) is None
    legacy = _image(tmp_path, "9" * 16)
    (legacy / "image.json").mkdir()
    assert cache.image_owner(legacy) is None
    assert cache.stale_images(tmp_path, TRIXIE, tmp_path / "images" / "keep") == [path]


def test_find_image(tmp_path: Path) -> None:
    assert image.find_image(TRIXIE, tmp_path) is None
    path = _current(tmp_path, {"guest": "trixie", "kernel_release": "6.12.118+deb13-amd64"})
    found = image.find_image(TRIXIE, tmp_path)
    assert found == image.Image(path=path, kernel_release="6.12.118+deb13-amd64", guest="trixie")
    assert image.find_image(BPO, tmp_path) is None
    (path / "root.img").unlink()  # a partial image
    assert image.find_image(TRIXIE, tmp_path) is None
