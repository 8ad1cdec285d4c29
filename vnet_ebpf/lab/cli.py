"""``vnet-lab``: the QEMU lab that runs the driver and the tracer on any Linux box."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from vnet_ebpf.errors import UserError, reported
from vnet_ebpf.lab import accel, box, guests, runner, vagrant
from vnet_ebpf.lab import image as image_mod
from vnet_ebpf.lab.guests import Guest
from vnet_ebpf.lessons import catalog, markers
from vnet_ebpf.units import parse_duration, parse_rate

PROG = "vnet-lab"
DEFAULT_TIMEOUT = 1800.0

F = TypeVar("F", bound=Callable[..., object])


def guest_option(fn: F) -> F:
    """--guest NAME; checked by the command itself (guests.resolve), so that an unknown
    name, from the option or from $VNET_LAB_GUEST alike, is one line and exit status 2."""
    return click.option(
        "--guest", metavar="NAME", default=None,
        help=f"Which guest: {', '.join(guests.GUESTS)} (default: ${guests.ENV_VAR}, else {guests.DEFAULT}).",
    )(fn)


def _guest(option: str | None) -> Guest:
    return guests.resolve(option, os.environ)


def find_checkout(start: Path | None = None) -> Path:
    """The vnet-ebpf checkout to share into the guest: the nearest folder up from
    START (default: the current one) that has kmod/ and pyproject.toml, else the
    checkout this package was loaded from."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "kmod").is_dir() and (folder / "pyproject.toml").is_file():
            return folder
    pkg_root = Path(__file__).resolve().parents[2]
    if (pkg_root / "kmod").is_dir():
        return pkg_root
    raise UserError("cannot find the vnet-ebpf checkout: run vnet-lab from inside it")


def _image(guest: Guest, build_missing: bool) -> image_mod.Image:
    found = image_mod.find_image(guest)
    if found:
        return found
    if not build_missing:
        raise UserError(f"no {guest.name} lab image for these inputs: "
                        f"run `sudo vnet-lab build --guest {guest.name}` first")
    # Before saying a build starts: as another user it would stop at once.
    if os.geteuid() != 0:
        raise UserError(f"no {guest.name} lab image for these inputs, and building one needs root: "
                        f"run `sudo vnet-lab build --guest {guest.name}`")
    print(f"{PROG}: no {guest.name} lab image yet, building one first (a few minutes)", file=sys.stderr)
    return image_mod.build(guest)


def _prepare(guest: Guest, build_missing: bool) -> tuple[image_mod.Image, Path, Path, str]:
    runner_missing = image_mod.missing_tools(runner.RUN_TOOLS)
    if runner_missing:
        raise UserError(f"missing host tools: install them with `apt-get install {' '.join(runner_missing)}`")
    src = find_checkout()
    img = _image(guest, build_missing)
    logs = src / ".lab" / "logs"
    return img, src, logs, accel.choose_accel(img, logs)


def _check_driver_flags(load: bool, no_driver: bool) -> None:
    if load and no_driver:
        raise UserError("--load needs the driver: drop --no-driver", 2)


def _run(guest: Guest, cmd: list[str], timeout: float, load: bool, verbose: bool, build_missing: bool,
         build_driver: bool = True) -> int:
    img, src, logs, accel = _prepare(guest, build_missing)
    result = runner.run_vm(img, src, cmd, accel=accel, timeout=timeout, logs=logs, load=load, verbose=verbose,
                           build_driver=build_driver)
    if result.status != 0 and not result.interrupted:  # an interrupted run has said so in one line
        print(f"{PROG}: exit status {result.status}; guest kernel log: {result.kmsg_log}", file=sys.stderr)
    return result.status


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="vnet-ebpf", prog_name=PROG)
def main() -> None:
    """The vnet-ebpf lab: a Debian guest under QEMU (KVM when it works, else
    software emulation) with the driver, BCC and the tools, sharing this checkout."""


