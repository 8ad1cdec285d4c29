"""``vnet-lab build``: a Debian guest image (``--guest NAME``), made with mmdebstrap.

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
from vnet_ebpf.lab.guests import Guest

DISK_SIZE = "4G"

#: Host tool -> Debian package that provides it.
BUILD_TOOLS = {"mmdebstrap": "mmdebstrap", "mkfs.ext4": "e2fsprogs"}

#: Used when the host's apt sources name no Debian mirror (not a Debian host).
DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEFAULT_SECURITY_MIRROR = "http://deb.debian.org/debian-security"

#: Debian release names, to tell the host's Debian apt lines from other vendors'.
DEBIAN_RELEASES = frozenset({
    "buster", "bullseye", "bookworm", "trixie", "forky", "duke", "sid",
    "oldoldstable", "oldstable", "stable", "testing", "unstable", "experimental",
})


@dataclass(frozen=True)
class Image:
    """A built image: where it is and what is in it."""

    path: Path
    kernel_release: str
    guest: str

    @property
    def kernel(self) -> Path:
        return self.path / "vmlinuz"

    @property
    def initrd(self) -> Path:
        return self.path / "initrd.img"

    @property
    def disk(self) -> Path:
        return self.path / "root.img"


def find_image(guest: Guest, root: Path | None = None) -> Image | None:
    """GUEST's image for the current inputs, or None.  A folder with a missing,
    corrupt or partial image.json, or without its files, counts as no image."""
    root = cache.cache_root() if root is None else root
    path = cache.image_dir(root, guest, cache.image_key(guest))
    kernel_release = (cache.read_image_info(path) or {}).get("kernel_release")
    if not isinstance(kernel_release, str) or not kernel_release:
        return None
    found = Image(path=path, kernel_release=kernel_release, guest=guest.name)
    if not all(f.is_file() for f in (found.kernel, found.initrd, found.disk)):
        return None
    return found


def sbin_path() -> str:
    """$PATH with the sbin folders, where Debian keeps daemons and root's tools (mkfs.ext4,
    libvirtd), which a user's PATH may lack."""
    return os.environ.get("PATH", "") + ":/usr/sbin:/sbin"


def missing_tools(tools: dict[str, str]) -> list[str]:
    """Debian packages to install for the host tools that are not on PATH."""
    search = sbin_path()
    return sorted({pkg for tool, pkg in tools.items() if shutil.which(tool, path=search) is None})


def check_host(tools: dict[str, str]) -> None:
    missing = missing_tools(tools)
    if missing:
        raise UserError(f"missing host tools: install them with `apt-get install {' '.join(missing)}`")


@dataclass(frozen=True)
class AptEntry:
    uri: str
    suite: str


def host_apt_entries(text: str) -> list[AptEntry]:
    """The binary (``deb``) entries of apt sources, one per URI and suite.

    Accepts both the one-line format and deb822 (``.sources``) stanzas.
    """
    entries: list[AptEntry] = []
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for raw in stanza.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("deb "):
                parts = re.sub(r"\[[^]]*\]", " ", line).split()  # drop [options]
                if len(parts) >= 4:
                    entries.append(AptEntry(parts[1], parts[2]))
                continue
            if ":" in line:
                key, _, value = line.partition(":")
                fields[key.strip().lower()] = value.strip()
        if "deb" in fields.get("types", "").split() and fields.get("enabled", "yes") != "no":
            uris, suites = fields.get("uris", "").split(), fields.get("suites", "").split()
            entries.extend(AptEntry(uri, suite) for uri in uris for suite in suites)
    return list(dict.fromkeys(entries))


def host_debian_mirrors(text: str) -> tuple[str | None, str | None]:
    """The URIs the host's apt sources use for the Debian archive and for Debian's
    security archive (None for either when none is named)."""
    archive = security = None
    for entry in host_apt_entries(text):
        if re.split(r"[-/]", entry.suite)[0] not in DEBIAN_RELEASES:
            continue
        if entry.suite.endswith(("-security", "/updates")):
            security = security or entry.uri.rstrip("/")
        else:
            archive = archive or entry.uri.rstrip("/")
    return archive, security


