import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from parity.runtime import import_tensorflow

import_tensorflow()  # before anything else imports TensorFlow: quiet logs, no TF32


def idx_bytes(array, magic=None, dims=None):
    """The IDX encoding of a uint8 array; `magic` and `dims` override the header to damage it."""
    array = np.asarray(array, np.uint8)
    magic = (0x08 << 8 | array.ndim) if magic is None else magic
    dims = array.shape if dims is None else dims
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims) + array.tobytes()


def write_idx(path, array, gz=True, **damage):
    data = idx_bytes(array, **damage)
    path = Path(path)
    if gz:
        path = path.with_name(path.name + ".gz")
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)
    return path


def write_idx_set(folder, n_train=120, n_test=40, gz=True, seed=0):
    """Four small IDX files in the real MNIST layout; returns the arrays written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test).astype(np.uint8),
    }
    for name, array in arrays.items():
        write_idx(folder / name, array, gz=gz)
    return arrays


@pytest.fixture
def isolated_data(tmp_path, monkeypatch):
    """No data set on any search path: an empty Keras home, no $TF_PARITY_DATA, no system folders."""
    from parity.datasets import base

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.delenv("TF_PARITY_DATA", raising=False)
    monkeypatch.setattr(base, "SYSTEM_ROOTS", [tmp_path / "system"])
    return tmp_path
