"""No page calls a published chapter "(coming)".

Pages mark planned chapters as ``5.2 *Character-level language model* (coming)``. When a chapter
is published (its notebook is in ``_toc.yml``), every such mark of it must become a link.
A chapter's number comes from its notebook's path: ``notebooks/03_algorithms/06_transformer_gpt``
is chapter 3.6.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
CHAPTER_FILE = re.compile(r"^notebooks/(\d+)_[^/]+/(\d+)_[^/]+$")
CHAPTER_NUMBER = re.compile(r"\b(\d)\.(\d{1,2})\b")
COMING = "(coming)"
LOOKBACK = 120  # characters before "(coming)" in which the chapter it marks is named


def toc_files(node: object) -> list[str]:
    """Every ``file:`` entry of the table of contents, at any depth."""
    if isinstance(node, dict):
        found = [node["file"]] if "file" in node else []
        return found + [f for value in node.values() for f in toc_files(value)]
    if isinstance(node, list):
        return [f for item in node for f in toc_files(item)]
    return []


def published_chapters() -> set[str]:
    """Chapter numbers such as "3.6" of the notebooks listed in ``_toc.yml``."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    numbers = set()
    for file in toc_files(toc):
        match = CHAPTER_FILE.match(file)
        if match:
            numbers.add(f"{int(match[1])}.{int(match[2])}")
    return numbers


def pages() -> dict[str, str]:
    """The prose of every page: Markdown files and the Markdown cells of the notebooks."""
    texts = {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8") for p in (ROOT / "book").rglob("*.md")}
    for path in (ROOT / "notebooks").rglob("*.ipynb"):
        cells = nbformat.read(path, as_version=4).cells
        texts[str(path.relative_to(ROOT))] = "\n".join(c.source for c in cells if c.cell_type == "markdown")
    return texts


def marked_coming(text: str) -> list[str]:
    """The chapter number named last before each "(coming)" (within LOOKBACK characters)."""
    marked = []
    for match in re.finditer(re.escape(COMING), text):
        before = text[max(0, match.start() - LOOKBACK): match.start()]
        before = before.split(COMING)[-1]  # not past an earlier mark
        numbers = CHAPTER_NUMBER.findall(before)
        if numbers:
            marked.append(".".join(numbers[-1]))
    return marked


def test_the_toc_has_chapters() -> None:
    assert {"3.1", "3.6", "4.9"} <= published_chapters()


def test_marks_are_found() -> None:
    text = "see chapter 3.6, *Transformers* (coming), and 5.2 *Char model* (coming); 4.1 (coming)"
    assert marked_coming(text) == ["3.6", "5.2", "4.1"]


@pytest.mark.parametrize("page", sorted(pages()))
def test_no_published_chapter_is_coming(page: str) -> None:
    stale = sorted(set(marked_coming(pages()[page])) & published_chapters())
    assert not stale, (f"{page} calls chapter(s) {', '.join(stale)} '(coming)', but they are published: "
                       "link them with {doc} instead")
