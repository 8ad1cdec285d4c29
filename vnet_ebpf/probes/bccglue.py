"""Loading BCC and our BPF sources."""

from __future__ import annotations

import ctypes
import importlib
import mmap
import os
import re
from pathlib import Path
from types import ModuleType
from typing import Any

from vnet_ebpf.errors import UserError
from vnet_ebpf.probes import device


def sources_dir(package: Path | None = None) -> Path:
    """Where bpf/ (the programs) and kmod/ (the driver's headers) are: the checkout this
    package runs from, else the copies an installed wheel carries (setup.py)."""
    package = package or Path(__file__).resolve().parents[1]
    checkout = package.parent
    if (checkout / "bpf" / "vnet_trace.bpf.c").is_file() and (checkout / "kmod" / "vnet.h").is_file():
        return checkout
    return package / "_sources"


TOP = sources_dir()
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


def bcc_has_module_fentry() -> bool:
    """BCC >= 0.28 attaches fentry/fexit programs to module functions (MODULE_KFUNC_PROBE);
    older BCC only to vmlinux.  Also False without BCC or kernel trampolines."""
    try:
        bcc = importlib.import_module("bcc")
    except ImportError:
        return False
    version = tuple(int(p) for p in re.findall(r"\d+", str(getattr(bcc, "__version__", "0")))[:2])
    try:
        kernel_ok = bool(bcc.BPF.support_kfunc())
    except Exception:  # an old or foreign bcc
        return False
    return version >= (0, 28) and kernel_ok


def require_root() -> None:
    if os.geteuid() != 0:
        raise UserError("tracing needs root (BPF and kprobes): run it with sudo")


def kernel_cflags(release: str | None = None) -> list[str]:
    """What BCC needs to compile the headers of kernel RELEASE (default: the running one).

    From 6.19 the kernel builds with -fms-extensions (its headers embed structs without a
    member name), and its internal <linux/bpf.h>, which <linux/netdevice.h> pulls in, uses
    uapi names newer than the copy of <uapi/linux/bpf.h> that BCC 0.31 (Debian 13) bundles
    and serves in its place.  Our programs use nothing from that header, so its guard is
    defined and it is skipped.
    """
    m = re.match(r"(\d+)\.(\d+)", release or os.uname().release)
    if m and (int(m.group(1)), int(m.group(2))) >= (6, 19):
        return ["-fms-extensions", "-D_LINUX_BPF_H"]
    return []


def load(source_name: str, cflags: list[str] | None = None) -> Any:
    """Compile bpf/SOURCE_NAME with BCC; the driver's header is on the include path."""
    bcc = import_bcc()
    if not hasattr(bcc, "BPF"):
        raise UserError(f"the `bcc` module found is not BCC's ({getattr(bcc, '__file__', None) or bcc}): "
                        f"{INSTALL_HINT}")
    try:
        text = (BPF_DIR / source_name).read_text()
    except OSError as err:
        raise UserError(f"cannot read the BPF program {source_name} ({err.strerror}: {err.filename}): "
                        "reinstall vnet-ebpf, or run from its checkout") from err
    flags = [f"-I{KMOD_DIR}", f"-I{BPF_DIR}", *kernel_cflags(), *(cflags or [])]
    try:
        return bcc.BPF(text=text, cflags=flags)
    except Exception as err:  # BCC raises a bare Exception; the compiler output is above
        raise UserError(f"BCC could not compile or load bpf/{source_name}: {err}") from err


class MappedArray:
    """The values of a BPF_F_MMAPABLE array, mapped into our memory as 64-bit words:
    reading them is a memory copy, no syscall.  The probes write them while we read,
    as with a map lookup; each word is read whole."""

    def __init__(self, table: Any, writable: bool = False) -> None:
        self.leaf: Any = table.Leaf
        # The kernel rounds each value to 8 bytes and starts the values at offset 0.
        self.stride = -(-ctypes.sizeof(self.leaf) // 8)
        self.entries = int(table.max_entries)
        size = self.stride * 8 * self.entries
        prot = mmap.PROT_READ | (mmap.PROT_WRITE if writable else 0)
        self._mm = mmap.mmap(table.get_fd(), -(-size // mmap.PAGESIZE) * mmap.PAGESIZE, mmap.MAP_SHARED, prot)
        # Each view holds the mapping open: close() releases them, last made first.
        self._views = [memoryview(self._mm)]
        self._views.append(self._views[-1].cast("Q"))
        self._views.append(self._views[-1][: self.stride * self.entries])
        self.words = self._views[-1]

    def field(self, name: str) -> tuple[int, int]:
        """Where field NAME of the value struct is, in words: (offset, length)."""
        desc = getattr(self.leaf, name)
        return desc.offset // 8, desc.size // 8

    def rows(self) -> list[list[int]]:
        """A copy of every entry, as [entry][word]."""
        flat = self.words.tolist()
        return [flat[i * self.stride:(i + 1) * self.stride] for i in range(self.entries)]

    def close(self) -> None:
        for view in reversed(self._views):
            view.release()
        self._mm.close()


def column_sums(rows: list[list[int]], off: int, n: int) -> list[int]:
    """Words OFF..OFF+N-1 summed over ROWS (one row a CPU); a C loop, run every interval."""
    return list(map(sum, zip(*(row[off:off + n] for row in rows), strict=True)))


def percpu_rows(table: Any) -> list[list[int]]:
    """Every entry of a per-CPU array as [entry][cpu], in one batched syscall."""
    try:
        items = sorted(table.items_lookup_batch(), key=lambda kv: int(kv[0]))
        return [list(v) for _, v in items]
    except Exception:  # older kernels: one lookup per entry
        return [list(table[ctypes.c_int(i)]) for i in range(len(table))]


class Loaded:
    """What a loaded BPF object holds while it runs: the object itself, the fd that
    keeps the kernel's run-time statistics on, the device's ethtool handle and sysfs files."""

    def __init__(self) -> None:
        self.bpf: Any = None
        self.stats_fd: int | None = None
        self.ethtool: device.DriverStats | None = None
        self.files: device.DeviceFiles | None = None

    def alive(self) -> bool:
        """False once the device is gone (deleted, or its module unloaded)."""
        return self.files is not None and self.files.alive()

    def release(self) -> None:
        """Free all of it; detaches every probe BCC attached.  Safe to call twice."""
        if self.bpf is not None:
            self.bpf.cleanup()
            self.bpf = None
        if self.stats_fd is not None:
            os.close(self.stats_fd)
            self.stats_fd = None
        if self.ethtool is not None:
            self.ethtool.close()
            self.ethtool = None
        if self.files is not None:
            self.files.close()
            self.files = None
