"""Every dataset file the book reads, with its checksum and where to download it.

Mirrors ``shared/data/MANIFEST.md``. Download URLs point at pinned snapshots (a fixed
commit, or a mirror that never changes) so the SHA-256 below always matches; ``source``
names the canonical home of the data for attribution.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DataFile:
    """One file of a dataset, relative to a data root such as ``shared/data``."""

    dataset: str
    path: str
    sha256: str
    urls: tuple[str, ...]
    source: str
    member: str | None = None  # set when the URLs serve a zip archive that holds the file
    archive_sha256: str | None = None


_GH = "https://raw.githubusercontent.com"
_CHAR_RNN = f"{_GH}/karpathy/char-rnn/6f9487a6fe5b420b7ca9afb0d7c078e37c1d1b4e"
_MAKEMORE = f"{_GH}/karpathy/makemore/988aa59e4d8fefa526d06f3b453ad116258398d4"
_NEURAL_STYLE = f"{_GH}/jcjohnson/neural-style/07c4b8299f8fbdafec0c514fc820ff1d7ff62e46"
_SKIMAGE = f"{_GH}/scikit-image/scikit-image/cd0a3d22b9f359f05618d75d5c7a29b91b4951ca"
_SEQ2SEQ_ZIP = f"{_GH}/genimind/seq2seq/4f3f8eb0adde54fcc8b89394336b002e7961244c/fra-eng.zip"
_SEQ2SEQ_ZIP_SHA = "16c4f7d0df9e7c5e6c54cdb0447f3f4a18a55052ff5e2e0b27dd4a06c0e49d04"
_PG1342 = f"{_GH}/gutenbergbooks/1342/041e520899f9a02af517d6cb253bc1fdfbf923e2"
_PG11 = f"{_GH}/gutenbergbooks/11/5e5120e12a58a10254e0e6a42661d887e61c2aac"
_MNIST_MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist", "http://yann.lecun.com/exdb/mnist")


def _mnist(name: str, sha256: str) -> DataFile:
    return DataFile(
        "mnist", f"mnist/{name}", sha256, tuple(f"{m}/{name}" for m in _MNIST_MIRRORS),
        "http://yann.lecun.com/exdb/mnist/ (LeCun, Cortes & Burges)",
    )


def _style(name: str, sha256: str, url: str, source: str) -> DataFile:
    return DataFile("style", f"style/{name}", sha256, (url,), source)


FILES: tuple[DataFile, ...] = (
    DataFile(
        "tinyshakespeare", "tinyshakespeare/input.txt",
        "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
        (f"{_CHAR_RNN}/data/tinyshakespeare/input.txt",), "karpathy/char-rnn (MIT)",
    ),
    DataFile(
        "names", "names/names.txt",
        "0a30b5557f192f32ab962680889aac5f6fda0f4cecf40a6d0b5694f58ea8cc4d",
        (f"{_MAKEMORE}/names.txt",), "karpathy/makemore (MIT); SSA baby names 2018",
    ),
    _mnist("train-images-idx3-ubyte.gz",
           "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
    _mnist("train-labels-idx1-ubyte.gz",
           "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
    _mnist("t10k-images-idx3-ubyte.gz",
           "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
    _mnist("t10k-labels-idx1-ubyte.gz",
           "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
    DataFile(
        "eng-fra", "eng-fra/eng-fra.txt",
        "2546838ae46e0eac4c02ab7032ea0a02a006074a5340077a36a9444f41e02888",
        (_SEQ2SEQ_ZIP,), "www.manythings.org/anki and tatoeba.org (CC BY 2.0)",
        member="fra.txt", archive_sha256=_SEQ2SEQ_ZIP_SHA,
    ),
    DataFile(
        "eng-fra", "eng-fra/ABOUT-manythings.txt",
        "359011f5738272138286287b44db215d184823911eb049da2160a6ac6933d6c9",
        (_SEQ2SEQ_ZIP,), "www.manythings.org/anki and tatoeba.org (CC BY 2.0)",
        member="_about.txt", archive_sha256=_SEQ2SEQ_ZIP_SHA,
    ),
    _style("starry_night.jpg", "0592ab0f7b51b3ce72608a95e53880bd93971e5b48f93a0ce8dfd3cbccf3d098",
           f"{_NEURAL_STYLE}/examples/inputs/starry_night.jpg",
           "Vincent van Gogh, The Starry Night (1889), public domain"),
    _style("the_scream.jpg", "f3075cddeb974a9ee1d6418f7f33fd05185a7ac7dcb4288bd2805d499a9dcaee",
           f"{_NEURAL_STYLE}/examples/inputs/the_scream.jpg",
           "Edvard Munch, The Scream (1893), public domain"),
    _style("great_wave_off_kanagawa.jpg",
           "6f1fdb647b1ee20ce2e040a4545d505a0722b2b29e5d70bb0721cf85da8d3750",
           f"{_GH}/hamstu/speaking/f96302e76c9f0a43b85dcec950ca620a8ed9087d/images/"
           "great_wave_off_kanagawa.jpg",
           "Katsushika Hokusai, The Great Wave off Kanagawa (c. 1831), public domain"),
    _style("astronaut.png", "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5",
           f"{_SKIMAGE}/src/_skimage2/data/astronaut.png",
           "Eileen Collins, NASA Great Images database, public domain (via scikit-image)"),
    _style("chelsea.png", "596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb",
           f"{_SKIMAGE}/src/_skimage2/data/chelsea.png",
           "Chelsea the cat, CC0, Stefan van der Walt (via scikit-image)"),
    _style("coffee.png", "cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7",
           f"{_SKIMAGE}/src/_skimage2/data/coffee.png",
           "Coffee cup, CC0, Rachel Michetti (via scikit-image)"),
    DataFile(
        "gutenberg", "gutenberg/pride_and_prejudice.txt",
        "86dab871eec9c0cef97f4cb6313f86c6cc48f6f7809534e65cd3f1c1d486d247",
        (f"{_PG1342}/1342-0.txt",), "Project Gutenberg eBook #1342, public domain in the US",
    ),
    DataFile(
        "gutenberg", "gutenberg/alice_in_wonderland.txt",
        "f17aa0bf7466424a8b357b688678666bad7a0148963ef349016a3098faa6bd1e",
        (f"{_PG11}/11-0.txt",), "Project Gutenberg eBook #11, public domain in the US",
    ),
    DataFile(
        "gutenberg", "gutenberg/LICENSE-pg1342.txt",
        "2b726bd493c3b681b622d6c1069a7d91602ff51d775219f360fade154c8f6afb",
        (f"{_PG1342}/LICENSE.txt",), "Project Gutenberg eBook #1342",
    ),
    DataFile(
        "gutenberg", "gutenberg/LICENSE-pg11.txt",
        "bce16f62f5ec488feb7b8e7a55541867444bc8073885e4f5a1ea8c0345c1d6e2",
        (f"{_PG11}/LICENSE.txt",), "Project Gutenberg eBook #11",
    ),
)

DATASETS: tuple[str, ...] = tuple(dict.fromkeys(f.dataset for f in FILES))


def lookup(path: str) -> DataFile:
    """The registry entry for ``path`` (e.g. ``"mnist/t10k-labels-idx1-ubyte.gz"``)."""
    for f in FILES:
        if f.path == path:
            return f
    known = "\n  ".join(f.path for f in FILES)
    raise KeyError(f"no dataset file {path!r} in kbook's registry; known files:\n  {known}")


def files_of(dataset: str) -> tuple[DataFile, ...]:
    """All registered files of one dataset (e.g. ``"mnist"``)."""
    found = tuple(f for f in FILES if f.dataset == dataset)
    if not found:
        raise KeyError(f"unknown dataset {dataset!r}; known datasets: {', '.join(DATASETS)}")
    return found