def guest_apt_lines(guest: Guest, archive: str, security: str | None) -> list[str]:
    """``deb URI SUITE main`` for each of the guest's suites; the ``-security`` one from
    SECURITY (left out when there is none)."""
    lines = []
    for suite in guest.apt_suites:
        if suite.endswith("-security"):
            if security:
                lines.append(f"deb {security} {suite} main")
        else:
            lines.append(f"deb {archive} {suite} main")
    return lines


def read_host_apt_sources(apt: Path = Path("/etc/apt")) -> str:
    text = ""
    for f in [apt / "sources.list", *sorted((apt / "sources.list.d").glob("*"))]:
        if f.is_file() and (f.suffix in (".list", ".sources") or f.name == "sources.list"):
            text += f.read_text(errors="replace") + "\n\n"
    return text


def mirror_args(guest: Guest, env: dict[str, str] | None = None, apt_text: str | None = None) -> list[str]:
    """The guest's apt lines: the host's Debian mirrors (whatever release the host
    runs) with the guest's suites; $VNET_LAB_MIRROR replaces the archive mirror
    (and then the guest gets no security suite)."""
    env = dict(os.environ) if env is None else env
    if env.get("VNET_LAB_MIRROR"):
        return guest_apt_lines(guest, env["VNET_LAB_MIRROR"].rstrip("/"), None)
    archive, security = host_debian_mirrors(read_host_apt_sources() if apt_text is None else apt_text)
    if archive is None:  # not a Debian host
        archive, security = DEFAULT_MIRROR, DEFAULT_SECURITY_MIRROR
    return guest_apt_lines(guest, archive, security)


class Steps:
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


def progress(console: Console) -> Progress:
    """The build steps' display: a tick and the time of each step."""
    return Progress(SpinnerColumn(finished_text="[green]✓"), TextColumn("{task.description}"),
                    TimeElapsedColumn(), console=console)


def fresh_workdir(final: Path) -> Path:
    """An empty ``FINAL.tmp`` to assemble a build in, renamed to FINAL only when complete."""
    work = final.with_name(final.name + ".tmp")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    return work


def discard_partial(work: Path) -> None:
    """After a failed build: free the gigabytes of WORK, keeping its build.log.  A root
    that still has /proc, /sys or /dev mounted (mmdebstrap killed outright) is left
    alone: deleting into those would reach the host's."""
    rootfs = work / "rootfs"
    if any(os.path.ismount(rootfs / m) for m in ("proc", "sys", "dev")):
        return
    for item in work.iterdir():
        if item.name == "build.log":
            continue
        if item.is_dir() and not item.is_symlink():
            shutil.rmtree(item, ignore_errors=True)
        else:
            item.unlink(missing_ok=True)


def extract_kernel(rootfs: Path, dest: Path) -> str:
    """Copy the kernel and initrd provision.sh chose out of ROOTFS into DEST (vmlinuz,
    initrd.img); return its release."""
    kver = (rootfs / "etc/vnet-lab/kernel-release").read_text().strip()
    shutil.copy2(rootfs / f"boot/vmlinuz-{kver}", dest / "vmlinuz")
    shutil.copy2(rootfs / f"boot/initrd.img-{kver}", dest / "initrd.img")
    return kver


def pack_root(steps: Steps, rootfs: Path, disk: Path, size: str) -> None:
    """ROOTFS into the ext4 file DISK of SIZE (``mkfs.ext4 -d``: no loop device, no mount),
    labelled vnetlab; ROOTFS is removed."""
    steps.run(["mkfs.ext4", "-q", "-F", "-L", "vnetlab", "-d", str(rootfs), str(disk), size])
    shutil.rmtree(rootfs)


