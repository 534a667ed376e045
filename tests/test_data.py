"""kbook.data: every resolution branch, downloads, checksums, and the loaders."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import os
import re
import shutil
import struct
import unicodedata
import zipfile
from pathlib import Path

import pytest
import torch

from kbook import data
from kbook.data import ChecksumError, DataFile, DatasetNotFoundError

NAMES = "names/names.txt"


def entry_for(content: bytes, url: str, path: str = "toy/file.txt", **kw) -> DataFile:
    return DataFile("toy", path, hashlib.sha256(content).hexdigest(), (url,), "test", **kw)


# -- where a file is found ---------------------------------------------------------------

def test_env_var_folder_comes_first(no_local_data, tmp_path, shared_data, monkeypatch):
    own = tmp_path / "mine"
    (own / "names").mkdir(parents=True)
    shutil.copy(shared_data / NAMES, own / NAMES)
    (no_local_data / "names").mkdir(parents=True)  # the same file in the cache
    shutil.copy(shared_data / NAMES, no_local_data / NAMES)
    course = tmp_path / "course"  # and in a shared/ folder above the working directory
    (course / "shared" / "data" / "names").mkdir(parents=True)
    shutil.copy(shared_data / NAMES, course / "shared" / "data" / NAMES)
    monkeypatch.chdir(course)
    assert data.locate(NAMES)[1] == "shared"
    monkeypatch.setenv("KBOOK_DATA", str(own))
    assert data.fetch(NAMES) == own / NAMES
    assert data.locate(NAMES) == (own / NAMES, "KBOOK_DATA")


def test_shared_folder_found_walking_up_from_working_directory(no_local_data, tmp_path,
                                                               shared_data, monkeypatch):
    layout = tmp_path / "course"
    (layout / "shared" / "data" / "names").mkdir(parents=True)
    shutil.copy(shared_data / NAMES, layout / "shared" / "data" / NAMES)
    deep = layout / "main" / "notebooks" / "04_math"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    assert data.fetch(NAMES) == layout / "shared" / "data" / NAMES
    assert data.locate(NAMES)[1] == "shared"
    monkeypatch.chdir(layout)  # the folder that holds shared/ itself
    assert data.fetch(NAMES) == layout / "shared" / "data" / NAMES


def test_shared_folder_found_walking_up_from_the_package(shared_data, tmp_path, monkeypatch):
    # The repository's own layout: src/kbook/data/... with ../shared/data beside the repo.
    monkeypatch.delenv("KBOOK_DATA", raising=False)
    monkeypatch.chdir(tmp_path)  # no shared/ above the working directory: only the package's walk finds it
    path, where = data.locate(NAMES)
    assert where == "shared" and path.read_bytes() == (shared_data / NAMES).read_bytes()


def test_cache_used_when_nothing_else_has_it(no_local_data, shared_data):
    (no_local_data / "names").mkdir(parents=True)
    shutil.copy(shared_data / NAMES, no_local_data / NAMES)
    assert data.fetch(NAMES, download=False) == no_local_data / NAMES
    assert data.locate(NAMES) == (no_local_data / NAMES, "cache")


# -- downloading ---------------------------------------------------------------------------

def test_download_into_cache_with_checksum(no_local_data, file_server):
    root, base = file_server
    content = b"hello, kbook\n" * 100
    (root / "file.txt").write_bytes(content)
    entry = entry_for(content, f"{base}/file.txt")
    umask = os.umask(0o027)
    try:
        path = data.fetch(entry)
        assert os.umask(umask) == 0o027, "downloading changed the process's umask"
    finally:
        os.umask(umask)
    assert path == no_local_data / "toy" / "file.txt"
    assert path.read_bytes() == content
    assert [p.name for p in path.parent.iterdir()] == ["file.txt"], "temporary download file left behind"
    assert path.stat().st_mode & 0o777 == 0o640, "the download's mode must follow the umask (0o027)"


def test_download_falls_back_to_a_mirror(no_local_data, file_server):
    root, base = file_server
    content = b"mirror copy"
    (root / "file.txt").write_bytes(content)
    entry = DataFile("toy", "toy/file.txt", hashlib.sha256(content).hexdigest(),
                     (f"{base}/missing.txt", f"{base}/file.txt"), "test")
    assert data.fetch(entry).read_bytes() == content


def test_mirrors_are_tried_in_their_order(no_local_data, monkeypatch):
    asked = []
    monkeypatch.setattr(data.resolve, "_get", lambda url, label: asked.append(url) or b"ok")
    entry = entry_for(b"ok", "http://first.example/f.txt")
    data.fetch(dataclasses.replace(entry, urls=("http://first.example/f.txt", "http://second.example/f.txt")))
    assert asked == ["http://first.example/f.txt"]  # the canonical URL first; a mirror only if it fails


def test_downloads_go_to_xdg_cache_home_when_kbook_cache_is_unset(tmp_path, monkeypatch):
    monkeypatch.delenv("KBOOK_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data.cache_dir() == tmp_path / "xdg" / "kbook"


def test_one_wrong_mirror_and_one_missing_is_not_found_not_a_checksum_error(no_local_data, file_server):
    root, base = file_server
    (root / "file.txt").write_bytes(b"someone else's file")
    entry = entry_for(b"the right file", f"{base}/file.txt")
    entry = dataclasses.replace(entry, urls=(f"{base}/file.txt", f"{base}/missing.txt"))
    with pytest.raises(DatasetNotFoundError, match="missing.txt") as info:
        data.fetch(entry)
    assert "does not match its checksum" in str(info.value)  # the wrong file is reported too


def test_a_failed_write_leaves_no_partial_download(no_local_data, file_server, monkeypatch):
    root, base = file_server
    content = b"x" * 10_000
    (root / "file.txt").write_bytes(content)
    entry = entry_for(content, f"{base}/file.txt")

    def disk_full(opener):  # files opened for writing fail on their first write
        def open_(file, mode="r", *args, **kwargs):
            f = opener(file, mode, *args, **kwargs)
            if "w" in mode:
                f.write = lambda data: (_ for _ in ()).throw(OSError(28, "No space left on device"))
            return f
        return open_

    monkeypatch.setattr(os, "fdopen", disk_full(os.fdopen))
    monkeypatch.setattr("builtins.open", disk_full(open))
    with pytest.raises(DatasetNotFoundError, match="No space left"):
        data.fetch(entry)
    assert not (no_local_data / "toy").exists() or not list((no_local_data / "toy").iterdir())


def test_download_extracts_a_zip_member(no_local_data, file_server):
    root, base = file_server
    member = b"Go.\tVa !\n"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("fra.txt", member)
        z.writestr("_about.txt", b"about")
    (root / "fra-eng.zip").write_bytes(buffer.getvalue())
    entry = entry_for(member, f"{base}/fra-eng.zip", path="toy/eng-fra.txt", member="fra.txt",
                      archive_sha256=hashlib.sha256(buffer.getvalue()).hexdigest())
    assert data.fetch(entry).read_bytes() == member


def test_bad_download_is_discarded(no_local_data, file_server):
    root, base = file_server
    (root / "file.txt").write_bytes(b"tampered")
    entry = entry_for(b"the real thing", f"{base}/file.txt")
    with pytest.raises(ChecksumError) as err:
        data.fetch(entry)
    assert entry.sha256 in str(err.value)
    assert hashlib.sha256(b"tampered").hexdigest() in str(err.value)
    assert not (no_local_data / "toy" / "file.txt").exists()


def test_a_wrong_file_from_one_mirror_moves_on_to_the_next(no_local_data, file_server):
    root, base = file_server
    (root / "tampered.txt").write_bytes(b"tampered")
    (root / "good.txt").write_bytes(b"the real thing")
    mirrors = (f"{base}/tampered.txt", f"{base}/good.txt")
    entry = dataclasses.replace(entry_for(b"the real thing", ""), urls=mirrors)
    assert data.fetch(entry).read_bytes() == b"the real thing"


def test_offline_error_names_dataset_places_and_fix(no_local_data, tmp_path):
    entry = entry_for(b"x", "http://127.0.0.1:9/unreachable.txt")  # port 9: nothing listens
    with pytest.raises(DatasetNotFoundError) as err:
        data.fetch(entry)
    message = str(err.value)
    assert "'toy/file.txt'" in message and "dataset 'toy'" in message
    assert "KBOOK_DATA: (not set)" in message
    assert "shared: (not set)" in message
    assert str(no_local_data / "toy" / "file.txt") in message
    assert "Download failed: http://127.0.0.1:9/unreachable.txt" in message
    assert "set KBOOK_DATA" in message and "connect to the internet" in message


@pytest.mark.parametrize("value", ["1", "true", "yes", " Yes "])
def test_kbook_offline_disables_downloads(no_local_data, monkeypatch, value):
    monkeypatch.setenv("KBOOK_OFFLINE", value)
    with pytest.raises(DatasetNotFoundError, match="Downloading is off"):
        data.fetch(NAMES)


def test_kbook_offline_0_allows_downloads_and_nonsense_is_an_error(no_local_data, file_server,
                                                                 monkeypatch):
    root, base = file_server
    (root / "file.txt").write_bytes(b"online")
    monkeypatch.setenv("KBOOK_OFFLINE", "0")
    assert data.fetch(entry_for(b"online", f"{base}/file.txt")).read_bytes() == b"online"
    monkeypatch.setenv("KBOOK_OFFLINE", "maybe")
    with pytest.raises(ValueError, match="KBOOK_OFFLINE='maybe': use 1"):
        data.fetch(entry_for(b"other", f"{base}/other.txt", path="toy/other.txt"))


def test_a_transfer_cut_short_moves_on_to_the_next_mirror(no_local_data, monkeypatch):
    import http.client

    import kbook.data.resolve as resolve

    def get(url, label):
        if "first" in url:
            raise http.client.IncompleteRead(b"")  # the connection dropped mid-transfer
        return b"the real thing"

    monkeypatch.setattr(resolve, "_get", get)
    entry = dataclasses.replace(entry_for(b"the real thing", ""), urls=("http://first/x", "http://second/x"))
    assert data.fetch(entry).read_bytes() == b"the real thing"


def test_a_wrong_archive_is_a_checksum_error(no_local_data, file_server):
    root, base = file_server
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("fra.txt", b"Go.\tVa !\n")
    (root / "fra-eng.zip").write_bytes(buffer.getvalue())
    entry = entry_for(b"Go.\tVa !\n", f"{base}/fra-eng.zip", path="toy/eng-fra.txt", member="fra.txt",
                      archive_sha256="0" * 64)
    with pytest.raises(ChecksumError, match=hashlib.sha256(buffer.getvalue()).hexdigest()):
        data.fetch(entry)


def test_a_relative_kbook_data_is_resolved_against_the_working_directory(no_local_data, shared_data,
                                                                       monkeypatch):
    mine = no_local_data.parent / "work" / "mine"  # the fixture's working directory
    (mine / "names").mkdir(parents=True)
    shutil.copy(shared_data / NAMES, mine / NAMES)
    monkeypatch.setenv("KBOOK_DATA", "mine")
    path, where = data.locate(NAMES)
    assert where == "KBOOK_DATA" and path.is_absolute() and path == mine / NAMES
    monkeypatch.setenv("KBOOK_CACHE", "cache-here")  # the same for the download cache
    assert data.cache_dir() == no_local_data.parent / "work" / "cache-here"


def test_real_registry_entry_missing_offline(no_local_data, monkeypatch):
    monkeypatch.setenv("KBOOK_OFFLINE", "1")
    with pytest.raises(DatasetNotFoundError, match="mnist/t10k-images-idx3-ubyte.gz"):
        data.mnist("test")


# -- checksums of files on disk ---------------------------------------------------------------

def test_corrupt_local_file_is_an_error_not_used(no_local_data, tmp_path, shared_data, monkeypatch):
    own = tmp_path / "mine"
    (own / "names").mkdir(parents=True)
    original = (shared_data / NAMES).read_bytes()
    (own / NAMES).write_bytes(original[:-10] + b"corrupted!")
    monkeypatch.setenv("KBOOK_DATA", str(own))
    with pytest.raises(ChecksumError) as err:
        data.names()
    message = str(err.value)
    assert str(own / NAMES) in message
    assert data.lookup(NAMES).sha256 in message
    assert hashlib.sha256((own / NAMES).read_bytes()).hexdigest() in message


def test_registry_matches_the_shared_manifest(shared_data):
    sums = dict(reversed(line.split()) for line in (shared_data / "SHA256SUMS").read_text().splitlines())
    assert {f.path: f.sha256 for f in data.FILES} == sums


def test_download_sources_are_the_manifests_snapshots(shared_data):
    """Every pinned commit, archive checksum and zip member must be the one MANIFEST.md records."""
    manifest = (shared_data / "MANIFEST.md").read_text()
    for f in data.FILES:
        for url in f.urls:
            for commit in re.findall(r"/([0-9a-f]{40})/", url):
                assert commit in manifest, f"{f.path}: commit {commit} of {url} is not in MANIFEST.md"
        if f.dataset == "mnist":
            assert all(url.endswith("/" + Path(f.path).name) for url in f.urls)
        if f.member is not None:  # e.g. "`eng-fra.txt` is the zip member `fra.txt`"
            pairing = rf"`{re.escape(Path(f.path).name)}` is the (zip )?member `{re.escape(f.member)}`"
            assert f.archive_sha256 in manifest and re.search(pairing, manifest), f.path


def test_unknown_names_are_clear_errors():
    with pytest.raises(KeyError, match="known datasets"):
        data.files_of("imagenet")
    with pytest.raises(KeyError, match="known files"):
        data.lookup("mnist/train.csv")
    with pytest.raises(KeyError, match="choose one of"):
        data.text("war_and_peace")
    with pytest.raises(KeyError, match="choose one of"):
        data.image("mona_lisa")


# -- loaders -----------------------------------------------------------------------------------

def test_mnist_train_and_test_shapes_and_labels():
    images, labels = data.mnist("train")
    assert images.shape == (60000, 28, 28) and images.dtype == torch.uint8
    assert labels.shape == (60000,) and labels.dtype == torch.uint8
    test_images, test_labels = data.mnist("test")
    assert test_images.shape == (10000, 28, 28) and test_labels.shape == (10000,)
    for y in (labels, test_labels):
        assert y.min() == 0 and y.max() == 9
        assert torch.bincount(y.long(), minlength=10).min() > 800  # every digit is well represented
    assert images.float().mean() > 20  # real pixels, not zeros


def test_mnist_bad_split():
    with pytest.raises(ValueError, match="'train' or 'test'"):
        data.mnist("validation")


def test_read_idx_round_trip_and_errors():
    payload = bytes(range(24))
    idx = b"\x00\x00\x08\x03" + struct.pack(">3I", 2, 3, 4) + payload
    tensor = data.read_idx(idx)
    assert tensor.shape == (2, 3, 4) and tensor.flatten().tolist() == list(payload)
    with pytest.raises(ValueError, match="two zero bytes"):
        data.read_idx(b"\x01\x00\x08\x01" + idx[4:])
    with pytest.raises(ValueError, match="type code"):
        data.read_idx(b"\x00\x00\x0d\x03" + idx[4:])
    with pytest.raises(ValueError, match=r"header says shape \(2, 3, 4\) but the file holds 23 values"):
        data.read_idx(idx[:-1])


def test_mnist_images_and_labels_must_match_in_number(monkeypatch, tmp_path):
    files = {  # three images, two labels
        "t10k-images-idx3-ubyte.gz": b"\x00\x00\x08\x03" + struct.pack(">3I", 3, 28, 28) + bytes(3 * 784),
        "t10k-labels-idx1-ubyte.gz": b"\x00\x00\x08\x01" + struct.pack(">I", 2) + bytes(2)}
    for name, raw in files.items():
        (tmp_path / name).write_bytes(gzip.compress(raw))
    monkeypatch.setattr(data.loaders, "fetch", lambda path: tmp_path / path.removeprefix("mnist/"))
    with pytest.raises(ValueError, match="test: 3 images but 2 labels"):
        data.mnist("test")


def test_mnist_gzip_is_parsed_directly(shared_data):
    raw = gzip.decompress((shared_data / "mnist/t10k-labels-idx1-ubyte.gz").read_bytes())
    assert struct.unpack(">I", raw[:4])[0] == 2049
    assert data.read_idx(raw).shape == (10000,)


def test_text_corpora():
    shakespeare = data.text("tinyshakespeare")
    assert len(shakespeare) == 1115394 and shakespeare.startswith("First Citizen:")
    assert len(set(shakespeare)) == 65
    assert "Alice" in data.text("alice_in_wonderland")
    assert "Elizabeth" in data.text("pride_and_prejudice")


def test_names():
    names = data.names()
    assert len(names) == 32033 and len(set(names)) == 29494
    assert all(n.isalpha() and n.islower() for n in names)


def test_eng_fra_pairs_are_normalised():
    pairs = data.eng_fra_pairs()
    assert len(pairs) == 142787
    assert pairs[0] == ("Go.", "Va !")
    assert not any("\u202f" in fr or "\u00a0" in fr for _, fr in pairs)
    assert ("I'm sorry.", "Je suis d\u00e9sol\u00e9.") in pairs  # an accent is one character (NFC)
    assert all(unicodedata.is_normalized("NFC", en + fr) for en, fr in pairs)


@pytest.mark.parametrize("name", data.IMAGES)
def test_images_load_as_float_rgb(name):
    img = data.image(name, size=64)
    assert img.dtype == torch.float32 and img.shape[0] == 3
    assert min(img.shape[1:]) == 64
    assert 0.0 <= img.min() and img.max() <= 1.0 and img.std() > 0.05


def test_image_exact_size():
    assert data.image("chelsea", size=(32, 48)).shape == (3, 32, 48)
