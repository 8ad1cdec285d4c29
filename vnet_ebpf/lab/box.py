"""``vnet-lab box``: the lab guest as a Vagrant box for libvirt (``vnet-lab/NAME``).

The box is made by the same bootstrap as the lab image (image.bootstrap: provision.sh's
packages, then ``provision.sh --configure``), plus what Vagrant needs of a box:
systemd as init, sshd, sudo and rsync, a ``vagrant`` user that Vagrant's well-known
insecure key logs in to, and DHCP on the first network card.

Like the lab image, the box has no boot loader (making one needs a loop device): its
kernel and initrd are files in the box, which libvirt boots directly.  A fresh box
has the headers of that kernel, so ``vagrant up`` never needs to reboot; the catch is
that the VM cannot switch to a kernel that provisioning installs later.

Boxes are cached like the images (``boxes/<guest>-<key>`` under the lab's cache); the
key follows the image's inputs and this file.  The box records its guest and key in
its ``info.json``, so that the box Vagrant has can be told to be current or not.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from vnet_ebpf.errors import UserError
from vnet_ebpf.lab import cache
from vnet_ebpf.lab import image as image_mod
from vnet_ebpf.lab.guests import Guest

#: Virtual size of the box's disk, in GB (sparse: a fresh box uses about 2 GB of it).
DISK_GB = 8

#: What Vagrant needs in a box, beyond provision.sh's packages.
#: python3-setuptools: the Vagrantfile installs the project without fetching a build backend
#: where the guest's is new enough (trixie's).
BOX_PACKAGES = ("systemd-sysv", "systemd-resolved", "openssh-server", "sudo", "rsync",
                "passwd", "ca-certificates", "python3-setuptools")

BUILD_TOOLS = {**image_mod.BUILD_TOOLS, "qemu-img": "qemu-utils"}

#: Where Debian's vagrant package keeps the insecure public key a box must accept.
INSECURE_KEYS = (Path("/usr/share/rubygems-integration/all/gems"), "vagrant-*/keys/vagrant.pub")

#: The network every vnet-lab box brings up: DHCP on whichever card the VM has first.
NETWORK_UNIT = "[Match]\nName=en* eth*\n\n[Network]\nDHCP=yes\n"

#: The kernel command line of the box's VM: the same root as the lab's, the console on
#: the serial port (which vagrant-test logs to a file).
CMDLINE = "root=/dev/vda rw console=ttyS0"

BOX_VAGRANTFILE = """\
# The vnet-lab/{guest} box ({about}, kernel {kver}), made by `vnet-lab box`.
# It has no boot loader: libvirt boots the kernel and initrd kept beside this file.
# libvirt's QEMU runs as its own user, which cannot read Vagrant's folder when that is
# under a private home (/root, or /home/NAME on Debian 12 and later), so they are
# copied first to a folder of ours that it can read, under /var/tmp.
require "fileutils"

boot = File.join("/var/tmp", "vnet-lab-boot-#{{Process.uid}}", "{key}")
top = File.dirname(boot)
FileUtils.mkdir_p(top, mode: 0o755)
st = File.lstat(top)
# /var/tmp is shared: use the folder only if it is ours and no one else can write to it.
if !st.directory? || st.uid != Process.uid || (st.mode & 0o022) != 0
  abort "vnet-lab box: #{{top}} is not a folder of yours that only you can write to: remove it"
end
%w[vmlinuz initrd.img].each do |name|
  src, dst = File.join(__dir__, name), File.join(boot, name)
  next if File.file?(dst) && File.size(dst) == File.size(src)
  FileUtils.mkdir_p(boot, mode: 0o755)
  FileUtils.cp(src, dst + ".tmp")
  File.chmod(0o644, dst + ".tmp")
  File.rename(dst + ".tmp", dst)
end

Vagrant.configure("2") do |config|
  config.vm.provider :libvirt do |lv|
    lv.kernel = File.join(boot, "vmlinuz")
    lv.initrd = File.join(boot, "initrd.img")
    lv.cmd_line = "{cmdline}"
  end
