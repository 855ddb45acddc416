"""Where each data set is looked for, how it is loaded, and what `auto` picks."""
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from parity.datasets.base import GIVEN_ROOTS, Dataset, DataNotFound, search_roots
from parity.datasets.cifar100 import Cifar100Dataset
from parity.datasets.errors import DataError
from parity.datasets.flowers import FlowersDataset
from parity.datasets.idx import read_idx_pair, read_mnist_npz
from parity.datasets.small import load_digits, load_synthetic

AUTO_ORDER = ("mnist", "fashion_mnist", "digits")

IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


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
            refused = None  # a named subfolder without the files, reported if nothing else in `root` serves
            for folder in folders:
                files = _idx_files(folder)
                if len(files) == len(IDX_FILES):
                    return _Location("idx", folder, files)
                if files:
                    missing = [IDX_FILES[r] + "[.gz]" for r in IDX_FILES if r not in files]
                    raise DataError(f"{folder}: incomplete {self.title} IDX set, missing {', '.join(missing)}")
                if refused is None and label in GIVEN_ROOTS and folder != root and folder.is_dir():
                    refused = DataError(f"{folder}: holds none of the four {self.title} IDX files "
                                        f"({', '.join(IDX_FILES.values())}, each may be .gz); put them there, "
                                        "or rename or remove the folder")
                tried.append(str(folder))
            if self.npz:
                path = root / self.npz
                if path.is_file():
                    return _Location("npz", path)
                tried.append(str(path))
            if refused:
                raise refused
        raise DataNotFound(f"{self.title} not found; looked in {', '.join(tried)}. {self.how_to_get}")

    def auto_refusal(self, folder: Path) -> Optional[str]:
        """Why `auto` refuses `folder` (the --data-dir), when it holds IDX files itself; else None."""
        if _idx_files(folder):
            return (f"--data-dir {folder} holds IDX files directly, and MNIST's and Fashion-MNIST's have the same "
                    "names, so --dataset auto cannot tell which set they are; pass --dataset mnist or "
                    "--dataset fashion_mnist, or move them into a mnist/ or fashion-mnist/ subfolder")
        return None

    def verify(self, where: _Location):
        """Raises the DataError load would raise for the files at `where` (a result of locate)."""
        self._read(where)

    def _read(self, where: _Location):
        """uint8 images [N, H, W] and int64 labels of both splits, each file checked."""
        if where.kind == "npz":
            return read_mnist_npz(where.path)
        train = read_idx_pair(where.files["train_images"], where.files["train_labels"])
        test = read_idx_pair(where.files["test_images"], where.files["test_labels"])
        if train[0].shape[1:] != test[0].shape[1:]:
            raise DataError(f"{where.path}: train images are {train[0].shape[1:]} but test images "
                            f"are {test[0].shape[1:]}")
        return train, test

    def load(self, data_dir=None, explicit=True, image_size=None) -> Dataset:
        where = self.locate(data_dir, explicit)
        (x_train, y_train), (x_test, y_test) = self._read(where)
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
        search_roots(data_dir)  # a --data-dir that is not a folder is an error here too
        return _Location("builtin", Path(self.source))

    def auto_refusal(self, folder: Path) -> Optional[str]:
        return None

    def verify(self, where: _Location):
        pass

    def load(self, data_dir=None, explicit=True, image_size=None) -> Dataset:
        self.locate(data_dir)
        return self.loader()

    def where(self, data_dir=None) -> str:
        return self.source


def _to_float(images):
    # uint8 [N, H, W] -> float32 [N, H, W, 1] in [0, 1]
    return (images.astype(np.float32) / 255.0)[..., None]


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
                             "scikit-learn (bundled)", load_digits),
    "synthetic": BuiltinDataset("synthetic", "deterministic synthetic 28x28 classes",
                                "generated (seed 0)", load_synthetic),
}


def _unknown(name):
    choices = ", ".join(["auto", *DATASETS])
    return DataError(f"unknown dataset {name!r}; choose one of: {choices}")


def resolve(name: str, data_dir=None, order=AUTO_ORDER) -> str:
    """Maps `auto` to the first data set of `order` that is present; checks other names.

    `auto` reads only named subfolders and files of --data-dir; a set held in --data-dir itself,
    which only an explicit --dataset reads, is an error rather than passed over.
    """
    roots = search_roots(data_dir)
    if name != "auto":
        if name not in DATASETS:
            raise _unknown(name)
        return name
    given = [root for label, root in roots if label == "--data-dir"]
    for candidate in order:
        spec = DATASETS[candidate]
        for root in given:
            refusal = spec.auto_refusal(root)
            if refusal:
                raise DataError(refusal)
        try:
            spec.locate(data_dir, explicit=False)
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


@dataclass(frozen=True)
class Availability:
    """One row of describe(): `status` is "found", "missing" or "damaged"; `where` is the path
    found, how to get the set, or the loader's reason for refusing it.

    Unpacks as (name, found, where), `found` being True for "found" alone.
    """
    name: str
    status: str
    where: str

    @property
    def found(self) -> bool:
        return self.status == "found"

    def __iter__(self):
        return iter((self.name, self.found, self.where))


def describe(data_dir=None):
    """For each data set, an Availability: what `--dataset NAME` would read, checked as its loader
    checks it short of decoding images."""
    search_roots(data_dir)  # a bad --data-dir or $TF_PARITY_DATA is one error, not a row per set
    checked = {}  # CIFAR-100's two label modes read the same files
    rows = []
    for name, spec in DATASETS.items():
        try:
            where = spec.locate(data_dir)
            key = (type(spec), where.kind, where.path)
            if key not in checked:
                checked[key] = _refusal(spec, where)
            if checked[key]:
                raise checked[key]
            rows.append(Availability(name, "found", str(where.path)))
        except DataError as e:
            rows.append(Availability(name, "missing" if isinstance(e, DataNotFound) else "damaged", str(e)))
    return rows


def _refusal(spec, where):
    """The DataError the loader would raise for the files at `where`, or None."""
    try:
        spec.verify(where)
    except DataError as e:
        return e
    return None