@main.command()
@guest_option
@click.option("--force", is_flag=True, help="Rebuild even if an image with the same inputs exists.")
@reported(PROG)
def build(guest: str | None, force: bool) -> None:
    """Build the guest image (cached by a hash of its inputs; needs root).

    The cache folder is $VNET_LAB_CACHE, else ~/.cache/vnet-lab.
    """
    image_mod.build(_guest(guest), force=force)


@main.command("box")
@guest_option
@click.option("--force", is_flag=True, help="Rebuild even if a box with the same inputs exists.")
@click.option("--no-add", is_flag=True, help="Only build the box file; do not add it to Vagrant.")
@reported(PROG)
def box_cmd(guest: str | None, force: bool, no_add: bool) -> None:
    """Build the guest as a Vagrant box for libvirt and add it to Vagrant as
    vnet-lab/NAME (cached like the images; building needs root).

    Then `VNET_VAGRANT_BOX=vnet-lab/NAME vagrant up --provider=libvirt` needs no
    download; the box file (printed) can be copied to other machines and added there
    with `vagrant box add --name vnet-lab/NAME FILE`.
    """
    g = _guest(guest)
    built = box.build(g, force=force)
    if not no_add:
        box.add(g, built)


@main.command("vagrant-test")
@guest_option
@click.option("--timeout", type=click.FloatRange(min=60), default=2400.0, show_default=True,
              help="Give up (and destroy the VM) after this many seconds.")
@click.option("--cpus", type=click.IntRange(1, 64), default=2, show_default=True, help="The VM's vCPUs.")
@reported(PROG)
def vagrant_test(guest: str | None, timeout: float, cpus: int) -> None:
    """Boot the checkout's Vagrantfile for real on libvirt, with the lab's box: vagrant up,
    load the driver, run vnet-trace napi, vagrant destroy (needs root).

    libvirt's domain type follows the lab: qemu (software emulation) where the lab uses
    TCG, else kvm.  Every step is timed; a failure is one line, and the VM's console log
    is kept in .lab/logs/.
    """
    g = _guest(guest)
    if os.geteuid() != 0:
        raise UserError("vagrant-test needs root (libvirtd, the box build): run `sudo make vagrant-test`")
    timings = vagrant.test(g, find_checkout(), timeout, _libvirt_driver(g), cpus)
    print(f"vagrant-test: passed: {timings.summary()}")


def _libvirt_driver(g: Guest) -> str:
    """kvm or qemu, as the lab decides for the same guest kernel (accel.choose_accel)."""
    img = image_mod.find_image(g)
    if img is None:
        forced = os.environ.get("VNET_LAB_ACCEL", "")
        usable = os.access("/dev/kvm", os.R_OK | os.W_OK)
        return "kvm" if forced == "kvm" or (not forced and usable) else "qemu"
    return "kvm" if accel.choose_accel(img, find_checkout() / ".lab" / "logs") == "kvm" else "qemu"


@main.command(context_settings={"ignore_unknown_options": True})
@guest_option
@click.option("--timeout", type=click.FloatRange(min=1), default=DEFAULT_TIMEOUT, show_default=True,
              help="Stop the VM after this many seconds (exit status 124).")
@click.option("--load", is_flag=True, help="Also load kmod/vnet.ko before running CMD.")
@click.option("-v", "--verbose", is_flag=True, help="Show the guest's boot output too.")
@click.option("--no-build", is_flag=True, help="Fail instead of building a missing image.")
@click.option("--no-driver", is_flag=True, help="Neither build nor load kmod/vnet.ko in the guest.")
@click.option("--icount", is_flag=True,
              help="Software emulation with the guest's clock counting instructions (QEMU -icount), "
                   "so that rates measured in the guest do not depend on the host's load (benchmarks).")
