"""Fixtures for tests that run inside the lab guest against the real module.

Run them with `vnet-lab run -- python3 -m pytest tests/vm` (the README's `make vm`).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.vm import guest

collect_ignore_glob: list[str] = []
if os.environ.get("VNET_LAB_IN_GUEST") != "1":
    # Outside the guest there is no module to load: these tests only make sense there.
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture(autouse=True)
def splat_gate(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every guest test fails when the kernel log gained a splat while it ran
    (guest.BAD_KMSG), unless the test declares the lines it provokes on purpose
    with @pytest.mark.kmsg_allows(regex, ...)."""
    allowed = tuple(a for m in request.node.iter_markers("kmsg_allows") for a in m.args)
    mark = guest.kmsg_mark()
    yield
    lines = mark.read()
    bad = guest.splats(lines, allowed)
    mark.close()
    for line in guest.emulator_artefacts(lines):
        warnings.warn(f"emulator artefact in the kernel log (impossible EFLAGS): {line}", stacklevel=1)
    if bad:
        pytest.fail("kernel splat during the test:\n" + "\n".join(bad[:20]), pytrace=False)


@pytest.fixture
def vnet() -> Iterator[Path]:
    """A freshly loaded vnet module; unloaded afterwards, with a clean kernel log check."""
    guest.unload()
    mark = guest.kmsg_mark()
    guest.load()
    yield Path("/sys/class/net/vnet0")
    guest.unload()
    guest.assert_clean_kmsg(mark)
