"""Find a dataset file on disk, check it, and download it when it is nowhere to be found.

Places are tried in this order:

1. the folder named by the ``KBOOK_DATA`` environment variable;
2. a ``shared/data`` folder beside the repository, found by walking up from this package
   and from the working directory;
3. the user cache, ``$KBOOK_CACHE`` or ``~/.cache/kbook``.

A file that exists is always checked against its SHA-256, and a bad file is an error, never
used. A file found nowhere is downloaded into the cache (checked before it is moved into
place); with no network, one error names every place looked and how to fix it.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import os
import urllib.request
import zipfile
from pathlib import Path

from tqdm.auto import tqdm

from ..atomic import atomic_write
from .registry import DataFile, lookup

_CHUNK = 1 << 20
PACKAGE_DIR = Path(__file__).resolve().parent  # where the walk up to a shared/data folder starts


class DatasetNotFoundError(FileNotFoundError):
    """A dataset file is on no local path and could not be downloaded."""


class ChecksumError(ValueError):
    """A dataset file's SHA-256 is not the one in the registry."""


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file's bytes, as 64 hex digits, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def cache_dir() -> Path:
    """Where downloads go: ``$KBOOK_CACHE``, else ``$XDG_CACHE_HOME/kbook``, else ``~/.cache/kbook``."""
    if os.environ.get("KBOOK_CACHE"):
        return Path(os.environ["KBOOK_CACHE"]).expanduser().resolve()  # relative: to the working dir
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "kbook"


def _shared_folders() -> list[Path]:
    found: list[Path] = []
    for start in (PACKAGE_DIR, Path.cwd().resolve()):
        for folder in (start, *start.parents):
            candidate = folder / "shared" / "data"
            if candidate.is_dir() and candidate not in found:
                found.append(candidate)
    return found


def search_roots() -> list[tuple[str, Path | None]]:
    """The places searched, in order, each as ``(label, folder)``; folder is None if unset."""
    env = os.environ.get("KBOOK_DATA")
    roots: list[tuple[str, Path | None]] = [("KBOOK_DATA", Path(env).expanduser().resolve() if env else None)]
    shared = _shared_folders()
    roots += [("shared", p) for p in shared] or [("shared", None)]
    roots.append(("cache", cache_dir()))
    return roots


def _verify(path: Path, entry: DataFile) -> Path:
    actual = sha256_of(path)
    if actual != entry.sha256:
        raise ChecksumError(
            f"{path} does not match its checksum, so it was not used.\n"
            f"  expected sha256 {entry.sha256}\n  actual   sha256 {actual}\n"
            "The file is damaged or a different version: delete it (it is downloaded again "
            "when the network works) or replace it with the file from shared/data."
        )
    return path


def locate(path: str) -> tuple[Path, str] | None:
    """Where ``path`` is on disk now, as ``(file, label of its place)``, or None. No checks."""
    for label, root in search_roots():
        if root is not None and (root / path).is_file():
            return root / path, label
    return None


def fetch(path: str | DataFile, download: bool | None = None) -> Path:
    """Return a verified local copy of a dataset file, downloading it if need be.

    ``path`` is a registry path such as ``"tinyshakespeare/input.txt"``. ``download=None``
    downloads unless the ``KBOOK_OFFLINE`` environment variable is on (``1``, ``true``, ``yes``).
    """
    entry = path if isinstance(path, DataFile) else lookup(path)
    roots = search_roots()
    for _, root in roots:
        if root is not None and (root / entry.path).is_file():
            return _verify(root / entry.path, entry)
    if download is None:
        download = not _offline()
    failures: list[str] = []
    bad_files: list[ChecksumError] = []
    if download:
        for url in entry.urls:  # mirrors in order: a failure or a wrong file moves on to the next
            try:
                return _download(url, entry)
            except ChecksumError as exc:
                bad_files.append(exc)
                failures.append(f"{url}: {exc}")
            except (OSError, http.client.HTTPException, zipfile.BadZipFile, KeyError) as exc:
                failures.append(f"{url}: {exc}")  # URLError is an OSError; a cut transfer is an HTTPException
    if bad_files and len(bad_files) == len(entry.urls):
        raise bad_files[-1]  # every mirror served a file, and none was the right one
    raise DatasetNotFoundError(_not_found_message(entry, roots, failures, download))


def _offline() -> bool:
    value = os.environ.get("KBOOK_OFFLINE", "").strip().lower()
    if value in ("", "0", "false", "no"):
        return False
    if value in ("1", "true", "yes"):
        return True
    raise ValueError(f"KBOOK_OFFLINE={value!r}: use 1 (no downloads) or 0 (downloads allowed)")


def _not_found_message(entry: DataFile, roots, failures: list[str], download: bool) -> str:
    lines = [f"dataset file {entry.path!r} (dataset {entry.dataset!r}) was not found.", "Looked in:"]
    for label, root in roots:
        lines.append(f"  - {label}: " + (f"{root / entry.path} (missing)" if root else "(not set)"))
    if not download:
        lines.append("Downloading is off (KBOOK_OFFLINE=1, or download=False).")
    for failure in failures:
        lines.append(f"Download failed: {failure}")
    lines.append(
        f"To fix: set KBOOK_DATA to a folder that holds {entry.path} (such as the repository's "
        f"../shared/data), or connect to the internet and run again: the file is then downloaded "
        f"into {cache_dir()} and checked against its SHA-256."
    )
    return "\n".join(lines)


def _download(url: str, entry: DataFile) -> Path:
    target = cache_dir() / entry.path
    target.parent.mkdir(parents=True, exist_ok=True)
    payload = _get(url, entry.path)
    if entry.member is not None:
        actual_archive = hashlib.sha256(payload).hexdigest()
        if entry.archive_sha256 and actual_archive != entry.archive_sha256:
            raise ChecksumError(
                f"the archive holding {entry.path}, downloaded from {url}, does not match its "
                f"checksum; it was discarded.\n  expected sha256 {entry.archive_sha256}\n"
                f"  actual   sha256 {actual_archive}")
        with zipfile.ZipFile(io.BytesIO(payload)) as archive:
            payload = archive.read(entry.member)
    actual = hashlib.sha256(payload).hexdigest()
    if actual != entry.sha256:
        raise ChecksumError(
            f"download of {entry.path} from {url} does not match its checksum; it was discarded.\n"
            f"  expected sha256 {entry.sha256}\n  actual   sha256 {actual}"
        )
    with atomic_write(target) as f:
        f.write(payload)
    return target


def _get(url: str, label: str) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "kbook"})
    with urllib.request.urlopen(request, timeout=60) as response:
        total = int(response.headers.get("Content-Length") or 0) or None
        buffer = io.BytesIO()
        with tqdm(total=total, unit="B", unit_scale=True, desc=f"downloading {label}") as bar:
            for chunk in iter(lambda: response.read(_CHUNK), b""):
                buffer.write(chunk)
                bar.update(len(chunk))
    return buffer.getvalue()
