"""Writers of small files in MNIST's and CIFAR-10's published formats, for the tests."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_mnist(folder: Path, n_train=30, n_test=10, gz=False) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    data = {}
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
            path = folder / f"{prefix}-{kind}-ubyte"
            payload = idx_bytes(array)
            if gz:
                path = path.with_name(path.name + ".gz")
                payload = gzip.compress(payload, mtime=0)
            path.write_bytes(payload)
        data[prefix] = (images, labels)
    return data


def write_cifar_binary(folder: Path, per_batch=6) -> dict[str, np.ndarray]:
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
