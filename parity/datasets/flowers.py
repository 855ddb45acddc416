"""tf_flowers: the flower_photos folder (one subfolder of JPEGs per class), or its .tgz as is."""
import re
import tarfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from parity.datasets.base import Dataset, DataNotFound, search_roots
from parity.datasets.errors import DataError
from parity.runtime import import_tensorflow

FOLDER = "flower_photos"
ARCHIVES = ("flower_photos.tgz", "flower_photos.tar.gz")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")  # how every JPEG and PNG file starts
DEFAULT_SIZE = (224, 224)
TEST_FRACTION = 0.2
HOW_TO_GET = ("Put the flower_photos folder of tf_flowers, or Keras' flower_photos.tgz as is, in "
              "~/.keras/datasets or in a folder passed as --data-dir; it is not downloaded.")


@dataclass(frozen=True)
class _Location:
    kind: str  # "folder" or "archive"
    path: Path


def _visible(name):
    """False for hidden entries (e.g. resource forks left by archivers), which are never images."""
    return not name.startswith(".")


def _is_image(name):
    """True for a visible file name ending .jpg, .jpeg or .png, in any case."""
    return _visible(name) and name.lower().endswith(IMAGE_SUFFIXES)


def _holds_classes(folder: Path):
    """True when some subfolder of `folder` holds an image file directly."""
    return folder.is_dir() and any(
        sub.is_dir() and _visible(sub.name) and any(_is_image(f.name) for f in sub.iterdir())
        for sub in folder.iterdir())


def _folder_classes(folder: Path):
    """Class folder name -> its image files, both sorted."""
    subs = sorted(p for p in folder.iterdir() if p.is_dir() and _visible(p.name))
    return {sub.name: sorted(f for f in sub.iterdir() if f.is_file() and _is_image(f.name)) for sub in subs}


def _archive_classes(tar: tarfile.TarFile):
    """Class folder name -> its image members, for members under flower_photos/ in the archive."""
    classes = {}
    for member in tar.getmembers():
        parts = PurePosixPath(member.name).parts  # drops a leading "./"
        if len(parts) < 2 or parts[0] != FOLDER or not _visible(parts[1]):
            continue
        if member.isdir() and len(parts) == 2:
            classes.setdefault(parts[1], [])
        elif member.isfile() and len(parts) == 3 and _is_image(parts[2]):
            classes.setdefault(parts[1], []).append(member)
    return {name: sorted(classes[name], key=lambda m: m.name) for name in sorted(classes)}


def _check_classes(where, classes):
    """Raises DataError unless there are at least 2 class folders, none of them empty."""
    if not classes:
        raise DataError(f"{where}: no class subfolders (expected one folder of images per class)")
    if len(classes) < 2:
        raise DataError(f"{where}: fewer than 2 class folders (only {', '.join(classes)})")
    for name, files in classes.items():
        if not files:
            raise DataError(f"{where}/{name}: class folder holds no .jpg, .jpeg or .png image")


def _split(labels):
    """Indices of the train and test images: 80/20, stratified by class when the counts allow it."""
    from sklearn.model_selection import train_test_split

    indices = np.arange(len(labels))
    try:
        return train_test_split(indices, test_size=TEST_FRACTION, stratify=labels, random_state=0)
    except ValueError:
        # A class of one image, or fewer test images than classes, cannot be stratified.
        return train_test_split(indices, test_size=TEST_FRACTION, random_state=0)


def _check_image(name, head):
    """Raises a DataError naming the file, without context as for decode errors, unless `head` (its
    first bytes) starts a JPEG or PNG: load and verify both refuse exactly these files before decoding."""
    if not head:
        raise DataError(f"{name}: not a readable image (empty file); replace or remove it") from None
    if not head.startswith(SIGNATURES):
        raise DataError(f"{name}: not a readable image (Unknown image file format: neither JPEG nor PNG); "
                        "replace or remove it") from None


def _decode(tf, data, name, size):
    """One image as float32 [height, width, 3] in [0, 1], or a DataError naming the file."""
    _check_image(name, data)
    try:
        image = tf.io.decode_image(data, channels=3, expand_animations=False)
    except tf.errors.InvalidArgumentError as e:
        reason = re.sub(r"\{\{.*?\}\}\s*|\s*\[Op:\w+\]", "", e.message).strip()
        raise DataError(f"{name}: not a readable image ({reason})") from None
    return (tf.image.resize(image, size) / 255.0).numpy()


