"""Lesson markers in the driver's source, and the skeletons made from them.

The real source in kmod/ marks the code each lesson teaches:

    /* LESSON 2 TODO: give the device a random, locally administered MAC */
    eth_hw_addr_random(dev);
    /* LESSON 2 END */

A skeleton of lesson N is a copy of kmod/ in which each region of lesson N,
from its TODO line to its END line, becomes one ``/* TODO N: ... */`` line.
A region may say what the skeleton keeps so that it still compiles:

    /* LESSON 3 SKELETON: kick = true; */

Those lines become code in the skeleton.  The marker lines of the other
lessons are dropped and their code stays, so a skeleton is the driver with
one lesson's code missing.  There is no second copy of the driver: every
skeleton is made from the markers (like linux-kernel-labs' generated skeletons).
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

#: The files of kmod/ a build needs; a skeleton is a copy of these.
SOURCE_GLOBS = ("*.c", "*.h", "Kbuild", "Makefile")

_TODO = re.compile(r"^(\s*)/\* LESSON (\d+) TODO: (.*?)\s*\*/\s*$")
_KEEP = re.compile(r"^(\s*)/\* LESSON (\d+) SKELETON: (.*?)\s*\*/\s*$")
_END = re.compile(r"^\s*/\* LESSON (\d+) END \*/\s*$")
#: What a skeleton has where a region was; also how a checker finds it again.
_SKELETON_TODO = re.compile(r"/\* TODO (\d+): (.*?)\s*\*/")


class MarkerError(ValueError):
    """The markers of a source file do not pair up."""


@dataclass(frozen=True)
class Region:
    """One marked region: lines START..END (1-based, both marker lines included)."""

    lesson: int
    path: str
    start: int
    end: int
    hint: str
    keep: tuple[str, ...]


@dataclass(frozen=True)
class Site:
    """Where a TODO of a lesson is, for a checker's hint."""

    lesson: int
    path: str
    line: int
    hint: str

    def __str__(self) -> str:
        return f"TODO {self.lesson} at {self.path}:{self.line}: {self.hint}"


def sources(kmod: Path) -> list[Path]:
    """The files of the driver folder KMOD that a build needs, sorted by name."""
    found = {p for glob in SOURCE_GLOBS for p in kmod.glob(glob) if p.is_file()}
    return sorted(found)


def regions(path: str, text: str) -> list[Region]:
    """Every marked region of one file's TEXT (PATH only names it in errors)."""
    out: list[Region] = []
    open_: tuple[int, int, str] | None = None  # lesson, line, hint
    keep: list[str] = []
    for no, line in enumerate(text.splitlines(), 1):
        if m := _TODO.match(line):
            if open_:
                raise MarkerError(f"{path}:{no}: LESSON {m[2]} TODO inside lesson {open_[0]}'s region "
                                  f"from line {open_[1]}")
            open_, keep = (int(m[2]), no, m[3]), []
        elif m := _KEEP.match(line):
            if not open_ or int(m[2]) != open_[0]:
                raise MarkerError(f"{path}:{no}: LESSON {m[2]} SKELETON outside that lesson's region")
            keep.append(m[1] + m[3])
        elif m := _END.match(line):
            if not open_ or int(m[1]) != open_[0]:
                raise MarkerError(f"{path}:{no}: LESSON {m[1]} END without its TODO")
            out.append(Region(open_[0], path, open_[1], no, open_[2], tuple(keep)))
            open_ = None
        elif "LESSON" in line and "/*" in line and re.search(r"/\* LESSON \d", line):
            raise MarkerError(f"{path}:{no}: a LESSON marker must be a line of its own: {line.strip()}")
    if open_:
        raise MarkerError(f"{path}:{open_[1]}: LESSON {open_[0]} TODO has no END")
    return out


def all_regions(kmod: Path) -> list[Region]:
    """Every marked region of the driver folder KMOD, file by file."""
    return [r for p in sources(kmod) for r in regions(p.name, p.read_text())]


def skeleton_text(text: str, lesson: int, path: str = "<text>") -> str:
    """TEXT with LESSON's regions replaced by their TODO and the other markers dropped."""
    lines = text.splitlines(keepends=True)
    by_start = {r.start: r for r in regions(path, text)}
    out: list[str] = []
    no = 1
    while no <= len(lines):
        line = lines[no - 1]
        region = by_start.get(no)
        if region and region.lesson == lesson:
            indent = _TODO.match(line.rstrip("\n"))[1]  # type: ignore[index]
            out.append(f"{indent}/* TODO {lesson}: {region.hint} */\n")
            out.extend(k + "\n" for k in region.keep)
            no = region.end + 1
            continue
        if not (_TODO.match(line) or _KEEP.match(line) or _END.match(line)):
            out.append(line)
        no += 1
    return "".join(out)


def write_skeleton(kmod: Path, lesson: int, dest: Path) -> list[Site]:
    """Write the skeleton of LESSON, made from the driver folder KMOD, into DEST (which
    must not exist yet, or be empty); return where its TODOs are."""
    marked = [r for r in all_regions(kmod) if r.lesson == lesson]
    if not marked:
        raise MarkerError(f"lesson {lesson} marks no code in {kmod}")
    if dest.exists() and any(dest.iterdir()):
        raise FileExistsError(f"{dest} exists and is not empty")
    dest.mkdir(parents=True, exist_ok=True)
    for src in sources(kmod):
        text = src.read_text()
        (dest / src.name).write_text(skeleton_text(text, lesson, src.name))
        shutil.copymode(src, dest / src.name)
    return todo_sites(dest, lesson)


def todo_sites(kmod: Path, lesson: int) -> list[Site]:
    """Where LESSON's code is in the driver folder KMOD: its TODO lines in a skeleton,
    or its marked regions in the real source (a learner's folder may have either)."""
    sites: list[Site] = []
    for p in sources(kmod):
        for no, line in enumerate(p.read_text().splitlines(), 1):
            m = _SKELETON_TODO.search(line)
            if m and int(m[1]) == lesson:
                sites.append(Site(lesson, p.name, no, m[2]))
            elif (t := _TODO.match(line)) and int(t[2]) == lesson:
                sites.append(Site(lesson, p.name, no, t[3]))
    return sites
