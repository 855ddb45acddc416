"""A user's own data: an `.npz` of four arrays, x_train, y_train, x_test and y_test.

Images are used as they are (as float32, no scaling); labels may be class indices or one-hot rows.
"""
import zipfile
from pathlib import Path

import numpy as np

from parity.datasets.errors import DataError
from parity.datasets.idx import _PICKLED, _check_npz_head
from parity.datasets.base import Dataset

ARRAYS = ("x_train", "y_train", "x_test", "y_test")


def load_arrays(path):
    """The Dataset in the `.npz` at `path`, every array checked."""
    path = Path(path)
    _check_npz_head(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in ARRAYS if k not in f.files]
            if missing:
                raise DataError(f"{path}: missing {', '.join(missing)}; a data file holds x_train, y_train, x_test "
                                f"and y_test (it holds {', '.join(f.files) or 'nothing'})")
            arrays = {k: f[k] for k in ARRAYS}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
        if "pickle" in str(e):
            raise DataError(f"{path}: {_PICKLED.split(';')[0]}") from None
        raise DataError(f"{path}: not a readable .npz file ({e})") from None
    labels = {}
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim < 2 or not np.issubdtype(x.dtype, np.number):
            raise DataError(f"{path}: x_{split} has shape {x.shape} and dtype {x.dtype}; expected numbers, "
                            "[N, ...] with one row per example")
        if len(y) != len(x):
            raise DataError(f"{path}: x_{split} holds {len(x)} examples but y_{split} {len(y)}")
        if y.ndim == 2:
            y = np.argmax(y, axis=1)
        elif y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
            raise DataError(f"{path}: y_{split} has shape {y.shape} and dtype {y.dtype}; expected class indices "
                            "[N] or one-hot rows [N, classes]")
        if len(y) and y.min() < 0:
            raise DataError(f"{path}: y_{split} holds negative classes")
        labels[split] = y.astype(np.int64)
    if arrays["x_train"].shape[1:] != arrays["x_test"].shape[1:]:
        raise DataError(f"{path}: x_train's examples are {arrays['x_train'].shape[1:]}, x_test's "
                        f"{arrays['x_test'].shape[1:]}")
    classes = int(max(labels["train"].max(initial=0), labels["test"].max(initial=0))) + 1
    if arrays["y_train"].ndim == 2:
        classes = max(classes, arrays["y_train"].shape[1])
    return Dataset(path.stem, str(path), arrays["x_train"].astype(np.float32), labels["train"],
                   arrays["x_test"].astype(np.float32), labels["test"], num_classes=classes,
                   note="a user's arrays, used as they are")
