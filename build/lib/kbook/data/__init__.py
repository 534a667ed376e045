"""Datasets for the book: found offline in ``shared/data`` or downloaded and checked.

>>> from kbook import data
>>> images, labels = data.mnist("test")      # uint8 (10000, 28, 28) and (10000,)
>>> shakespeare = data.text("tinyshakespeare")
"""

from .loaders import IMAGES, TEXTS, eng_fra_pairs, image, mnist, names, read_idx, text
from .registry import DATASETS, FILES, DataFile, files_of, lookup
from .resolve import (
    ChecksumError,
    DatasetNotFoundError,
    cache_dir,
    fetch,
    locate,
    search_roots,
    sha256_of,
)

__all__ = [
    "ChecksumError", "DataFile", "DATASETS", "DatasetNotFoundError", "FILES", "IMAGES", "TEXTS",
    "cache_dir", "eng_fra_pairs", "fetch", "files_of", "image", "locate", "lookup", "mnist",
    "names", "read_idx", "search_roots", "sha256_of", "text",
]