def _read_split(classes, read, size, order=None):
    """Decodes each image once, straight into preallocated train and test arrays.

    `read(key)` gives (name to show, bytes); `order(key)`, if given, is the order to read in.
    """
    keys = [key for files in classes.values() for key in files]
    labels = np.array([label for label, files in enumerate(classes.values()) for _ in files], np.int64)
    train, test = _split(labels)
    x_train = np.empty((len(train), *size, 3), np.float32)
    x_test = np.empty((len(test), *size, 3), np.float32)
    slots = {i: (x_train, pos) for pos, i in enumerate(train)}
    slots.update({i: (x_test, pos) for pos, i in enumerate(test)})
    tf = import_tensorflow()
    for i in sorted(range(len(keys)), key=lambda i: order(keys[i])) if order else range(len(keys)):
        name, data = read(keys[i])
        array, pos = slots[i]
        array[pos] = _decode(tf, data, name, size)
    return x_train, labels[train], x_test, labels[test]


def _read_file(path: Path, size=-1):
    """(path, bytes) of one image file, or only its first `size` bytes."""
    try:
        with path.open("rb") as f:
            return path, f.read(size)
    except OSError as e:
        raise DataError(f"{path}: cannot be read ({e.strerror or e})") from None


def _image_size(image_size):
    """(height, width) from None, an int or a pair."""
    if isinstance(image_size, int):
        return (image_size, image_size)
    return tuple(int(n) for n in image_size) if image_size else DEFAULT_SIZE


@contextmanager
def _open_archive(path: Path):
    """The flower_photos .tgz open for reading, and its class name -> image members, checked."""
    try:
        with tarfile.open(path, "r:*") as tar:
            classes = _archive_classes(tar)
            _check_classes(f"{path}:{FOLDER}", classes)
            yield tar, classes
    except (tarfile.TarError, EOFError, OSError) as e:
        raise DataError(f"{path}: not a readable tar archive ({e})") from None


def _archive_order(member):
    # Archive order: seeking backwards in a gzip stream decompresses it from the start again.
    return member.offset


def _read_archive(path: Path, size):
    """Class names and arrays from a flower_photos .tgz, without extracting it to disk."""
    with _open_archive(path) as (tar, classes):
        def read(member):
            return f"{path}:{member.name}", tar.extractfile(member).read()

        return classes, _read_split(classes, read, size, order=_archive_order)


def _verify(where):
    """Raises the DataError load would raise short of decoding: the class folders, and each image's
    first bytes."""
    head = max(len(s) for s in SIGNATURES)
    if where.kind == "folder":
        classes = _folder_classes(where.path)
        _check_classes(where.path, classes)
        for files in classes.values():
            for path in files:
                _check_image(*_read_file(path, head))
        return
    with _open_archive(where.path) as (tar, classes):
        for member in sorted((m for files in classes.values() for m in files), key=_archive_order):
            _check_image(f"{where.path}:{member.name}", tar.extractfile(member).read(head))


@dataclass(frozen=True)
class FlowersDataset:
    """Five classes of flower photos of varying sizes, resized to one size and split 80/20."""
    name: str = "flowers"
    title: str = "tf_flowers (flower_photos)"
    image_shape = None  # decoded at the size the model asks for
    num_classes = 5

    def locate(self, data_dir=None, explicit=True):
        tried = []
        for label, root in search_roots(data_dir):
            checks = [("folder", root / FOLDER, Path.is_dir)]
            if label == "--data-dir" and explicit:
                checks.append(("folder", root, _holds_classes))
            checks += [("archive", root / name, Path.is_file) for name in ARCHIVES]
            for kind, path, present in checks:
                if present(path):
                    return _Location(kind, path)
                tried.append(str(path))
        raise DataNotFound(f"{self.title} not found; looked in {', '.join(tried)}. {HOW_TO_GET}")

    def auto_refusal(self, folder):
        """Why `auto` refuses `folder` (the --data-dir), when it holds the class folders itself; else None."""
        if _holds_classes(folder):
            return (f"--data-dir {folder} holds class folders of images directly, which --dataset auto does not "
                    f"read; pass --dataset flowers, or move them into a {FOLDER}/ subfolder")
        return None

    def verify(self, where):
        """Raises the DataError load would raise for the files at `where` (a result of locate), short of
        decoding the images."""
        _verify(where)

    def load(self, data_dir=None, explicit=True, image_size=None) -> Dataset:
        where = self.locate(data_dir, explicit)
        size = _image_size(image_size)
        if where.kind == "archive":
            classes, arrays = _read_archive(where.path, size)
        else:
            classes = _folder_classes(where.path)
            _check_classes(where.path, classes)
            arrays = _read_split(classes, _read_file, size)
        return Dataset(self.name, str(where.path), *arrays, num_classes=len(classes),
                                class_names=tuple(classes),
                                note=f"photos resized to {size[0]}x{size[1]}, split 80/20 by class")

    def where(self, data_dir=None) -> str:
        return str(self.locate(data_dir).path)
