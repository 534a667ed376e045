"""Turn the dataset files into Python strings and tensors."""

from __future__ import annotations

import gzip
import struct
import unicodedata

import numpy as np
import torch
from PIL import Image

from .registry import files_of
from .resolve import fetch

TEXTS = {
    "tinyshakespeare": "tinyshakespeare/input.txt",
    "pride_and_prejudice": "gutenberg/pride_and_prejudice.txt",
    "alice_in_wonderland": "gutenberg/alice_in_wonderland.txt",
}
IMAGES = tuple(f.path.split("/", 1)[1].rsplit(".", 1)[0] for f in files_of("style"))

# IDX magic numbers: two zero bytes, a type code (0x08 = unsigned byte), the number of dims.
_IDX_UBYTE = 0x08


def text(name: str = "tinyshakespeare") -> str:
    """A whole text corpus as one string: ``tinyshakespeare`` or a Gutenberg book."""
    if name not in TEXTS:
        raise KeyError(f"unknown text {name!r}; choose one of {sorted(TEXTS)}")
    return fetch(TEXTS[name]).read_text(encoding="utf-8")


def names() -> list[str]:
    """The 32,033 names of makemore's ``names.txt``, lower case, duplicates kept."""
    return fetch("names/names.txt").read_text(encoding="utf-8").split()


def read_idx(data: bytes) -> torch.Tensor:
    """Parse an (uncompressed) IDX file of unsigned bytes into a uint8 tensor."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError("not an IDX file: it must start with two zero bytes")
    if data[2] != _IDX_UBYTE:
        raise ValueError(f"IDX type code {data[2]:#04x} is not supported (only 0x08, unsigned byte)")
    ndim = data[3]
    shape = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    body = data[4 + 4 * ndim :]
    if len(body) != int(np.prod(shape)):
        raise ValueError(f"IDX header says shape {shape} but the file holds {len(body)} values")
    return torch.from_numpy(np.frombuffer(body, dtype=np.uint8).reshape(shape).copy())


def mnist(split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST as ``(images, labels)``: uint8 tensors of shape (N, 28, 28) and (N,).

    ``split`` is ``"train"`` (N = 60000) or ``"test"`` (N = 10000).
    """
    prefix = {"train": "train", "test": "t10k"}.get(split)
    if prefix is None:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    images = read_idx(gzip.decompress(fetch(f"mnist/{prefix}-images-idx3-ubyte.gz").read_bytes()))
    labels = read_idx(gzip.decompress(fetch(f"mnist/{prefix}-labels-idx1-ubyte.gz").read_bytes()))
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{split}: {images.shape[0]} images but {labels.shape[0]} labels")
    return images, labels


def _clean(s: str) -> str:
    # French text uses narrow no-break spaces before punctuation; make every space plain.
    s = unicodedata.normalize("NFC", s)
    return " ".join(s.replace("\u202f", " ").replace("\u00a0", " ").split())


def eng_fra_pairs() -> list[tuple[str, str]]:
    """English–French sentence pairs (Tatoeba via manythings.org), spaces normalised."""
    pairs = []
    for line in fetch("eng-fra/eng-fra.txt").read_text(encoding="utf-8").splitlines():
        english, french = line.split("\t")
        pairs.append((_clean(english), _clean(french)))
    return pairs


def image(name: str, size: int | tuple[int, int] | None = None) -> torch.Tensor:
    """A style or content image as a float tensor (3, H, W) with values in [0, 1].

    ``size`` resizes: an int sets the shorter side (aspect kept), a pair sets (H, W).
    """
    if name not in IMAGES:
        raise KeyError(f"unknown image {name!r}; choose one of {list(IMAGES)}")
    (entry,) = [f for f in files_of("style") if f.path.split("/", 1)[1].startswith(name + ".")]
    with Image.open(fetch(entry)) as img:
        img = img.convert("RGB")
        if size is not None:
            if isinstance(size, int):
                scale = size / min(img.size)
                w, h = round(img.width * scale), round(img.height * scale)
            else:
                h, w = size
            img = img.resize((w, h), Image.Resampling.BICUBIC)
        array = np.asarray(img, dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()
