"""The lesson markers in kmod/ and the skeletons made from them (pure: no guest)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from vnet_ebpf.lessons import catalog, markers
from vnet_ebpf.lessons.experiments import EXPERIMENTS
from vnet_ebpf.lessons.grade import Grade

KMOD = Path(__file__).resolve().parents[2] / "kmod"

SAMPLE = """\
int f(int x)
{
\t/* LESSON 2 TODO: double x */
\tx *= 2;
\t/* LESSON 2 SKELETON: x += 0; */
\t/* LESSON 2 END */
\t/* LESSON 3 TODO: add one */
\tx += 1;
\t/* LESSON 3 END */
\treturn x;
}
"""


def test_a_skeleton_has_the_todo_and_what_it_keeps_and_the_other_lessons_code() -> None:
    out = markers.skeleton_text(SAMPLE, 2)
    assert out == ("int f(int x)\n{\n\t/* TODO 2: double x */\n\tx += 0;\n"
                   "\tx += 1;\n\treturn x;\n}\n")


def test_markers_that_do_not_pair_up_are_refused() -> None:
    with pytest.raises(markers.MarkerError, match="has no END"):
        markers.regions("a.c", "/* LESSON 1 TODO: x */\n")
    with pytest.raises(markers.MarkerError, match="END without"):
        markers.regions("a.c", "/* LESSON 1 END */\n")
    with pytest.raises(markers.MarkerError, match="inside"):
        markers.regions("a.c", "/* LESSON 1 TODO: x */\n/* LESSON 2 TODO: y */\n")
    with pytest.raises(markers.MarkerError, match="outside"):
        markers.regions("a.c", "/* LESSON 1 SKELETON: x; */\n")
    with pytest.raises(markers.MarkerError, match="line of its own"):
        markers.regions("a.c", "x; /* LESSON 1 END */\n")


def test_every_lesson_has_an_experiment_and_marked_code() -> None:
    numbers = [item.number for item in catalog.LESSONS]
    assert numbers == list(range(1, len(numbers) + 1))
    assert sorted(EXPERIMENTS) == numbers
    marked = {r.lesson for r in markers.all_regions(KMOD)}
    assert marked == set(numbers)


@pytest.mark.parametrize("number", [item.number for item in catalog.LESSONS])
def test_the_skeleton_of_each_lesson_removes_its_code_and_no_other(number: int, tmp_path: Path) -> None:
    sites = markers.write_skeleton(KMOD, number, tmp_path / "k")
    assert sites and all(s.lesson == number for s in sites)
    for src in markers.sources(KMOD):
        text = (tmp_path / "k" / src.name).read_text()
        assert "LESSON" not in text
        # The other lessons' code is all there: with their markers dropped, it is the source.
        removed = [r for r in markers.regions(src.name, src.read_text()) if r.lesson == number]
        if not removed:
            assert text == markers.skeleton_text(src.read_text(), 0)
    # The checker finds the TODOs again in the skeleton, where a learner would look.
    assert markers.todo_sites(tmp_path / "k", number) == sites
    with pytest.raises(FileExistsError):
        markers.write_skeleton(KMOD, number, tmp_path / "k")


def test_a_failed_check_prints_its_hint_and_the_todo_sites() -> None:
    lines: list[str] = []
    site = markers.Site(4, "vnet_tx.c", 144, "tell BQL")
    g = Grade(4, [site], out=lines.append)
    g.equal("tx_packets", 3000, 3000)
    g.at_least("BQL limit", 60, 0, "report sent bytes")
    assert lines[0] == "  [PASS] tx_packets: expected 3000, measured 3000"
    assert lines[1].splitlines() == ["  [FAIL] BQL limit: expected >= 60, measured 0",
                                     "         hint: report sent bytes",
                                     "         see TODO 4 at vnet_tx.c:144: tell BQL"]
    assert g.score() == "lesson 4 score: 1/2" and not g.ok


LESSONS_DIR = KMOD.parent / "lessons"
SECTIONS = ("## The concept", "## Read in kmod/", "## The experiment", "## Questions", "## Build it yourself")


def folder(item: catalog.Lesson) -> Path:
    return LESSONS_DIR / f"{item.number:02d}-{item.slug}"


@pytest.mark.parametrize("item", catalog.LESSONS, ids=lambda x: f"{x.number:02d}-{x.slug}")
def test_each_lesson_has_a_folder_whose_readme_has_every_section(item: catalog.Lesson) -> None:
    text = (folder(item) / "README.md").read_text()
    assert text.startswith(f"# Lesson {item.number}: ")
    assert f"vnet-lab lesson {item.number}\n" in text
    positions = [text.find(s) for s in SECTIONS]
    assert -1 not in positions and positions == sorted(positions), positions


def reading_list(text: str) -> list[tuple[str, list[str]]]:
    """The "Read in kmod/" bullets: (the file named first, the functions named after it)."""
    section = text.split("## Read in kmod/", 1)[1].split("\n## ", 1)[0]
    bullets = ["".join(b.split("\n")) for b in section.split("\n- ")[1:]]
    found = []
    for bullet in bullets:
        names = re.findall(r"`([^`]+)`", bullet)
        found.append((names[0], [n[:-2] for n in names[1:] if n.endswith("()")]))
    return found


@pytest.mark.parametrize("item", catalog.LESSONS, ids=lambda x: f"{x.number:02d}-{x.slug}")
def test_what_a_lesson_says_to_read_is_there(item: catalog.Lesson) -> None:
    """Every file a lesson points to exists, and every function it names is in that file:
    a rename in kmod/ that forgets the lesson fails here."""
    entries = reading_list((folder(item) / "README.md").read_text())
    assert entries
    for path, functions in entries:
        where = KMOD.parent / path
        assert where.exists(), path
        source = "".join(p.read_text() for p in ([where] if where.is_file() else sorted(where.glob("*.py"))))
        for fn in functions:
            assert re.search(rf"\b{fn}\b", source), f"{fn}() is not in {path}"


def test_the_lessons_index_links_every_folder() -> None:
    index = (LESSONS_DIR / "README.md").read_text()
    for item in catalog.LESSONS:
        assert f"({folder(item).name}/README.md)" in index, item
    folders = sorted(p.name for p in LESSONS_DIR.iterdir() if p.is_dir())
    assert folders == [folder(x).name for x in catalog.LESSONS]
