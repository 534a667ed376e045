"""kbook.show_source shows in Jupyter and Colab what the book's literalinclude listings show."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import nbformat
import pytest
from IPython.display import Markdown
from sphinx.directives.code import LiteralIncludeReader

import kbook
from kbook.source import module_name, show_source, source

ROOT = Path(__file__).resolve().parent.parent
LISTING = re.compile(r"```\{literalinclude\} (\S+)\n((?::[^\n]*\n)*)```")


NOTEBOOKS = sorted((ROOT / "notebooks").rglob("*.ipynb"))
SHOW_HEADER = "# the listing above, for Jupyter and Colab (the book shows it in the text)\n"


def directives(markdown: str) -> list[tuple[str, dict[str, str]]]:
    """The literalinclude directives of a Markdown cell: (path as written, options)."""
    return [(m.group(1), dict(re.findall(r":(\S+): *(.*)", m.group(2)))) for m in LISTING.finditer(markdown)]


def listings() -> list[tuple[Path, str, dict[str, str]]]:
    """Every literalinclude of every notebook: (notebook, path as written, options)."""
    return [(notebook, path, options) for notebook in NOTEBOOKS
            for cell in nbformat.read(notebook, as_version=4).cells if cell.cell_type == "markdown"
            for path, options in directives(cell.source)]


@pytest.mark.parametrize(("path", "expected"), [
    ("../../src/kbook/models/gpt.py", "kbook.models.gpt"),
    ("src/kbook/data/__init__.py", "kbook.data"),
    ("/somewhere/site-packages/kbook/scalar/engine.py", "kbook.scalar.engine"),
])
def test_module_name_follows_the_path_inside_the_package(path, expected):
    assert module_name(path) == expected


@pytest.mark.parametrize("path", ["../../src/other/gpt.py", "../../src/kbook/models/", "notes.txt"])
def test_a_path_outside_the_package_is_a_clear_error(path):
    with pytest.raises(ValueError, match="kbook package"):
        module_name(path)


def test_an_object_the_module_lacks_is_named_in_the_error():
    with pytest.raises(ValueError, match="GPT.backward"):
        source("../../src/kbook/models/gpt.py", "GPT.backward")


def test_a_method_is_dedented_and_a_module_is_whole():
    method = source("../../src/kbook/models/gpt.py", "GPT.forward")
    assert method.startswith("def forward(") and "return" in method
    assert "def generate(" not in method
    engine = ROOT / "src" / "kbook" / "scalar" / "engine.py"
    assert source("../../src/kbook/scalar/engine.py") == engine.read_text(encoding="utf-8").rstrip("\n")


def test_show_source_is_a_python_code_block_in_a_notebook():
    shown = show_source("../../src/kbook/models/gpt.py", "GPT.forward")
    assert isinstance(shown, Markdown)
    assert shown.data.startswith("```python\ndef forward(") and shown.data.endswith("\n```")
    assert kbook.show_source is show_source


def test_there_are_listings():
    assert len(listings()) >= 20


@pytest.mark.parametrize(("notebook", "path", "options"), listings(),
                         ids=lambda v: v.name if isinstance(v, Path) else str(v))
def test_jupyter_shows_the_code_the_book_shows(notebook, path, options):
    """The same lines as Sphinx's literalinclude reads (which keeps a method's indentation)."""
    class Config:
        source_encoding = "utf-8"

    text, _ = LiteralIncludeReader(str((notebook.parent / path).resolve()), options, Config()).read()
    assert source(path, options.get("pyobject")) == textwrap.dedent(text).rstrip("\n")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_every_listing_is_shown_in_jupyter_too(notebook):
    """A literalinclude renders only in the book: Jupyter and Colab show its file path. So each
    Markdown cell with listings is followed by one code cell per listing, removed from the book,
    that shows the same code with kbook.show_source."""
    cells = nbformat.read(notebook, as_version=4).cells
    for i, cell in enumerate(cells):
        if cell.cell_type != "markdown":
            continue
        wanted = []
        for path, options in directives(cell.source):
            pyobject = options.get("pyobject")
            args = f'"{path}", "{pyobject}"' if pyobject else f'"{path}"'
            wanted.append(f"{SHOW_HEADER}kbook.show_source({args})")
        following = cells[i + 1 : i + 1 + len(wanted)]
        got = [c.source for c in following
               if c.cell_type == "code" and "remove-cell" in c.metadata.get("tags", [])]
        assert got == wanted, (f"{notebook.name}, cell {i}: put these code cells, tagged remove-cell, right "
                               f"after it: {wanted}")
