"""Readers of the published formats parse small files written here in those formats."""

from __future__ import annotations

import pickle
import struct

import numpy as np
import pytest

from brainalign.errors import DataError
from brainalign.tasks.image_formats import read_cifar10_binary, read_cifar10_python, read_idx, read_mnist_idx
from tests.tasks.published_files import idx_bytes, write_cifar_binary, write_mnist


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_idx_files_parse(tmp_path, gz):
    written = write_mnist(tmp_path, gz=gz)
    images, labels = read_mnist_idx(tmp_path, "test")
    np.testing.assert_array_equal(images, written["t10k"][0])
    np.testing.assert_array_equal(labels, written["t10k"][1])


def test_bad_idx_files_are_rejected(tmp_path):
    path = tmp_path / "x-idx1-ubyte"
    path.write_bytes(b"\x00\x00\x07\x01" + struct.pack(">I", 3) + b"abc")
    with pytest.raises(DataError, match="bad magic number"):
        read_idx(path)
    path.write_bytes(idx_bytes(np.zeros((5, 2, 2)))[:-3])
    with pytest.raises(DataError, match="truncated"):
        read_idx(path)
    with pytest.raises(DataError, match="none of .*train-images-idx3-ubyte"):
        read_mnist_idx(tmp_path / "empty", "train")


def test_cifar10_binary_batches_parse_channel_planes(tmp_path):
    planes = write_cifar_binary(tmp_path)
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
