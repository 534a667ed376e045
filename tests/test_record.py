"""Chapter 1.3: the fact-check table has exactly one row per error flagged by the audit.

Three sources must agree: the table rows of book/part1/record.md, the ID list kept beside it
(book/part1/record_ids.txt), and the B1-B5 tables of the fact-check itself
(../shared/reference/factcheck.md). A dropped, duplicated or invented row fails a test.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RECORD = ROOT / "book" / "part1" / "record.md"
IDS = ROOT / "book" / "part1" / "record_ids.txt"
FACTCHECK = ROOT.parent / "shared" / "reference" / "factcheck.md"

SEED_FILES = {
    "000": "000_bff94528cc8c6486.txt",
    "001": "001_da0e718855f092ca.txt",
    "002": "002_23201a2c2533490c.txt",
    "003": "003_7301bbfc84935d75.txt",
    "004": "004_fc1cfb8001390e7d.txt",
}
EXPECTED_PER_SEED = {"000": 28, "001": 17, "002": 14, "003": 14, "004": 19}
ID_PATTERN = re.compile(r"^(\d{3})-([1-9]\d*)$")
COLUMNS = 6  # ID, seed file, claim, verdict, correction, source


def cells(line: str) -> list[str]:
    """Split one Markdown table row into its stripped cells (outer pipes removed)."""
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def record_rows(text: str) -> list[list[str]]:
    """The rows of record.md's tables whose first cell is an error ID such as `000-2`."""
    rows = []
    for line in text.splitlines():
        if line.lstrip().startswith("|"):
            row = cells(line)
            if ID_PATTERN.match(row[0]):
                rows.append(row)
    return rows


def read_ids(path: Path) -> list[str]:
    """The IDs listed one per line (blank lines ignored)."""
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def factcheck_errors(text: str) -> dict[str, str]:
    """Map each error ID to its verdict code, read from the B1-B5 tables of factcheck.md.

    A table belongs to the `### B<n>. `<seed file>`` heading above it; a data row starts with
    the error's number. Rows numbered "—" are notes counted with another row, not errors.
    """
    errors: dict[str, str] = {}
    prefix = None
    for line in text.splitlines():
        heading = re.match(r"^### B[1-5]\. `(\d{3})_[0-9a-f]+\.txt`", line)
        if heading:
            prefix = heading.group(1)
            continue
        if line.startswith("#"):
            prefix = None
            continue
        if prefix and line.startswith("|"):
            row = cells(line)
            if row[0].isdigit():
                error_id = f"{prefix}-{row[0]}"
                if error_id in errors:
                    raise ValueError(f"factcheck.md numbers {error_id} twice")
                errors[error_id] = row[2]
    return errors


def factcheck_totals(text: str) -> dict[str, int]:
    """The per-seed 'Total flagged' column of the B0 counts table."""
    totals = {}
    for line in text.splitlines():
        match = re.match(r"^\| (\d{3})_[0-9a-f]+\.txt \|", line)
        if match:
            totals[match.group(1)] = int(cells(line)[-1])
    return totals


@pytest.fixture(scope="module")
def factcheck_text() -> str:
    if not FACTCHECK.is_file():
        pytest.fail(f"fact-check not found at {FACTCHECK}; clone the course data as ../shared")
    return FACTCHECK.read_text(encoding="utf-8")


def test_table_rows_match_the_id_list():
    rows = record_rows(RECORD.read_text(encoding="utf-8"))
    table_ids = [row[0] for row in rows]
    duplicates = sorted(i for i, n in Counter(table_ids).items() if n > 1)
    assert not duplicates, f"record.md has more than one row for {duplicates}"
    listed = set(read_ids(IDS))
    assert not listed - set(table_ids), f"rows missing from record.md: {sorted(listed - set(table_ids))}"
    assert not set(table_ids) - listed, f"rows not in record_ids.txt: {sorted(set(table_ids) - listed)}"


def test_table_rows_are_complete():
    for row in record_rows(RECORD.read_text(encoding="utf-8")):
        assert len(row) == COLUMNS, f"row {row[0]} has {len(row)} cells, expected {COLUMNS}"
        error_id, seed_file, claim, verdict, correction, source = row
        assert seed_file == f"`{SEED_FILES[error_id[:3]]}`", f"row {error_id} names seed file {seed_file}"
        assert verdict in {"W", "U", "M", "T", "N"}, f"row {error_id} has verdict {verdict!r}"
        assert claim and correction and source, f"row {error_id} has an empty cell"


def test_id_list_has_92_ids_with_the_audited_counts_per_seed():
    ids = read_ids(IDS)
    assert len(ids) == 92, f"record_ids.txt lists {len(ids)} IDs, expected 92"
    assert len(set(ids)) == len(ids), "record_ids.txt lists an ID twice"
    bad = [i for i in ids if not ID_PATTERN.match(i) or i[:3] not in SEED_FILES]
    assert not bad, f"malformed IDs (expected <seed prefix>-<row number>, e.g. 000-2): {bad}"
    counts = Counter(i[:3] for i in ids)
    assert dict(counts) == EXPECTED_PER_SEED
    for prefix, n in EXPECTED_PER_SEED.items():
        numbers = sorted(int(i.split("-")[1]) for i in ids if i.startswith(prefix))
        assert numbers == list(range(1, n + 1)), f"seed {prefix}: rows are not numbered 1..{n}"


def test_id_list_matches_the_factcheck(factcheck_text):
    errors = factcheck_errors(factcheck_text)
    listed = set(read_ids(IDS))
    assert not set(errors) - listed, f"flagged in factcheck.md, not listed: {sorted(set(errors) - listed)}"
    assert not listed - set(errors), f"listed, not in factcheck.md: {sorted(listed - set(errors))}"
    derived = Counter(i[:3] for i in errors)
    assert dict(derived) == factcheck_totals(factcheck_text), "B1-B5 rows disagree with the B0 totals"


def test_verdicts_match_the_factcheck(factcheck_text):
    errors = factcheck_errors(factcheck_text)
    for row in record_rows(RECORD.read_text(encoding="utf-8")):
        expected = errors.get(row[0])
        assert row[3] == expected, f"row {row[0]}: verdict {row[3]}, factcheck.md says {expected}"