@click.argument("cmd", nargs=-1, required=True, type=click.UNPROCESSED)
@reported(PROG)
def run(guest: str | None, timeout: float, load: bool, verbose: bool, no_build: bool, no_driver: bool,
        icount: bool, cmd: tuple[str, ...]) -> None:
    """Boot the guest, build the driver, run CMD as root in the checkout; exit with CMD's status.

    Example: vnet-lab run --load -- ip -s link show vnet0
    """
    g = _guest(guest)
    _check_driver_flags(load, no_driver)
    if icount:
        os.environ["VNET_LAB_ACCEL"] = "icount"
    sys.exit(_run(g, list(cmd), timeout, load, verbose, not no_build, build_driver=not no_driver))


@main.command()
@guest_option
@click.option("--load", is_flag=True, help="Also load kmod/vnet.ko.")
@click.option("--no-driver", is_flag=True, help="Neither build nor load kmod/vnet.ko in the guest.")
@reported(PROG)
def shell(guest: str | None, load: bool, no_driver: bool) -> None:
    """An interactive root shell in the guest (the VM stops when it exits; Ctrl-A x kills it)."""
    g = _guest(guest)
    _check_driver_flags(load, no_driver)
    img, src, logs, accel = _prepare(g, True)
    sys.exit(runner.shell(img, src, accel=accel, load=load, logs=logs, build_driver=not no_driver))


@main.command()
@guest_option
@click.option("--seconds", type=click.IntRange(min=1), default=30, show_default=True,
              help="How long the live dashboard runs.")
@click.option("--timeout", type=click.FloatRange(min=1), default=DEFAULT_TIMEOUT, show_default=True,
              help="Stop the VM after this many seconds, booting and building included (exit status 124).")
@click.option("--wire", is_flag=True,
              help="vnet0 and vnet1 in two namespaces joined by vnet-wire, with ping and iperf3 between them.")
@click.option("--rate", metavar="RATE", help="With --wire: the wire's rate (vnet-wire --rate, e.g. 20M).")
@click.option("--delay", metavar="DURATION", help="With --wire: the wire's one-way delay (e.g. 5ms).")
@reported(PROG)
def demo(guest: str | None, seconds: int, timeout: float, wire: bool, rate: str | None, delay: str | None) -> None:
    """The main job: build the guest if needed, load vnet0, drive RX and TX traffic and
    show `vnet-trace top` live for SECONDS, then stop cleanly.  With --wire the traffic
    is real: TCP and ping between two namespaces through /dev/vnet."""
    g = _guest(guest)
    cmd = ["python3", "-m", "vnet_ebpf.lab.demo", str(seconds)]
    if (rate or delay) and not wire:
        raise UserError("--rate and --delay shape the wire: they need --wire", status=2)
    if wire:
        cmd = ["python3", "-m", "vnet_ebpf.lab.demo", "--wire", str(seconds)]
        for opt, value, parse in (("--rate", rate, parse_rate), ("--delay", delay, parse_duration)):
            if value:
                try:
                    parse(value)  # here, not after the VM booted
                except ValueError as err:
                    raise UserError(f"{opt}: {err}", status=2) from None
                cmd += [opt, value]
    sys.exit(_run(g, cmd, timeout, True, False, True))


def _lesson(number: int) -> catalog.Lesson:
    try:
        return catalog.lesson(number)
    except LookupError as err:
        raise UserError(str(err), status=2) from None


def _lesson_cmd(number: int, kmod: str | None = None) -> list[str]:
    cmd = ["python3", "-m", "vnet_ebpf.lessons.main", "run", str(number)]
    return [*cmd, "--kmod", kmod] if kmod else cmd


@main.command()
@guest_option
@click.argument("number", type=int)
@click.option("--skeleton", "skeleton", metavar="DIR", type=click.Path(file_okay=False, path_type=Path),
              help="Write the lesson's skeleton of kmod/ into DIR (new or empty) instead; no VM.")
