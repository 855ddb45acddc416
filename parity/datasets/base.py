"""What every loader shares: the Dataset it returns, where files are searched, and not finding them."""
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from parity.datasets.errors import DataError

SYSTEM_ROOTS = [Path("/usr/share/datasets")]
GIVEN_ROOTS = ("--data-dir", "$TF_PARITY_DATA")  # folders the user named: what they hold is never passed over


class DataNotFound(DataError):
    """No copy of the data set was found in any search location."""


@dataclass(frozen=True)
class Dataset:
    name: str
    source: str
    x_train: np.ndarray  # float32 [N, H, W, C] in [0, 1]
    y_train: np.ndarray  # int64 [N]
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    class_names: tuple = ()
    note: str = ""
    extra: dict = field(default_factory=dict)  # further label sets, e.g. CIFAR-100's coarse labels

    @property
    def image_shape(self):
        return tuple(self.x_train.shape[1:])

    def summary(self) -> str:
        text = (f"{self.name} from {self.source}: {len(self.x_train)} train / {len(self.x_test)} test "
                f"images of {'x'.join(map(str, self.image_shape))}, {self.num_classes} classes")
        return f"{text} ({self.note})" if self.note else text


def search_roots(data_dir=None):
    """The folders searched, in order, as (label, path) pairs; a given folder that is not one is an error."""
    roots = []
    if data_dir:
        roots.append(("--data-dir", _given_folder("--data-dir", str(data_dir))))
    if os.environ.get("TF_PARITY_DATA"):
        roots.append(("$TF_PARITY_DATA", _given_folder("$TF_PARITY_DATA", os.environ["TF_PARITY_DATA"])))
    keras_home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")).expanduser()
    roots.append(("Keras cache", keras_home / "datasets"))
    roots.extend(("system packages", root) for root in SYSTEM_ROOTS)
    return roots


def _given_folder(label, value):
    """`value` as a folder path, or a DataError: a folder the user names must exist."""
    path = Path(value).expanduser()
    if path.is_dir():
        return path
    problem = "does not exist" if not path.exists() else "is a file" if path.is_file() else "is not a folder"
    if label == "--data-dir":
        raise DataError(f"--data-dir {path}: {problem}; pass the folder that holds the data files, "
                        "or leave --data-dir out to search the usual places")
    shown = value if str(path) == value else f"{value} ({path})"
    raise DataError(f"$TF_PARITY_DATA is {shown}, which {problem}; set it to the folder that holds "
                    "the data files, or unset it")
