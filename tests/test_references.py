"""The bibliography: every entry real enough to be cited, and every citation resolvable."""

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
