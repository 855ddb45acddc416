"""Where each data set is looked for, how it is loaded, and what `auto` picks."""
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from parity.datasets import idx, small
from parity.datasets.errors import DataError

SYSTEM_ROOTS = [Path("/usr/share/datasets")]
AUTO_ORDER = ("mnist", "fashion_mnist", "digits")

IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


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
    """The folders searched, in order, as (label, path) pairs."""
    roots = []
    if data_dir:
        roots.append(("--data-dir", Path(data_dir).expanduser()))
    if os.environ.get("TF_PARITY_DATA"):
        roots.append(("$TF_PARITY_DATA", Path(os.environ["TF_PARITY_DATA"]).expanduser()))
    keras_home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")).expanduser()
    roots.append(("Keras cache", keras_home / "datasets"))
    roots.extend(("system packages", root) for root in SYSTEM_ROOTS)
    return roots


@dataclass(frozen=True)
class _Location:
    kind: str  # "idx" or "npz"
    path: Path
    files: dict = field(default_factory=dict)


def _idx_files(folder: Path):
    """Maps each of the four IDX roles to an existing file in `folder` (plain or .gz)."""
    found = {}
    for role, stem in IDX_FILES.items():
        for candidate in (folder / stem, folder / f"{stem}.gz"):
            if candidate.is_file():
                found[role] = candidate
                break
    return found


@dataclass(frozen=True)
class IdxDataset:
    """MNIST-format data: four IDX files in a named subfolder, or (MNIST only) Keras' mnist.npz."""
    name: str
    title: str
    subdirs: tuple
    how_to_get: str
    npz: Optional[str] = None
    class_names: tuple = ()
    image_shape: tuple = (28, 28, 1)
    num_classes: int = 10

    def locate(self, data_dir=None, explicit=True):
        tried = []
        for label, root in search_roots(data_dir):
            folders = [root / sub for sub in self.subdirs]
            if label == "--data-dir" and explicit:
                folders.insert(0, root)
            for folder in folders:
                files = _idx_files(folder)
                if len(files) == len(IDX_FILES):
                    return _Location("idx", folder, files)
                if files:
                    missing = [IDX_FILES[r] + "[.gz]" for r in IDX_FILES if r not in files]
                    raise DataError(f"{folder}: incomplete {self.title} IDX set, missing {', '.join(missing)}")
                tried.append(str(folder))
            if self.npz:
                path = root / self.npz
                if path.is_file():
                    return _Location("npz", path)
                tried.append(str(path))
        raise DataNotFound(f"{self.title} not found; looked in {', '.join(tried)}. {self.how_to_get}")

    def load(self, data_dir=None, explicit=True, image_size=None) -> Dataset:
        where = self.locate(data_dir, explicit)
        if where.kind == "npz":
            (x_train, y_train), (x_test, y_test) = idx.read_mnist_npz(where.path)
        else:
            x_train, y_train = idx.read_idx_pair(where.files["train_images"], where.files["train_labels"])
            x_test, y_test = idx.read_idx_pair(where.files["test_images"], where.files["test_labels"])
            if x_train.shape[1:] != x_test.shape[1:]:
                raise DataError(f"{where.path}: train images are {x_train.shape[1:]} but test images "
                                f"are {x_test.shape[1:]}")
        return Dataset(self.name, str(where.path), _to_float(x_train), y_train, _to_float(x_test), y_test,
                       num_classes=10, class_names=self.class_names)

    def where(self, data_dir=None) -> str:
        return str(self.locate(data_dir).path)


@dataclass(frozen=True)
class BuiltinDataset:
    """A data set that needs no file: generated or bundled with a dependency."""
    name: str
    title: str
    source: str
    loader: Callable
    image_shape: tuple = (28, 28, 1)
    num_classes: int = 10

    def locate(self, data_dir=None, explicit=True):
        return _Location("builtin", Path(self.source))

    def load(self, data_dir=None, explicit=True, image_size=None) -> Dataset:
        return self.loader()

    def where(self, data_dir=None) -> str:
        return self.source


def _to_float(images):
    # uint8 [N, H, W] -> float32 [N, H, W, 1] in [0, 1]
    return (images.astype(np.float32) / 255.0)[..., None]


from parity.datasets.cifar100 import Cifar100Dataset  # noqa: E402  (they read this module at call time)
from parity.datasets.flowers import FlowersDataset  # noqa: E402

FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

DATASETS = {
    "mnist": IdxDataset(
        "mnist", "MNIST", subdirs=("mnist", "MNIST"), npz="mnist.npz",
        class_names=tuple(str(i) for i in range(10)),
        how_to_get="Put Keras' mnist.npz in ~/.keras/datasets, or the four IDX files "
                   "(train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
                   "t10k-labels-idx1-ubyte.gz) in a folder passed as --data-dir.",
    ),
    "fashion_mnist": IdxDataset(
        "fashion_mnist", "Fashion-MNIST", subdirs=("fashion-mnist", "fashion_mnist"),
        class_names=FASHION_CLASSES,
        how_to_get="On Debian or Ubuntu: apt-get install dataset-fashion-mnist (files land in "
                   "/usr/share/datasets/fashion-mnist); or put the four IDX files in a folder passed as --data-dir.",
    ),
    **{d.name: d for d in (Cifar100Dataset("fine"), Cifar100Dataset("coarse"), FlowersDataset())},
    "digits": BuiltinDataset("digits", "scikit-learn digits resized to 28x28",
                             "scikit-learn (bundled)", small.load_digits),
    "synthetic": BuiltinDataset("synthetic", "deterministic synthetic 28x28 classes",
                                "generated (seed 0)", small.load_synthetic),
}


def _unknown(name):
    choices = ", ".join(["auto", *DATASETS])
    return DataError(f"unknown dataset {name!r}; choose one of: {choices}")


def resolve(name: str, data_dir=None, order=AUTO_ORDER) -> str:
    """Maps `auto` to the first data set of `order` that is present; checks other names."""
    if name != "auto":
        if name not in DATASETS:
            raise _unknown(name)
        return name
    for candidate in order:
        try:
            DATASETS[candidate].locate(data_dir, explicit=False)
            return candidate
        except DataNotFound:
            continue
    raise DataNotFound(f"none of {', '.join(order)} was found")


def load(name: str = "auto", data_dir=None, image_size=None) -> Dataset:
    """Loads a data set by name (`auto` picks MNIST, else Fashion-MNIST, else digits).

    `image_size` (height, width) is a hint for data sets stored at mixed sizes, which are resized
    to it; data sets of fixed size ignore it.
    """
    explicit = name != "auto"
    return DATASETS[resolve(name, data_dir)].load(data_dir, explicit, image_size=image_size)


def describe(data_dir=None):
    """For each data set: (name, found, where it was found or how to get it)."""
    rows = []
    for name, spec in DATASETS.items():
        try:
            rows.append((name, True, spec.where(data_dir)))
        except DataError as e:
            rows.append((name, False, str(e)))
    return rows
