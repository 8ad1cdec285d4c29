"""Where lab images live, and the key that names them.

An image is named by a hash of everything that decides its contents: the
provisioning script, the pinned Python requirements, the guest boot stub, and
the guest (its name and suites).  Same inputs, same key, so a second ``vnet-lab
build`` finds the image and returns at once; change any input and a new image is
built beside the old one.  Each guest's images live in their own folders
(``images/<guest>-<key>``), so building one guest never touches another's.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path

from vnet_ebpf.lab.guests import Guest

#: Bump when the way an image is assembled changes (not what is in it).
IMAGE_FORMAT = "4"

GUEST_DIR = Path(__file__).resolve().parent / "guest"

#: Files whose bytes decide what the image holds.
IMAGE_INPUTS = ("provision.sh", "requirements.txt", "boot.sh", "ynl.sh")


def cache_key(files: Mapping[str, bytes], params: Mapping[str, str]) -> str:
    """Hash named file contents and parameters into a stable hex key.

    Order of the mappings does not matter; names and values are length-prefixed
    so that no two different inputs can produce the same byte stream.
    """
    h = hashlib.sha256()
    for kind, items in (("file", files), ("param", {k: v.encode() for k, v in params.items()})):
        for name in sorted(items):
            data = items[name]
            for part in (kind.encode(), name.encode(), data):
                h.update(len(part).to_bytes(8, "little"))
                h.update(part)
    return h.hexdigest()


def image_key(guest: Guest, guest_dir: Path = GUEST_DIR) -> str:
    files = {name: (guest_dir / name).read_bytes() for name in IMAGE_INPUTS}
    params = {
        "guest": guest.name,
        "suite": guest.suite,
        "apt_suites": " ".join(guest.apt_suites),
        "kernel_suite": guest.kernel_suite,
        "python": guest.python,
        "format": IMAGE_FORMAT,
    }
    return cache_key(files, params)


def cache_root(env: Mapping[str, str] | None = None) -> Path:
    """The cache folder: $VNET_LAB_CACHE, else $XDG_CACHE_HOME/vnet-lab, else ~/.cache/vnet-lab."""
    env = os.environ if env is None else env
    if env.get("VNET_LAB_CACHE"):
        return Path(env["VNET_LAB_CACHE"])
    base = env.get("XDG_CACHE_HOME") or str(Path(env.get("HOME", "/root")) / ".cache")
    return Path(base) / "vnet-lab"


def image_dir(root: Path, guest: Guest, key: str) -> Path:
    return root / "images" / f"{guest.name}-{key[:16]}"


_NAMED = re.compile(r"(?P<guest>.+)-[0-9a-f]{16}")


def read_json_object(path: Path) -> dict[str, object] | None:
    """The JSON object in the file PATH, or None when it is missing, unreadable or not a
    JSON object (a build cut short, a full disk, a hand edit)."""
    try:
        info = json.loads(path.read_text())
    # ValueError: not JSON, nor UTF-8; RecursionError: nested too deep to parse.
    except (OSError, ValueError, RecursionError):
        return None
    return info if isinstance(info, dict) else None


def read_image_info(path: Path) -> dict[str, object] | None:
    """The image.json of the image folder PATH, or None when it cannot be read: such a
    folder is no usable image, and a build replaces it."""
    return read_json_object(path / "image.json")


def image_owner(path: Path) -> str | None:
    """The guest an image folder belongs to: from its name, else from its image.json
    (images made before there were guests are named by their key alone and record
    only their suite, which was the guest's name); None when it cannot be told."""
    named = _NAMED.fullmatch(path.name)
    if named:
        return named["guest"]
    info = read_image_info(path) or {}
    owner = info.get("guest") or info.get("suite")
    return owner if isinstance(owner, str) and owner else None


def stale_images(root: Path, guest: Guest, keep: Path) -> list[Path]:
    """The image folders of GUEST other than KEEP: images of its older inputs.

    Never another guest's image, nor a folder still being built (``*.tmp``), nor
    one whose guest cannot be told.
    """
    return stale_folders(root / "images", guest, keep)


def stale_folders(parent: Path, guest: Guest, keep: Path) -> list[Path]:
    """The folders under PARENT (images/ or boxes/) that belong to GUEST, other than KEEP,
    by the rules of stale_images."""
    if not parent.is_dir():
        return []
    return sorted(
        p for p in parent.iterdir()
        if p.is_dir() and p != keep and not p.name.endswith(".tmp") and image_owner(p) == guest.name
    )