@click.option("--timeout", type=click.FloatRange(min=1), default=DEFAULT_TIMEOUT, show_default=True,
              help="Stop the VM after this many seconds (exit status 124).")
@reported(PROG)
def lesson(guest: str | None, number: int, skeleton: Path | None, timeout: float) -> None:
    """Lesson NUMBER (lessons/NN-*/README.md): its experiment in the guest, narrated
    step by step, then its checks and a score (exit status 0 when all pass).

    With --skeleton DIR: a copy of kmod/ with the lesson's code replaced by TODOs,
    to fill in and check with `vnet-lab check NUMBER --kmod DIR`.
    """
    item = _lesson(number)
    if skeleton is not None:
        try:
            sites = markers.write_skeleton(find_checkout() / "kmod", number, skeleton)
        except (OSError, markers.MarkerError) as err:
            raise UserError(f"--skeleton {skeleton}: {err}") from None
        print(f"lesson {number} ({item.title}): the skeleton is in {skeleton}; its TODOs:")
        for site in sites:
            print(f"  {site}")
        print(f"check it with: vnet-lab check {number} --kmod {skeleton}")
        return
    sys.exit(_run(_guest(guest), _lesson_cmd(number), timeout, False, False, True))


@main.command()
@guest_option
@click.argument("number", type=int)
@click.option("--kmod", "kmod", metavar="DIR", required=True,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The driver to check: a skeleton you filled in, or any copy of kmod/.")
@click.option("--timeout", type=click.FloatRange(min=1), default=DEFAULT_TIMEOUT, show_default=True,
              help="Stop the VM after this many seconds (exit status 124).")
@reported(PROG)
def check(guest: str | None, number: int, kmod: Path, timeout: float) -> None:
    """Build the driver in DIR in the guest and run lesson NUMBER's checks against it
    (exit status 0 when all pass).  DIR may be anywhere: its sources are copied into
    the checkout's .lab/learner/, which the guest sees."""
    _lesson(number)
    files = markers.sources(kmod)
    if not any(f.name == "Kbuild" for f in files):
        raise UserError(f"--kmod {kmod}: no Kbuild file there: is it a copy of kmod/?", status=2)
    dest = find_checkout() / ".lab" / "learner"
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    for f in files:
        shutil.copyfile(f, dest / f.name)
    sys.exit(_run(_guest(guest), _lesson_cmd(number, ".lab/learner"), timeout, False, False, True,
                  build_driver=False))


@main.command()
@guest_option
@click.option("--timeout", type=click.FloatRange(min=1), default=DEFAULT_TIMEOUT, show_default=True,
              help="Stop the VM after this many seconds (exit status 124).")
@click.argument("tests", nargs=-1)
@reported(PROG)
def kselftest(guest: str | None, timeout: float, tests: tuple[str, ...]) -> None:
    """The guest kernel's own drivers/net selftests (ping.py, stats.py, ...; default all)
    over vnet0 and vnet1 in netns ns-remote, joined by vnet-wire, as the netdev CI runs
    them on virtio_net.  Prints each test case's result; exit status 0 when every one
    passes or is a known skip or failure (vnet_ebpf/lab/kselftest.py, docs/kernels.md).
    Writes the results to .lab/kselftest-GUEST.json."""
    g = _guest(guest)
    for t in tests:
        if "/" in t or not t.endswith(".py"):
            raise UserError(f"{t}: name a test file of drivers/net, such as ping.py", status=2)
    cmd = ["python3", "-m", "vnet_ebpf.lab.kselftest", "--json", f".lab/kselftest-{g.name}.json", *tests]
    sys.exit(_run(g, cmd, timeout, True, False, True))


# `python3 -m vnet_ebpf.lab.cli` without an installed vnet-lab script; the console script
# is vnet_ebpf.entry's, which also covers Ctrl-C during these imports.
if __name__ == "__main__":
    main()
