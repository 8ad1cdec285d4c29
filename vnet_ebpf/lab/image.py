"""``vnet-lab build``: a Debian bookworm guest image, made with mmdebstrap.

Steps: fetch the guest's Python wheels on the host (the chroot has no index of
its own), mmdebstrap a minbase root with provision.sh's package list, run
``provision.sh --configure`` inside it, copy out the kernel and initrd, and pack
the root into an ext4 image (``mkfs.ext4 -d``: no loop device, no mount).  The
result is moved into place only when complete, so a half-built image is never
found by a later run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from vnet_ebpf.errors import UserError
from vnet_ebpf.lab import cache

SUITE = "bookworm"
GUEST_PYTHON = "3.11"  # bookworm's python3
DISK_SIZE = "4G"

#: Host tool -> Debian package that provides it.
BUILD_TOOLS = {"mmdebstrap": "mmdebstrap", "mkfs.ext4": "e2fsprogs"}


@dataclass(frozen=True)
class Image:
    """A built image: where it is and what is in it."""

    path: Path
    kernel_release: str

    @property
    def kernel(self) -> Path:
        return self.path / "vmlinuz"

    @property
    def initrd(self) -> Path:
        return self.path / "initrd.img"

    @property
    def disk(self) -> Path:
        return self.path / "root.img"


def find_image(root: Path | None = None) -> Image | None:
    root = cache.cache_root() if root is None else root
    path = cache.image_dir(root, cache.image_key(SUITE))
    meta = path / "image.json"
    if not meta.is_file():
        return None
    info = json.loads(meta.read_text())
    return Image(path=path, kernel_release=str(info["kernel_release"]))


def missing_tools(tools: dict[str, str]) -> list[str]:
    """Debian packages to install for the host tools that are not on PATH."""
    search = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    return sorted({pkg for tool, pkg in tools.items() if shutil.which(tool, path=search) is None})


def check_host(tools: dict[str, str]) -> None:
    missing = missing_tools(tools)
    if missing:
        raise UserError(f"missing host tools: install them with `apt-get install {' '.join(missing)}`")


def host_apt_sources(text: str) -> list[str]:
    """One-line ``deb URI SUITE COMPONENTS`` entries for SUITE* from apt sources.

    Accepts both the one-line format and deb822 (``.sources``) stanzas, so the
    guest uses whatever Debian mirror the host is already set up for.
    """
    lines: list[str] = []
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for raw in stanza.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("deb "):
                parts = line.split()
                if parts[1].startswith("["):  # options
                    parts = [p for p in parts if not p.startswith("[") and not p.endswith("]")]
                if len(parts) >= 4 and parts[2].startswith(SUITE):
                    lines.append(" ".join(["deb", parts[1], parts[2], "main"]))
                continue
            if ":" in line:
                key, _, value = line.partition(":")
                fields[key.strip().lower()] = value.strip()
        if fields.get("types", "").split()[:1] == ["deb"] and fields.get("enabled", "yes") != "no":
            for uri in fields.get("uris", "").split():
                for suite in fields.get("suites", "").split():
                    if suite.startswith(SUITE):
                        lines.append(f"deb {uri} {suite} main")
    return list(dict.fromkeys(lines))


def mirror_args() -> list[str]:
    if os.environ.get("VNET_LAB_MIRROR"):
        m = os.environ["VNET_LAB_MIRROR"]
        return [f"deb {m} {SUITE} main", f"deb {m} {SUITE}-updates main"]
    text = ""
    apt = Path("/etc/apt")
    for f in [apt / "sources.list", *sorted((apt / "sources.list.d").glob("*"))]:
        if f.is_file() and (f.suffix in (".list", ".sources") or f.name == "sources.list"):
            text += f.read_text(errors="replace") + "\n\n"
    # Nothing usable (not a Debian host): mmdebstrap's own default mirror.
    return host_apt_sources(text) or [SUITE]


class _Steps:
    """Runs build steps under a Rich progress display, logging their output."""

    def __init__(self, progress: Progress, log: Path) -> None:
        self.progress = progress
        self.log = log

    @contextmanager
    def step(self, text: str) -> Iterator[None]:
        task = self.progress.add_task(text, total=1)
        yield
        self.progress.update(task, completed=1)

    def run(self, argv: list[str]) -> None:
        with self.log.open("a") as out:
            out.write(f"\n$ {' '.join(argv)}\n")
            out.flush()
            rc = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, check=False).returncode
        if rc != 0:
            tail = self.log.read_text(errors="replace").splitlines()[-15:]
            self.progress.console.print("\n".join(tail), markup=False, highlight=False)
            raise UserError(f"`{argv[0]}` failed (exit {rc}); full log: {self.log}")


def build(root: Path | None = None, force: bool = False, console: Console | None = None) -> Image:
    """Build the image if it is not in the cache yet; return it."""
    root = cache.cache_root() if root is None else root
    console = console or Console(stderr=True)
    if not force:
        found = find_image(root)
        if found:
            console.print(f"vnet-lab: image up to date: {found.path} (kernel {found.kernel_release})")
            return found
    if os.geteuid() != 0:
        raise UserError("building the lab image needs root (mmdebstrap, chroot): run `sudo vnet-lab build`")
    check_host(BUILD_TOOLS)

    key = cache.image_key(SUITE)
    final = cache.image_dir(root, key)
    work = final.with_name(final.name + ".tmp")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    log = work / "build.log"
    rootfs = work / "rootfs"
    wheels = work / "wheels"
    guest = cache.GUEST_DIR
    started = time.monotonic()

    packages = subprocess.run(
        ["sh", str(guest / "provision.sh"), "--list-packages"], capture_output=True, text=True, check=True
    ).stdout.split()

    columns = (SpinnerColumn(finished_text="[green]✓"), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        steps = _Steps(progress, log)
        with steps.step("fetching the guest's Python wheels"):
            steps.run([
                sys.executable, "-m", "pip", "download", "--quiet", "--dest", str(wheels),
                "--only-binary=:all:", "--python-version", GUEST_PYTHON, "--implementation", "cp",
                "--platform", "manylinux2014_x86_64", "-r", str(guest / "requirements.txt"),
            ])
        with steps.step(f"debootstrapping Debian {SUITE} with {len(packages)} packages (mmdebstrap)"):
            hook_dir = "/tmp/vnet-lab-provision"
            steps.run([
                "mmdebstrap", "--variant=minbase", "--mode=root",
                "--include=" + ",".join(packages),
                "--aptopt=APT::Install-Recommends \"false\"",
                "--dpkgopt=path-exclude=/usr/share/doc/*",
                "--dpkgopt=path-exclude=/usr/share/man/*",
                "--dpkgopt=path-exclude=/usr/share/locale/*",
                f'--customize-hook=mkdir -p "$1{hook_dir}"',
                f"--customize-hook=copy-in {guest} {wheels} {hook_dir}",
                f'--customize-hook=chroot "$1" sh {hook_dir}/guest/provision.sh'
                f" --configure --wheels {hook_dir}/wheels",
                f'--customize-hook=rm -rf "$1{hook_dir}"',
                SUITE, str(rootfs), *mirror_args(),
            ])
        with steps.step("extracting the kernel and initrd"):
            kver = (rootfs / "etc/vnet-lab/kernel-release").read_text().strip()
            shutil.copy2(rootfs / f"boot/vmlinuz-{kver}", work / "vmlinuz")
            shutil.copy2(rootfs / f"boot/initrd.img-{kver}", work / "initrd.img")
        with steps.step(f"packing the root file system into an ext4 image ({DISK_SIZE})"):
            steps.run(["mkfs.ext4", "-q", "-F", "-L", "vnetlab", "-d", str(rootfs), str(work / "root.img"), DISK_SIZE])
            shutil.rmtree(rootfs)
            shutil.rmtree(wheels)

    meta = {
        "kernel_release": kver,
        "suite": SUITE,
        "key": key,
        "packages": packages,
        "built": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "build_seconds": round(time.monotonic() - started, 1),
    }
    (work / "image.json").write_text(json.dumps(meta, indent=2) + "\n")
    shutil.rmtree(final, ignore_errors=True)
    work.rename(final)
    # Images of older inputs are never used again: free their ~2 GB each.
    for old in final.parent.iterdir():
        if old != final and not old.name.endswith(".tmp"):
            shutil.rmtree(old, ignore_errors=True)
    console.print(f"vnet-lab: built {final} (kernel {kver}) in {meta['build_seconds']} s")
    return Image(path=final, kernel_release=kver)
