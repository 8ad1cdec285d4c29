"""How the lab's VMs are emulated: KVM where a probe boot shows it works on this host
(remembered per host kernel, QEMU version and guest kernel), else TCG; or as
$VNET_LAB_ACCEL forces it."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

from vnet_ebpf.errors import UserError
from vnet_ebpf.lab import cache, runner
from vnet_ebpf.lab.image import Image

KVM_PROBE_TIMEOUT = 40.0


def _qemu_version() -> str:
    out = subprocess.run([runner.QEMU, "--version"], capture_output=True, text=True, check=False).stdout
    return out.splitlines()[0] if out else "unknown"


def choose_accel(image: Image, logs: Path, verbose: bool = False) -> str:
    """KVM if a probe boot shows it works on this host (result cached), else TCG.

    /dev/kvm existing is not enough: nested setups exist where a stock kernel
    hangs under KVM, so the only trustworthy test is to boot one.
    """
    forced = os.environ.get("VNET_LAB_ACCEL", "")
    if forced:
        if forced not in ("kvm", "tcg", "tcg-mt", "icount"):
            raise UserError(f"VNET_LAB_ACCEL must be kvm, tcg, tcg-mt or icount, not {forced!r}", 2)
        return forced
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "tcg"
    probe_key = f"{platform.release()}|{_qemu_version()}|{image.kernel_release}"
    memo = cache.cache_root() / "accel.json"
    known = read_accel_memo(memo)
    if probe_key in known:
        return known[probe_key]
    print(f"vnet-lab: probing whether KVM can boot the {image.guest} guest (once per host and guest kernel)...",
          file=sys.stderr)
    result = runner.run_vm(image, Path.cwd(), ["true"], accel="kvm", timeout=KVM_PROBE_TIMEOUT,
                    logs=logs, build_driver=False, quiet=True)
    accel = "kvm" if result.status == 0 else "tcg"
    print(f"vnet-lab: using {accel.upper()}", file=sys.stderr)
    # Re-read: another run may have probed another guest meanwhile.
    write_accel_memo(memo, {**read_accel_memo(memo), probe_key: accel})
    return accel


def read_accel_memo(memo: Path) -> dict[str, str]:
    """accel.json: probe key (host kernel|QEMU version|guest kernel) -> "kvm" or "tcg".

    A missing or unreadable file is an empty memo; the one-entry format of older
    versions ({"key": ..., "accel": ...}) is read as that one entry.
    """
    try:
        data = json.loads(memo.read_text())
    except (OSError, ValueError, RecursionError):
        return {}
    if not isinstance(data, dict):
        return {}
    if set(data) == {"key", "accel"}:
        data = {data["key"]: data["accel"]} if isinstance(data["key"], str) else {}
    return {k: v for k, v in data.items() if isinstance(k, str) and v in ("kvm", "tcg")}


def write_accel_memo(memo: Path, known: dict[str, str]) -> None:
    memo.parent.mkdir(parents=True, exist_ok=True)
    tmp = memo.with_name(f"{memo.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(known, indent=2, sort_keys=True) + "\n")
    tmp.replace(memo)
