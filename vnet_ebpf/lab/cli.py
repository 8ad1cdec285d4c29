"""``vnet-lab``: the QEMU lab that runs the driver and the tracer on any Linux box."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from vnet_ebpf.errors import UserError, reported
from vnet_ebpf.lab import image as image_mod
from vnet_ebpf.lab import runner

PROG = "vnet-lab"
DEFAULT_TIMEOUT = 1800.0


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


def _image(build_missing: bool) -> image_mod.Image:
    found = image_mod.find_image()
    if found:
        return found
    if not build_missing:
        raise UserError("no lab image for these inputs: run `sudo vnet-lab build` first")
    print(f"{PROG}: no lab image yet, building one first (a few minutes)", file=sys.stderr)
    return image_mod.build()


def _prepare(build_missing: bool) -> tuple[image_mod.Image, Path, Path, str]:
    runner_missing = image_mod.missing_tools(runner.RUN_TOOLS)
    if runner_missing:
        raise UserError(f"missing host tools: install them with `apt-get install {' '.join(runner_missing)}`")
    src = find_checkout()
    img = _image(build_missing)
    logs = src / ".lab" / "logs"
    return img, src, logs, runner.choose_accel(img, logs)


def _run(cmd: list[str], timeout: float, load: bool, verbose: bool, build_missing: bool) -> int:
    img, src, logs, accel = _prepare(build_missing)
    result = runner.run_vm(img, src, cmd, accel=accel, timeout=timeout, logs=logs, load=load, verbose=verbose)
    if result.status != 0:
        print(f"{PROG}: exit status {result.status}; guest kernel log: {result.kmsg_log}", file=sys.stderr)
    return result.status


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="vnet-ebpf", prog_name=PROG)
def main() -> None:
    """The vnet-ebpf lab: a Debian guest under QEMU (KVM when it works, else
    software emulation) with the driver, BCC and the tools, sharing this checkout."""


@main.command()
@click.option("--force", is_flag=True, help="Rebuild even if an image with the same inputs exists.")
@reported(PROG)
def build(force: bool) -> None:
    """Build the guest image (cached by a hash of its inputs; needs root).

    The cache folder is $VNET_LAB_CACHE, else ~/.cache/vnet-lab.
    """
    image_mod.build(force=force)


@main.command(context_settings={"ignore_unknown_options": True})
@click.option("--timeout", type=click.FloatRange(min=1), default=DEFAULT_TIMEOUT, show_default=True,
              help="Stop the VM after this many seconds (exit status 124).")
@click.option("--load", is_flag=True, help="Also load kmod/vnet.ko before running CMD.")
@click.option("-v", "--verbose", is_flag=True, help="Show the guest's boot output too.")
@click.option("--no-build", is_flag=True, help="Fail instead of building a missing image.")
@click.argument("cmd", nargs=-1, required=True, type=click.UNPROCESSED)
@reported(PROG)
def run(timeout: float, load: bool, verbose: bool, no_build: bool, cmd: tuple[str, ...]) -> None:
    """Boot the guest, build the driver, run CMD as root in the checkout; exit with CMD's status.

    Example: vnet-lab run --load -- ip -s link show vnet0
    """
    sys.exit(_run(list(cmd), timeout, load, verbose, not no_build))


@main.command()
@click.option("--load", is_flag=True, help="Also load kmod/vnet.ko.")
@reported(PROG)
def shell(load: bool) -> None:
    """An interactive root shell in the guest (the VM stops when it exits; Ctrl-A x kills it)."""
    img, src, logs, accel = _prepare(True)
    sys.exit(runner.shell(img, src, accel=accel, load=load, logs=logs))


@main.command()
@click.option("--seconds", type=click.IntRange(min=1), default=30, show_default=True,
              help="How long the live dashboard runs.")
@click.option("--timeout", type=click.FloatRange(min=1), default=DEFAULT_TIMEOUT, show_default=True)
@reported(PROG)
def demo(seconds: int, timeout: float) -> None:
    """The main job: build the guest if needed, load vnet0, drive RX and TX traffic and
    show `vnet-trace top` live for SECONDS, then stop cleanly."""
    cmd = ["python3", "-m", "vnet_ebpf.lab.demo", str(seconds)]
    sys.exit(_run(cmd, timeout, True, False, True))
