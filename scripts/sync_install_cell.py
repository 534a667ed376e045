"""Write the Colab install cell into every notebook, from the repository URL in _config.yml.

    python scripts/sync_install_cell.py           # rewrite notebooks that are out of date
    python scripts/sync_install_cell.py --check   # exit 1, listing them, if any is out of date

The install cell is each notebook's first code cell (tagged ``kbook-install``). It installs
kbook from the repository when kbook is not importable, as on Colab, and does nothing in a
local environment where kbook is installed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent
TAG = "kbook-install"


def install_source(config_path: Path = ROOT / "_config.yml") -> str:
    repo = yaml.safe_load(config_path.read_text())["repository"]
    spec = f"kbook @ git+{repo['url']}@{repo.get('branch', 'main')}"
    return (
        "# Install kbook when it is missing (as on Colab); a local install is left alone.\n"
        "# Written by scripts/sync_install_cell.py from _config.yml: edit those, not this cell.\n"
        "import importlib.util\nimport subprocess\nimport sys\n"
        "\n"
        'if importlib.util.find_spec("kbook") is None:\n'
        '    subprocess.run([sys.executable, "-m", "pip", "install", "-q",\n'
        f'                    "{spec}"], check=True)'
    )


def notebooks(root: Path = ROOT) -> list[Path]:
    return sorted(p for p in (root / "notebooks").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def synced(nb: nbformat.NotebookNode, source: str) -> nbformat.NotebookNode:
    """The notebook with exactly one install cell, holding ``source``, as its first code cell."""
    cells = [c for c in nb.cells if TAG not in c.metadata.get("tags", [])]
    first_code = next((i for i, c in enumerate(cells) if c.cell_type == "code"), len(cells))
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": [TAG, "hide-cell"]})
    old = [c for c in nb.cells if TAG in c.metadata.get("tags", [])]
    if old and old[0].get("id"):
        cell["id"] = old[0]["id"]  # keep the id stable so an unchanged notebook stays unchanged
    cells.insert(first_code, cell)
    nb.cells = cells
    return nb


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report; change nothing")
    args = parser.parse_args()
    source = install_source()
    stale = []
    for path in notebooks():
        before = path.read_text()
        nb = synced(nbformat.reads(before, as_version=4), source)
        after = nbformat.writes(nb) + "\n"
        if after != before:
            stale.append(path.relative_to(ROOT))
            if not args.check:
                path.write_text(after)
    if stale:
        verb = "out of sync" if args.check else "rewritten"
        print(f"{len(stale)} notebook(s) {verb}:", *stale, sep="\n  ")
        if args.check:
            print("Run: python scripts/sync_install_cell.py")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
