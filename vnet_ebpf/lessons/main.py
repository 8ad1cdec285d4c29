"""The lessons inside the lab guest (``vnet-lab lesson`` and ``vnet-lab check`` run this).

    python3 -m vnet_ebpf.lessons.main run N [--kmod DIR]
        lesson N's experiment, narrated, then its checks and a score; with --kmod, on
        the driver built from DIR (a learner's copy) instead of the lab's own build.
    python3 -m vnet_ebpf.lessons.main prove [N ...]
        what CI runs: every lesson passes on the real driver, and its skeleton fails
        its checker with a hint that points at the TODO.

Exit status 0 when everything passed, 1 otherwise, 2 for bad usage.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from vnet_ebpf.lab import pktgen
from vnet_ebpf.lessons import markers
from vnet_ebpf.lessons.catalog import LESSONS, lesson
from vnet_ebpf.lessons.experiments import EXPERIMENTS
from vnet_ebpf.lessons.grade import Grade
from vnet_ebpf.lessons.session import Session

KMOD = Path(__file__).resolve().parents[2] / "kmod"


def kernel_build_dir() -> str:
    return f"/lib/modules/{os.uname().release}/build"


def build(src: Path, where: Path) -> tuple[Path | None, str]:
    """Build the driver from SRC in WHERE (a copy of SRC's sources, kept for the next
    build: an unchanged file is not compiled again); the .ko, or None and the output.
    Without module BTF: no lesson needs it, and it is most of a build under emulation."""
    where.mkdir(parents=True, exist_ok=True)
    for f in markers.sources(src):
        dest = where / f.name
        if not dest.exists() or dest.read_bytes() != f.read_bytes():
            shutil.copyfile(f, dest)
    proc = subprocess.run(["make", "-s", "-C", str(where), f"KDIR={kernel_build_dir()}",
                           "CONFIG_DEBUG_INFO_BTF_MODULES="],
                          capture_output=True, text=True, check=False)
    ko = where / "vnet.ko"
    return (ko if proc.returncode == 0 and ko.exists() else None), proc.stdout + proc.stderr


def cleanup() -> None:
    """What an experiment may leave behind when it stops half-way."""
    with contextlib.suppress(OSError):
        pktgen.stop()
    for ns in ("wire-a", "wire-b"):
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
    if Path("/sys/module/vnet").exists():
        subprocess.run(["rmmod", "vnet"], capture_output=True, check=False)


def run_lesson(number: int, ko: Path | None, kmod: Path, build_log: str = "") -> Grade:
    """Lesson NUMBER on the driver KO (built from KMOD); None: it did not build."""
    item = lesson(number)
    print(f"\n######## lesson {item.number}: {item.title} (lessons/README.md)", flush=True)
    session = Session(number, ko or Path("/nonexistent"), kmod)
    if ko is None:
        print(build_log.rstrip("\n"))
        session.grade.add("the driver builds", "a vnet.ko", "compiler errors (above)", False,
                          "fill in the TODOs so that the module compiles")
    else:
        try:
            EXPERIMENTS[number](session)
        except Exception as err:  # the experiment broke off: that is a failed check
            traceback.print_exc(limit=2, file=sys.stdout)
            session.grade.add("the experiment ran to its end", "no error", f"{type(err).__name__}: {err}", False)
        finally:
            cleanup()
    print(session.grade.score(), flush=True)
    return session.grade


@dataclass
class Proof:
    number: int
    real: Grade
    real_s: float
    skeleton: Grade
    skeleton_s: float
    hinted: bool

    @property
    def ok(self) -> bool:
        return self.real.ok and not self.skeleton.ok and self.hinted


def prove(numbers: list[int]) -> int:
    real_ko = Path(os.environ.get("VNET_LAB_KO", str(KMOD / "vnet.ko")))
    where = Path("/tmp/lesson-skeletons/build")
    proofs: list[Proof] = []
    for n in numbers:
        t = time.monotonic()
        real = run_lesson(n, real_ko, KMOD)
        real_s = time.monotonic() - t
        skel = Path(f"/tmp/lesson-skeletons/{n:02d}")
        shutil.rmtree(skel, ignore_errors=True)
        markers.write_skeleton(KMOD, n, skel)
        t = time.monotonic()
        ko, log = build(skel, where)
        grade = run_lesson(n, ko, skel, log)
        failed = [grade.line(c) for c in grade.checks if not c.ok]
        hinted = bool(grade.sites) and any(f"TODO {n} at " in line for line in failed)
        proofs.append(Proof(n, real, real_s, grade, time.monotonic() - t, hinted))
    print("\n######## the lessons' proof: each passes on the real driver, its skeleton fails")
    for p in proofs:
        removed = ", ".join(f"{r.path}:{r.start}-{r.end}" for r in markers.all_regions(KMOD) if r.lesson == p.number)
        print(f"lesson {p.number:2d}: real {p.real.passed}/{len(p.real.checks)} in {p.real_s:.0f} s; "
              f"skeleton {p.skeleton.passed}/{len(p.skeleton.checks)} in {p.skeleton_s:.0f} s "
              f"(hint at the TODO: {'yes' if p.hinted else 'NO'}); removes {removed}: "
              f"{'ok' if p.ok else 'FAILED'}")
    return 0 if all(p.ok for p in proofs) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vnet_ebpf.lessons.main")
    sub = parser.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run")
    run.add_argument("number", type=int, choices=[x.number for x in LESSONS])
    run.add_argument("--kmod", type=Path, help="build the driver from this folder and check that one")
    pr = sub.add_parser("prove")
    pr.add_argument("numbers", type=int, nargs="*", choices=[x.number for x in LESSONS])
    args = parser.parse_args(argv)
    if args.cmd == "prove":
        return prove(args.numbers or [x.number for x in LESSONS])
    if args.kmod:
        print(f"building the driver from {args.kmod} ...", flush=True)
        ko, log = build(args.kmod, Path("/tmp/lesson-build"))
        grade = run_lesson(args.number, ko, args.kmod, log)
    else:
        ko = Path(os.environ.get("VNET_LAB_KO", str(KMOD / "vnet.ko")))
        grade = run_lesson(args.number, ko, KMOD)
    return 0 if grade.ok else 1


if __name__ == "__main__":
    sys.exit(main())