end
"""


def box_name(guest: Guest) -> str:
    return f"vnet-lab/{guest.name}"


def box_key(guest: Guest) -> str:
    return cache.cache_key({"box.py": Path(__file__).read_bytes()}, {"image": cache.image_key(guest)})


@dataclass(frozen=True)
class Box:
    """A built box file and what it holds."""

    path: Path
    guest: str
    key: str
    kernel_release: str


def box_dir(root: Path, guest: Guest) -> Path:
    return root / "boxes" / f"{guest.name}-{box_key(guest)[:16]}"


def find_box(guest: Guest, root: Path | None = None) -> Box | None:
    """GUEST's built box file for the current inputs, or None."""
    folder = box_dir(cache.cache_root() if root is None else root, guest)
    info = cache.read_json_object(folder / "info.json")
    path = folder / f"vnet-lab-{guest.name}.box"
    if info is None or info.get("key") != box_key(guest) or not path.is_file():
        return None
    return Box(path=path, guest=guest.name, key=str(info["key"]), kernel_release=str(info.get("kernel_release")))


def insecure_key() -> Path:
    root, pattern = INSECURE_KEYS
    found = sorted(root.glob(pattern))
    if not found:
        raise UserError("Vagrant's insecure key is not installed: install Vagrant with `apt-get install vagrant`")
    return found[-1]


def vagrant_hooks(pubkey: Path, network: Path) -> tuple[str, ...]:
    """mmdebstrap customize hooks (run on the host, the new root in $1) that make the
    root a Vagrant box: PUBKEY is the insecure key, NETWORK a file holding NETWORK_UNIT."""
    return (
        'chroot "$1" useradd --create-home --shell /bin/bash --groups sudo vagrant',
        'echo vagrant:vagrant | chroot "$1" chpasswd',
        'mkdir -p -m 0700 "$1/home/vagrant/.ssh"',
        f"upload {pubkey} /home/vagrant/.ssh/authorized_keys",
        'chmod 0600 "$1/home/vagrant/.ssh/authorized_keys"',
        'chroot "$1" chown -R vagrant:vagrant /home/vagrant/.ssh',
        'echo "vagrant ALL=(ALL) NOPASSWD:ALL" >"$1/etc/sudoers.d/vagrant"',
        'chmod 0440 "$1/etc/sudoers.d/vagrant"',
        f"upload {network} /etc/systemd/network/80-vnet-lab.network",
        'chroot "$1" systemctl enable systemd-networkd systemd-resolved ssh',
        'ln -sf ../run/systemd/resolve/stub-resolv.conf "$1/etc/resolv.conf"',
        'echo "/dev/vda / ext4 defaults 0 1" >"$1/etc/fstab"',
    )


def build(guest: Guest, root: Path | None = None, force: bool = False, console: Console | None = None) -> Box:
    """Build GUEST's box file if it is not in the cache yet; return it."""
    root = cache.cache_root() if root is None else root
    console = console or Console(stderr=True)
    if not force:
        found = find_box(guest, root)
        if found:
            console.print(f"vnet-lab: {box_name(guest)} box up to date: {found.path}")
            return found
    if os.geteuid() != 0:
        raise UserError(f"building a box needs root (mmdebstrap, chroot): run `sudo vnet-lab box --guest {guest.name}`")
    image_mod.check_host(BUILD_TOOLS)
    pubkey = insecure_key()

    key = box_key(guest)
    final = box_dir(root, guest)
    work = image_mod.fresh_workdir(final)
    try:
        info = _assemble(guest, work, key, pubkey, console)
    except BaseException:
        image_mod.discard_partial(work)
        raise
    shutil.rmtree(final, ignore_errors=True)
    work.rename(final)
    # This guest's boxes of older inputs (not trixie-backports' when this is trixie).
    for old in cache.stale_folders(root / "boxes", guest, final):
        shutil.rmtree(old, ignore_errors=True)
    kver = str(info["kernel_release"])
    console.print(f"vnet-lab: built {final} ({box_name(guest)}, kernel {kver}) in {info['build_seconds']} s")
    return Box(path=final / f"vnet-lab-{guest.name}.box", guest=guest.name, key=key, kernel_release=kver)


