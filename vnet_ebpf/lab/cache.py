"""Where lab images live, and the key that names them.

An image is named by a hash of everything that decides its contents: the
provisioning script, the pinned Python requirements, the guest boot stub and the
suite.  Same inputs, same key, so a second ``vnet-lab build`` finds the image and
returns at once; change any input and a new image is built beside the old one.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

#: Bump when the way an image is assembled changes (not what is in it).
IMAGE_FORMAT = "3"

GUEST_DIR = Path(__file__).resolve().parent / "guest"

#: Files whose bytes decide what the image holds.
IMAGE_INPUTS = ("provision.sh", "requirements.txt", "boot.sh")


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


def image_key(suite: str = "bookworm", guest_dir: Path = GUEST_DIR) -> str:
    files = {name: (guest_dir / name).read_bytes() for name in IMAGE_INPUTS}
    return cache_key(files, {"suite": suite, "format": IMAGE_FORMAT})


def cache_root(env: Mapping[str, str] | None = None) -> Path:
    """The cache folder: $VNET_LAB_CACHE, else $XDG_CACHE_HOME/vnet-lab, else ~/.cache/vnet-lab."""
    env = os.environ if env is None else env
    if env.get("VNET_LAB_CACHE"):
        return Path(env["VNET_LAB_CACHE"])
    base = env.get("XDG_CACHE_HOME") or str(Path(env.get("HOME", "/root")) / ".cache")
    return Path(base) / "vnet-lab"


def image_dir(root: Path, key: str) -> Path:
    return root / "images" / key[:16]
