"""Loading BCC and our BPF sources."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType
from typing import Any

from vnet_ebpf.errors import UserError

#: The checkout's top level: bpf/ (programs) and kmod/ (the driver's header).
TOP = Path(__file__).resolve().parents[2]
BPF_DIR = TOP / "bpf"
KMOD_DIR = TOP / "kmod"

INSTALL_HINT = "BCC's Python bindings are missing: install them with `apt-get install python3-bpfcc`"


def import_bcc() -> ModuleType:
    """Import bcc or fail with a one-line install hint."""
    try:
        return importlib.import_module("bcc")
    except ImportError as err:
        raise UserError(INSTALL_HINT) from err
    # A PyPI package also called "bcc" exists and shadows the real one.


def require_root() -> None:
    if os.geteuid() != 0:
        raise UserError("tracing needs root (BPF and kprobes): run it with sudo")


def load(source_name: str, cflags: list[str] | None = None) -> Any:
    """Compile bpf/SOURCE_NAME with BCC; the driver's header is on the include path."""
    bcc = import_bcc()
    if not hasattr(bcc, "BPF"):
        raise UserError(f"the `bcc` module found is not BCC's ({bcc.__file__}): {INSTALL_HINT}")
    text = (BPF_DIR / source_name).read_text()
    flags = [f"-I{KMOD_DIR}", f"-I{BPF_DIR}", *(cflags or [])]
    try:
        return bcc.BPF(text=text, cflags=flags)
    except Exception as err:  # BCC raises a bare Exception; the compiler output is above
        raise UserError(f"BCC could not compile or load bpf/{source_name}: {err}") from err
