"""A chapter may say that it passed on a GPU only when that run is recorded in the book.

The record is ``book/back/gpu_runs.md``; what each run printed lies beside it, under
``book/back/gpu_runs/``.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
RECORD = ROOT / "book/back/gpu_runs.md"
OUTPUT_LINK = re.compile(r"\{download\}`[^<`]*<(gpu_runs/[^>]+)>`")
GPU = re.compile(r"\b(?:GPU|H100|H200|A100|L4|T4)\b")
RUN = re.compile(r"\b(?:passed|passes|ran|trained|run on|measured)\b")


def claims_a_gpu_run(text: str) -> bool:
    """Whether a sentence of ``text`` names a GPU together with a run, a result or a pass."""
    sentences = re.split(r"(?<=[.;:])\s|(?<=[.;:][\"'”])\s", " ".join(text.split()))  # a quote may close one
    return any(GPU.search(s) and RUN.search(s) for s in sentences)


def notebook_markdown() -> list[tuple[str, int, str]]:
    cells = []
    for path in sorted((ROOT / "notebooks").rglob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        cells += [(path.relative_to(ROOT).as_posix(), i, c.source) for i, c in enumerate(nb.cells)
                  if c.cell_type == "markdown"]
    return cells


def test_every_recorded_output_exists_and_shows_the_check_passing():
    links = OUTPUT_LINK.findall(RECORD.read_text(encoding="utf-8"))
    assert links, "the record links no run outputs"
    for link in links:
        output = RECORD.parent / link
        assert output.is_file(), f"{RECORD.name} links {link}, which does not exist"
        assert "Check passed." in output.read_text(encoding="utf-8"), f"{link}: no passing Check in it"


@pytest.mark.parametrize(("path", "index", "source"), [
    cell for cell in notebook_markdown() if claims_a_gpu_run(cell[2])])
def test_a_claimed_gpu_run_cites_the_record(path, index, source):
    assert "back/gpu_runs" in source, (
        f"{path}, cell {index}, says a run on a GPU passed or ran but does not link "
        "book/back/gpu_runs (record the run there first)")


def test_the_numbers_in_the_record_are_those_the_runs_printed():
    rows = [line for line in RECORD.read_text(encoding="utf-8").splitlines()
            if line.startswith("|") and OUTPUT_LINK.search(line)]
    assert rows, "the record has no table rows that link a run's output"
    for row in rows:
        printed = (RECORD.parent / OUTPUT_LINK.search(row).group(1)).read_text(encoding="utf-8")
        _, wall_time, results, _ = (cell.strip() for cell in row.strip("|").split("|"))
        for number in re.findall(r"\d+\.\d+(?:e[+-]\d+)?%?", f"{wall_time} {results}"):
            assert number in printed, f"{number} is in the record's row {row[:40]!r} but not in the output"


def test_a_gpu_claim_is_found_within_a_sentence_only():
    assert claims_a_gpu_run("On an H100 the Check passed.")
    assert claims_a_gpu_run('It said "fine" when it ran on a GPU.')
    assert not claims_a_gpu_run('The last cell prints "Check passed." A GPU is optional.')
    assert not claims_a_gpu_run("The Check passed. A GPU is optional.")