def bootstrap(guest: Guest, steps: Steps, rootfs: Path, wheels: Path,
              extra_packages: tuple[str, ...] = (), extra_hooks: tuple[str, ...] = ()) -> tuple[list[str], list[str]]:
    """Make GUEST's root file system in ROOTFS: provision.sh's packages (and
    EXTRA_PACKAGES) by mmdebstrap, then ``provision.sh --configure`` inside it with the
    Python wheels fetched into WHEELS, then the mmdebstrap EXTRA_HOOKS.  The lab image
    and the Vagrant box (box.py) are both made here, so that they hold the same things.
    Returns the package list and the guest's apt lines."""
    gdir = cache.GUEST_DIR
    list_argv = ["sh", str(gdir / "provision.sh"), "--list-packages"]
    if guest.kernel_from_backports:
        list_argv += ["--kernel-suite", guest.kernel_suite]
    packages = subprocess.run(list_argv, capture_output=True, text=True, check=True).stdout.split()
    packages += extra_packages
    apt_lines = mirror_args(guest)
    with steps.step(f"fetching the guest's Python wheels (Python {guest.python})"):
        steps.run([
            sys.executable, "-m", "pip", "download", "--quiet", "--dest", str(wheels),
            "--only-binary=:all:", "--python-version", guest.python, "--implementation", "cp",
            "--platform", "manylinux2014_x86_64", "-r", str(gdir / "requirements.txt"),
        ])
    with steps.step(f"debootstrapping Debian {guest.suite} ({guest.name}) with {len(packages)} packages"
                    " (mmdebstrap)"):
        hook_dir = "/tmp/vnet-lab-provision"
        steps.run([
            "mmdebstrap", "--variant=minbase", "--mode=root",
            "--include=" + ",".join(packages),
            "--aptopt=APT::Install-Recommends \"false\"",
            "--dpkgopt=path-exclude=/usr/share/doc/*",
            "--dpkgopt=path-exclude=/usr/share/man/*",
            "--dpkgopt=path-exclude=/usr/share/locale/*",
            f'--customize-hook=mkdir -p "$1{hook_dir}"',
            f"--customize-hook=copy-in {gdir} {wheels} {hook_dir}",
            f'--customize-hook=chroot "$1" sh {hook_dir}/guest/provision.sh'
            f" --configure --wheels {hook_dir}/wheels",
            f'--customize-hook=rm -rf "$1{hook_dir}"',
            *(f"--customize-hook={hook}" for hook in extra_hooks),
            guest.suite, str(rootfs), *apt_lines,
        ])
    return packages, apt_lines


def build(guest: Guest, root: Path | None = None, force: bool = False, console: Console | None = None) -> Image:
    """Build GUEST's image if it is not in the cache yet; return it."""
    root = cache.cache_root() if root is None else root
    console = console or Console(stderr=True)
    if not force:
        found = find_image(guest, root)
        if found:
            console.print(f"vnet-lab: {guest.name} image up to date: {found.path} (kernel {found.kernel_release})")
            return found
    if os.geteuid() != 0:
        raise UserError("building the lab image needs root (mmdebstrap, chroot): run `sudo vnet-lab build`")
    check_host(BUILD_TOOLS)

    key = cache.image_key(guest)
    final = cache.image_dir(root, guest, key)
    work = fresh_workdir(final)
    rootfs = work / "rootfs"
    wheels = work / "wheels"
    started = time.monotonic()

    with progress(console) as shown:
        steps = Steps(shown, work / "build.log")
        packages, apt_lines = bootstrap(guest, steps, rootfs, wheels)
        with steps.step("extracting the kernel and initrd"):
            kver = extract_kernel(rootfs, work)
        with steps.step(f"packing the root file system into an ext4 image ({DISK_SIZE})"):
            pack_root(steps, rootfs, work / "root.img", DISK_SIZE)
            shutil.rmtree(wheels)

    meta = {
        "guest": guest.name,
        "suite": guest.suite,
        "apt_suites": list(guest.apt_suites),
        "kernel_suite": guest.kernel_suite,
        "kernel_release": kver,
        "key": key,
        "apt_lines": apt_lines,
        "packages": packages,
        "built": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "build_seconds": round(time.monotonic() - started, 1),
    }
    (work / "image.json").write_text(json.dumps(meta, indent=2) + "\n")
    shutil.rmtree(final, ignore_errors=True)
    work.rename(final)
    # This guest's images of older inputs are never used again: free their ~2 GB each.
    for old in cache.stale_images(root, guest, final):
        shutil.rmtree(old, ignore_errors=True)
    console.print(f"vnet-lab: built {final} ({guest.name}, kernel {kver}) in {meta['build_seconds']} s")
    return Image(path=final, kernel_release=kver, guest=guest.name)
