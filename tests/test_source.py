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
from kbook.models.gpt import GPT
from kbook.source import module_name, show_source, source

ROOT = Path(__file__).resolve().parent.parent
LISTING = re.compile(r"```\{literalinclude\} (\S+)\n((?::[^\n]*\n)*)```")


def listings() -> list[tuple[Path, str, dict[str, str]]]:
    """Every literalinclude of every notebook: (notebook, path as written, options)."""
    found = []
    for notebook in sorted((ROOT / "notebooks").rglob("*.ipynb")):
        for cell in nbformat.read(notebook, as_version=4).cells:
            if cell.cell_type == "markdown":
                for m in LISTING.finditer(cell.source):
                    found.append((notebook, m.group(1), dict(re.findall(r":(\S+): *(.*)", m.group(2)))))
    return found


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
    assert GPT.forward.__name__ in method


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
