"""Reader for CIFAR-100 as Keras downloads it: cifar-100-python.tar.gz holding three pickles."""
import io
import pickle
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from parity.datasets.base import GIVEN_ROOTS, Dataset, DataNotFound, search_roots
from parity.datasets.errors import DataError

ARCHIVE = "cifar-100-python.tar.gz"
FOLDER = "cifar-100-python"
MEMBERS = ("train", "test", "meta")
NUM_CLASSES = {"fine": 100, "coarse": 20}
PIXELS = 32 * 32 * 3
HOW_TO_GET = ("Put Keras' cifar-100-python.tar.gz (or the cifar-100-python folder it extracts to) in "
              "~/.keras/datasets, or pass the folder holding it as --data-dir; it is not downloaded.")

# numpy pickles an array as _reconstruct(ndarray, shape, dtype) plus state. The function lives in
# numpy.core.multiarray before numpy 2 and numpy._core.multiarray since, so take it from numpy itself.
_RECONSTRUCT = np.empty(0).__reduce__()[0]


def _latin1(text, encoding):
    """Rebuilds bytes as protocol-2 pickles written by Python 3 do; no other codec is admitted."""
    if encoding != "latin1":
        raise pickle.UnpicklingError(f"refused to encode text as {encoding!r}")
    return text.encode("latin1")


_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _latin1,
}


class _Unpickler(pickle.Unpickler):
    """Rebuilds dicts, lists, numbers, bytes and numpy arrays; refuses every other global."""

    def __init__(self, file, where):
        super().__init__(file, encoding="bytes")
        self.where = where

    def find_class(self, module, name):
        found = _ALLOWED.get((module, name))
        if found is None:
            raise DataError(f"{self.where}: refused to unpickle '{module}.{name}': CIFAR-100 files hold "
                            "only arrays, lists and dicts; this file may be unsafe")
        return found


def _unpickle(where, raw):
    """The object pickled in `raw`, read with the restricted unpickler."""
    try:
        return _Unpickler(io.BytesIO(raw), where).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, KeyError,
            AttributeError, OverflowError, MemoryError) as e:
        raise DataError(f"{where}: not a readable pickle ({type(e).__name__}: {e}); download it again") from None


def _read_folder(folder):
    """The bytes of train, test and meta in `folder`, each with the name errors use."""
    found = {}
    for member in MEMBERS:
        path = folder / member
        if not path.is_file():
            raise DataError(f"{path}: missing; a CIFAR-100 folder holds {', '.join(MEMBERS)}")
        found[member] = (str(path), path.read_bytes())
    return found


def _read_archive(archive):
    """The bytes of train, test and meta inside the .tar.gz, read without extracting to disk."""
    found = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            names = set(tar.getnames())
            for member in MEMBERS:
                name = f"{FOLDER}/{member}"
                f = tar.extractfile(name) if name in names else None
                if f is None:  # absent, or a folder or device rather than a file
                    raise DataError(f"{archive} ({name}): missing from the archive; "
                                    f"is this Keras' {ARCHIVE}?")
                found[member] = (f"{archive} ({name})", f.read())
    except (tarfile.TarError, EOFError, zlib.error, OSError) as e:
        # gzip raises BadGzipFile (an OSError) or EOFError, tarfile ReadError, zlib a bad stream.
        raise DataError(f"{archive}: not a readable .tar.gz archive ({e}); download it again") from None
    return found


def _str_keys(where, obj, what):
    """`obj` as a dict with str keys (the files use bytes keys)."""
    if not isinstance(obj, dict):
        raise DataError(f"{where}: holds a {type(obj).__name__}, expected a dict of {what}")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in obj.items()}


def _labels(where, values, mode, count):
    """One label set of a split as int64, checked against the image count and class range."""
    key, n = f"{mode}_labels", NUM_CLASSES[mode]
    try:
        labels = np.asarray(values)
    except ValueError:  # a ragged list
        labels = np.asarray(None)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{where}: {key} is not a list of integers")
    if len(labels) != count:
        raise DataError(f"{where}: holds {count} images but {len(labels)} {key}")
    if labels.size and (labels.min() < 0 or labels.max() >= n):
        raise DataError(f"{where}: {key} run from {labels.min()} to {labels.max()}, expected 0..{n - 1}")
    return labels.astype(np.int64)