#: What the box file holds, as `vagrant box add` unpacks it.
MEMBERS = ("metadata.json", "info.json", "Vagrantfile", "vmlinuz", "initrd.img", "box.img")


def _assemble(guest: Guest, work: Path, key: str, pubkey: Path, console: Console) -> dict[str, object]:
    """Make the box file in WORK; return its info.json."""
    started = time.monotonic()
    rootfs = work / "rootfs"
    with image_mod.progress(console) as shown:
        steps = image_mod.Steps(shown, work / "build.log")
        network = work / "80-vnet-lab.network"
        network.write_text(NETWORK_UNIT)
        image_mod.bootstrap(guest, steps, rootfs, work / "wheels", BOX_PACKAGES, vagrant_hooks(pubkey, network))
        kver = image_mod.extract_kernel(rootfs, work)
        with steps.step(f"packing the root file system into a {DISK_GB} GB qcow2 disk"):
            image_mod.pack_root(steps, rootfs, work / "root.img", f"{DISK_GB}G")
            shutil.rmtree(work / "wheels")
            network.unlink()
            steps.run(["qemu-img", "convert", "-O", "qcow2", str(work / "root.img"), str(work / "box.img")])
            (work / "root.img").unlink()
        info: dict[str, object] = {
            "guest": guest.name, "key": key, "kernel_release": kver,
            "built": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "build_seconds": round(time.monotonic() - started, 1),
        }
        (work / "info.json").write_text(json.dumps(info, indent=2) + "\n")
        meta = {"provider": "libvirt", "format": "qcow2", "virtual_size": DISK_GB}
        (work / "metadata.json").write_text(json.dumps(meta) + "\n")
        (work / "Vagrantfile").write_text(BOX_VAGRANTFILE.format(
            guest=guest.name, about=guest.about, kver=kver, key=key[:16], cmdline=CMDLINE))
        with steps.step("writing the box file"):
            with tarfile.open(work / f"vnet-lab-{guest.name}.box", "w") as tar:
                for name in MEMBERS:
                    tar.add(work / name, arcname=name)
            for name in MEMBERS:
                if name != "info.json":
                    (work / name).unlink()
    return info


def vagrant_home(env: dict[str, str] | None = None) -> Path:
    env = dict(os.environ) if env is None else env
    return Path(env.get("VAGRANT_HOME") or Path(env.get("HOME", "/root")) / ".vagrant.d")


def added_info(guest: Guest, env: dict[str, str] | None = None) -> dict[str, object] | None:
    """The info.json of the box Vagrant has under GUEST's box name, or None."""
    folder = vagrant_home(env) / "boxes" / box_name(guest).replace("/", "-VAGRANTSLASH-")
    for info in sorted(folder.glob("*/libvirt/info.json")):
        return cache.read_json_object(info)
    return None


def add(guest: Guest, built: Box, console: Console | None = None) -> None:
    """Add BUILT to Vagrant as GUEST's box name, unless Vagrant has it already."""
    console = console or Console(stderr=True)
    if shutil.which("vagrant") is None:
        raise UserError("Vagrant is not installed: install it with `apt-get install vagrant vagrant-libvirt`")
    have = added_info(guest)
    if have is not None and have.get("key") == built.key and have.get("guest") == guest.name:
        console.print(f"vnet-lab: Vagrant has the current {box_name(guest)} box")
        return
    rc = subprocess.run(["vagrant", "box", "add", "--force", "--name", box_name(guest), str(built.path)],
                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
    if rc.returncode != 0:
        last = (rc.stderr.strip().splitlines() or ["no message"])[-1]
        raise UserError(f"`vagrant box add` failed: {last}")
    console.print(f"vnet-lab: added the box {box_name(guest)} to Vagrant ({built.path})")
