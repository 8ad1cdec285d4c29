"""Fixtures for tests that run inside the lab guest against the real module.

Run them with `vnet-lab run -- python3 -m pytest tests/vm` (the README's `make vm`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.vm import lab

collect_ignore_glob: list[str] = []
if os.environ.get("VNET_LAB_IN_GUEST") != "1":
    # Outside the guest there is no module to load: these tests only make sense there.
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture
def vnet() -> Iterator[Path]:
    """A freshly loaded vnet module; unloaded afterwards, with a clean kernel log check."""
    lab.unload()
    mark = lab.kmsg_mark()
    lab.load()
    yield Path("/sys/class/net/vnet0")
    lab.unload()
    lab.assert_clean_kmsg(mark)