def _batch(where, obj):
    """The uint8 image rows [N, 3072] and both label sets of a train or test pickle, checked."""
    batch = _str_keys(where, obj, "images and labels")
    missing = [k for k in ("data", "fine_labels", "coarse_labels") if k not in batch]
    if missing:
        raise DataError(f"{where}: not a CIFAR-100 batch, missing {', '.join(missing)}")
    data = batch["data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != PIXELS:
        shape, dtype = getattr(data, "shape", None), getattr(data, "dtype", type(data).__name__)
        raise DataError(f"{where}: data has shape {shape} and dtype {dtype}, "
                        f"expected uint8 [N, {PIXELS}] (one 32x32 RGB image per row)")
    labels = {mode: _labels(where, batch[f"{mode}_labels"], mode, len(data)) for mode in NUM_CLASSES}
    return data, labels


def _images(data):
    """uint8 rows [N, 3072] as float32 NHWC in [0, 1]."""
    # Each row is the red plane, then green, then blue, each 32x32 row-major.
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images, dtype=np.float32) / np.float32(255)


def _names(where, obj):
    """The fine and coarse class names listed in the meta pickle."""
    meta = _str_keys(where, obj, "label names")
    names = {}
    for mode, n in NUM_CLASSES.items():
        values = meta.get(f"{mode}_label_names")
        if not isinstance(values, list) or len(values) != n or not all(isinstance(v, (bytes, str)) for v in values):
            raise DataError(f"{where}: {mode}_label_names should list {n} names")
        names[mode] = tuple(v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in values)
    return names


def _holds_members(folder):
    """Whether `folder` holds any of the three CIFAR-100 pickles."""
    return any((folder / member).is_file() for member in MEMBERS)


def _read(where):
    """The class names and the train and test batches at `where`, checked as load needs them."""
    raw = _read_folder(where.path) if where.kind == "folder" else _read_archive(where.path)
    objects = {member: (label, _unpickle(label, data)) for member, (label, data) in raw.items()}
    return _names(*objects["meta"]), _batch(*objects["train"]), _batch(*objects["test"])


@dataclass(frozen=True)
class _Location:
    kind: str  # "folder" or "archive"
    path: Path


@dataclass(frozen=True)
class Cifar100Dataset:
    """CIFAR-100 with its 100 fine labels, or (label_mode="coarse") its 20 coarse ones."""
    label_mode: str = "fine"

    def __post_init__(self):
        if self.label_mode not in NUM_CLASSES:
            raise ValueError(f"label_mode must be one of {sorted(NUM_CLASSES)}, not {self.label_mode!r}")

    @property
    def name(self):
        return "cifar100" if self.label_mode == "fine" else "cifar100_coarse"

    image_shape = (32, 32, 3)

    @property
    def num_classes(self):
        return NUM_CLASSES[self.label_mode]

    @property
    def title(self):
        return "CIFAR-100" if self.label_mode == "fine" else "CIFAR-100 (coarse labels)"

    def locate(self, data_dir=None, explicit=True):
        tried = []
        for label, root in search_roots(data_dir):
            folders = [root, root / FOLDER] if label == "--data-dir" and explicit else [root / FOLDER]
            for folder in folders:
                if _holds_members(folder):
                    return _Location("folder", folder)
                tried.append(str(folder))
            archive = root / ARCHIVE
            if archive.is_file():
                return _Location("archive", archive)
            tried.append(str(archive))
            if label in GIVEN_ROOTS and (root / FOLDER).is_dir():
                raise DataError(f"{root / FOLDER}: holds none of {', '.join(MEMBERS)}; put Keras' {ARCHIVE} "
                                "or the files it extracts to there, or rename or remove the folder")
        raise DataNotFound(f"{self.title} not found; looked in {', '.join(tried)}. {HOW_TO_GET}")

    def auto_refusal(self, folder):
        """Why `auto` refuses `folder` (the --data-dir), when it holds the pickles itself; else None."""
        if _holds_members(folder):
            return (f"--data-dir {folder} holds CIFAR-100's {', '.join(MEMBERS)} directly, which --dataset auto "
                    f"does not read; pass --dataset cifar100 or --dataset cifar100_coarse, or move them into "
                    f"a {FOLDER}/ subfolder")
        return None

    def verify(self, where):
        """Raises the DataError load would raise for the files at `where` (a result of locate)."""
        _read(where)

    def load(self, data_dir=None, explicit=True, image_size=None) -> Dataset:
        where = self.locate(data_dir, explicit)  # image_size is ignored: every image is 32x32
        names, (train, y_train), (test, y_test) = _read(where)
        mode = self.label_mode
        other = "coarse" if mode == "fine" else "fine"
        extra = {f"{other}_train": y_train[other], f"{other}_test": y_test[other], f"{other}_names": names[other]}
        return Dataset(self.name, str(where.path), _images(train), y_train[mode], _images(test),
                                y_test[mode], num_classes=NUM_CLASSES[mode], class_names=names[mode],
                                note=f"{other} labels in extra", extra=extra)

    def where(self, data_dir=None) -> str:
        return str(self.locate(data_dir).path)
