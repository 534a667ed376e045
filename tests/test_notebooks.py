"""Every notebook follows the book's conventions (the notebooks themselves run under nbval)."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import tempfile
from pathlib import Path

import nbformat
import pytest
import yaml
from nbclient import NotebookClient
from nbval.kernel import CURRENT_ENV_KERNEL_NAME, RunningKernel

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("sync", ROOT / "scripts" / "sync_install_cell.py")
sync = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sync)

NOTEBOOKS = sync.notebooks()


def toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries):
        for entry in entries:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections", []) + entry.get("chapters", []))

    walk(toc.get("parts", []))
    return files


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 2


def test_install_cells_match_config():
    source = sync.install_source()
    assert "git+https://" in source
    stale = [p.name for p in NOTEBOOKS
             if nbformat.writes(sync.synced(nbformat.read(p, as_version=4), source)) + "\n"
             != p.read_text()]
    assert not stale, f"out of sync with _config.yml: {stale}; run scripts/sync_install_cell.py"


def test_a_changed_url_is_detected(tmp_path):
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config["repository"]["url"] = "https://example.org/fork/kbook"
    (tmp_path / "_config.yml").write_text(yaml.safe_dump(config))
    nb = nbformat.read(NOTEBOOKS[0], as_version=4)
    assert sync.synced(nb, sync.install_source(tmp_path / "_config.yml")) != \
        nbformat.read(NOTEBOOKS[0], as_version=4)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_conventions(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    assert "What you will learn" in nb.cells[0].source and "Prerequisites" in nb.cells[0].source
    assert sync.TAG in code[0].metadata.get("tags", []), "first code cell must install kbook"
    params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1, "exactly one cell tagged 'parameters'"
    assert "PROFILE = None" in params[0].source and "SEED = 0" in params[0].source
    assert not any(c.get("outputs") or c.get("execution_count") for c in code), "stored outputs"
    check = max(i for i, c in enumerate(nb.cells) if c.cell_type == "markdown"
                and re.search(r"^## Check\s*$", c.source, re.MULTILINE))
    check_code = next(c for c in nb.cells[check:] if c.cell_type == "code")
    assert "assert" in check_code.source, "the Check cell must assert"
    assert any("kbook.profile(PROFILE)" in c.source for c in code)


def test_every_notebook_and_page_is_in_the_toc():
    listed = toc_files()
    for path in NOTEBOOKS:
        assert path.relative_to(ROOT).with_suffix("").as_posix() in listed, path
    for entry in listed:
        assert (ROOT / f"{entry}.md").exists() or (ROOT / f"{entry}.ipynb").exists(), entry


PYTHON_BLOCK = re.compile(r"^(`{3,})python\n(.*?)^\1\s*$", re.DOTALL | re.MULTILINE)


def markdown_python_blocks(path: Path) -> list[str]:
    """The ```python blocks of a notebook's Markdown cells: the exercises' solutions, mostly."""
    nb = nbformat.read(path, as_version=4)
    return [m.group(2) for c in nb.cells if c.cell_type == "markdown"
            for m in PYTHON_BLOCK.finditer(c.source)]


def test_markdown_python_blocks_are_found():
    blocks = [b for p in NOTEBOOKS for b in markdown_python_blocks(p)]
    assert len(blocks) >= 50, "the solutions' code blocks were not found: has their fence changed?"
    assert all(b.strip() for b in blocks), "an empty python block"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_solution_code_is_valid_python(path):
    """A reader copies a solution into a cell: it must at least parse."""
    for i, block in enumerate(markdown_python_blocks(path)):
        compile(block, f"{path.name}: Markdown python block {i}", "exec")


WITH_SOLUTIONS = [p for p in NOTEBOOKS if markdown_python_blocks(p)]


@pytest.mark.parametrize("path", WITH_SOLUTIONS, ids=lambda p: p.name)
def test_solutions_run_after_the_notebook(path, monkeypatch, notebook_kernel):
    """A reader runs a solution after the whole notebook: it must run there, in the smoke profile.

    nbval runs the notebooks as published, where solutions are hidden Markdown; this runs each
    notebook again with its solutions appended as code cells, in order, in one kernel.
    """
    monkeypatch.setenv("KBOOK_PROFILE", "smoke")
    monkeypatch.setenv("MPLBACKEND", "agg")
    nb = nbformat.read(path, as_version=4)
    for i, block in enumerate(markdown_python_blocks(path)):
        nb.cells.append(nbformat.v4.new_code_cell(f"# solution block {i} of {path.name}\n{block}"))
    resources = {"metadata": {"path": str(path.parent)}}
    NotebookClient(nb, km=notebook_kernel, timeout=600, resources=resources).execute()


@pytest.mark.skipif(os.name != "posix", reason="Unix sockets: Windows kernels keep to TCP")
def test_nbval_kernels_talk_over_unix_sockets(tmp_path):
    """Kernels started at once cannot collide on a TCP port (see conftest.py): nbval's use Unix
    sockets, and one started in another folder, as nbval starts one in its notebook's, answers."""
    kernel = RunningKernel(CURRENT_ENV_KERNEL_NAME, cwd=str(tmp_path))
    try:
        assert kernel.km.transport == "ipc"
        reply = kernel.kc.execute_interactive("import os", user_expressions={"cwd": "os.getcwd()"})
        assert reply["content"]["status"] == "ok"
        assert reply["content"]["user_expressions"]["cwd"]["data"]["text/plain"] == repr(str(tmp_path))
    finally:
        kernel.stop()


@pytest.mark.skipif(os.name != "posix", reason="Unix sockets: Windows kernels keep to TCP")
def test_notebook_kernel_is_shut_down_when_its_test_ends(pytester, monkeypatch):
    """A test that runs a notebook on the `notebook_kernel` fixture leaves no kernel running and
    no socket behind: an idle kernel per test would hold PyTorch in memory for the rest of the run."""
    sockets = Path(tempfile.mkdtemp(prefix="kb"))  # short: a Unix socket's path has at most ~100 bytes
    monkeypatch.setenv("TMPDIR", str(sockets))
    pytester.makeconftest((ROOT / "conftest.py").read_text())
    pytester.makepyfile(
        """
        import nbformat
        from nbclient import NotebookClient

        def test_run_a_notebook(notebook_kernel):
            nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import os; os.getpid()")])
            NotebookClient(nb, km=notebook_kernel, timeout=60).execute()
            print("KERNEL PID", nb.cells[0].outputs[0]["data"]["text/plain"])
        """
    )
    try:
        result = pytester.runpytest_subprocess("-s", "-p", "no:cacheprovider")
        result.assert_outcomes(passed=1)
        pid = int(re.search(r"KERNEL PID (\d+)", result.stdout.str()).group(1))
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
        assert not list(sockets.iterdir()), f"sockets left behind: {sorted(sockets.iterdir())}"
    finally:
        shutil.rmtree(sockets)

