"""Shared fixtures."""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

import matplotlib
import pytest
import torch

matplotlib.use("agg")


def _available_devices() -> list[str]:
    found = ["cpu"]
    if torch.cuda.is_available():
        found.append("cuda")
    if torch.backends.mps.is_available():
        found.append("mps")
    return found


@pytest.fixture(params=_available_devices())
def dev(request) -> str:
    """Each device this machine has, in turn: "cpu", and "cuda" or "mps" where available."""
    return request.param


@pytest.fixture
def no_local_data(tmp_path, monkeypatch):
    """A world with no dataset on disk: no KBOOK_DATA, no shared/ folder, an empty cache.

    Returns the cache folder.
    """
    import kbook.data.resolve as resolve

    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.delenv("KBOOK_DATA", raising=False)
    monkeypatch.delenv("KBOOK_OFFLINE", raising=False)
    monkeypatch.setenv("KBOOK_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(resolve, "PACKAGE_DIR", work)  # as if pip-installed far from shared/
    monkeypatch.chdir(work)
    return tmp_path / "cache"


@pytest.fixture
def file_server(tmp_path):
    """Serve a temporary folder over HTTP on 127.0.0.1; yields (folder, base URL)."""
    root = tmp_path / "served"
    root.mkdir()
    handler = functools.partial(QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real shared/data folder beside the repository (CI always has it)."""
    from kbook.data.resolve import _shared_folders

    folders = _shared_folders()
    if not folders:
        pytest.fail("no shared/data folder found beside the repository; clone it as ../shared")
    return folders[0]
