"""Show kbook's own source code inside a notebook, where the book's listings do not render.

The published book shows package code with MyST ``literalinclude`` directives. Jupyter and Colab
display those as plain text, a file path and no code, so each directive is paired with a code
cell, hidden in the book, that shows the same code from the installed package::

    kbook.show_source("../../src/kbook/models/gpt.py", "GPT.forward")

The arguments are the directive's: the file path as the book writes it and its ``:pyobject:``.
"""

from __future__ import annotations

import importlib
import inspect
import textwrap
from pathlib import PurePosixPath


def module_name(path: str) -> str:
    """The module a book path names: ``"../../src/kbook/models/gpt.py"`` -> ``"kbook.models.gpt"``."""
    parts = PurePosixPath(path).parts
    if "kbook" not in parts or not path.endswith(".py"):
        raise ValueError(f"expected the path of a module in the kbook package, such as "
                         f"'../../src/kbook/models/gpt.py'; got {path!r}")
    start = len(parts) - 1 - parts[::-1].index("kbook")
    names = [*parts[start:-1], PurePosixPath(parts[-1]).stem]
    return ".".join(names[:-1] if names[-1] == "__init__" else names)


def source(path: str, pyobject: str | None = None) -> str:
    """The source of ``pyobject`` (dotted, such as ``"GPT.forward"``) in the module at ``path``,
    or of the whole module when ``pyobject`` is None, read from the installed package."""
    obj = importlib.import_module(module_name(path))
    for name in pyobject.split(".") if pyobject else []:
        if not hasattr(obj, name):
            raise ValueError(f"{module_name(path)} has no {pyobject!r} (no attribute {name!r})")
        obj = getattr(obj, name)
    return textwrap.dedent(inspect.getsource(obj)).rstrip("\n")


def show_source(path: str, pyobject: str | None = None) -> object:
    """Display :func:`source` as a Python code block in a notebook (plain text outside one)."""
    code = source(path, pyobject)
    try:
        from IPython.display import Markdown
    except ImportError:
        return code
    return Markdown(f"```python\n{code}\n```")
