"""The bibliography: every entry complete enough to be found (author, title, year, venue), and every
citation resolvable."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CITE = re.compile(r"\{cite(?::[a-z]+)?\}`([^`]+)`")
ENTRY = re.compile(r"^@\w+\s*\{\s*([^,\s]+)\s*,", re.MULTILINE)


def bib_keys() -> list[str]:
    keys = []
    for path in sorted((ROOT / "book").rglob("*.bib")):
        keys += ENTRY.findall(path.read_text(encoding="utf-8"))
    return keys


def cited_keys() -> set[str]:
    texts = [p.read_text(encoding="utf-8") for p in (ROOT / "book").rglob("*.md")]
    for nb in (ROOT / "notebooks").rglob("*.ipynb"):
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        texts += ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]
    return {key.strip() for text in texts for group in CITE.findall(text) for key in group.split(",")}


def test_no_duplicate_keys():
    duplicates = [k for k, n in Counter(bib_keys()).items() if n > 1]
    assert not duplicates, f"bib keys defined more than once: {duplicates}"


def test_every_citation_is_defined():
    missing = cited_keys() - set(bib_keys())
    assert not missing, f"cited but not in any .bib file: {sorted(missing)}"


def test_every_entry_is_cited():
    uncited = set(bib_keys()) - cited_keys()
    assert not uncited, f"bib entries nobody cites (cite them or remove them): {sorted(uncited)}"


def test_bibliography_is_substantial():
    assert len(set(bib_keys())) >= 40


REQUIRED = {"article": {"journal"}, "inproceedings": {"booktitle"}, "incollection": {"booktitle"},
            "book": {"publisher"}}


def bib_entries() -> list[tuple[str, str, set[str]]]:
    """(type, key, field names) of every entry of every .bib file under book/."""
    entries = []
    for path in sorted((ROOT / "book").rglob("*.bib")):
        for chunk in re.split(r"\n(?=@)", path.read_text(encoding="utf-8")):
            head = re.match(r"\s*@(\w+)\s*\{\s*([^,\s]+)\s*,", chunk)
            if head:
                fields = {name.lower() for name in re.findall(r"^\s*(\w+)\s*=", chunk, re.MULTILINE)}
                entries.append((head.group(1).lower(), head.group(2), fields))
    return entries


def test_every_entry_names_its_author_title_year_and_venue():
    problems = []
    for kind, key, fields in bib_entries():
        needed = {"title", "year"} | REQUIRED.get(kind, set())
        if not fields & {"author", "editor", "organization", "institution"}:
            problems.append(f"{key}: no author, editor or organisation")
        problems += [f"{key} (@{kind}): no {name}" for name in sorted(needed - fields)]
    assert len(bib_entries()) == len(bib_keys())
    assert not problems, "\n".join(problems)
