"""Readers for the IDX files MNIST and Fashion-MNIST ship in, and Keras' mnist.npz."""
import gzip
import zipfile
import zlib
from pathlib import Path

import numpy as np

from parity.datasets.errors import DataError

_UBYTE = 0x08


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (OSError, EOFError, zlib.error) as e:
        # gzip raises BadGzipFile (an OSError) for a bad header, EOFError for a cut-off stream.
        raise DataError(f"{path}: not a readable gzip file ({e}); download it again") from None


def read_idx(path, ndim: int) -> np.ndarray:
    """Reads an unsigned-byte IDX array of `ndim` dimensions, checking magic number and size."""
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise DataError(f"{path}: too short to be an IDX file ({len(raw)} bytes)")
    zero, dtype, file_ndim = int.from_bytes(raw[:2], "big"), raw[2], raw[3]
    magic = int.from_bytes(raw[:4], "big")
    expected_magic = (_UBYTE << 8) | ndim
    if zero != 0 or dtype != _UBYTE or file_ndim != ndim:
        raise DataError(
            f"{path}: wrong magic number 0x{magic:08x}, expected 0x{expected_magic:08x} "
            f"(unsigned-byte IDX with {ndim} dimension{'s' if ndim > 1 else ''}); "
            "is this the right file, and not an image file passed as labels or the reverse?"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated inside the header ({len(raw)} bytes)")
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    expected = int(np.prod(dims))
    found = len(raw) - header
    if found != expected:
        what = "truncated" if found < expected else "longer than its header says"
        raise DataError(
            f"{path}: {what}: header says {'x'.join(map(str, dims))} = {expected} bytes of data, "
            f"found {found}; download it again"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def read_idx_pair(images_path, labels_path, num_classes: int = 10):
    """Reads matching image and label IDX files; returns uint8 [N, H, W] and int64 [N]."""
    images = read_idx(images_path, 3)
    labels = read_idx(labels_path, 1)
    if len(images) != len(labels):
        raise DataError(
            f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} labels; "
            "the two files do not belong together"
        )
    _check_labels(labels, num_classes, labels_path)
    return images, labels.astype(np.int64)


def read_mnist_npz(path, num_classes: int = 10):
    """Reads Keras' mnist.npz: (x_train, y_train), (x_test, y_test) as uint8 / int64."""
    path = Path(path)
    _check_npz_head(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = {"x_train", "y_train", "x_test", "y_test"} - set(f.files)
            if missing:
                raise DataError(f"{path}: not a Keras mnist.npz, missing arrays {sorted(missing)}")
            arrays = {k: f[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
        if "pickle" in str(e):  # an object array; numpy's message would advise loading it unsafely
            raise DataError(f"{path}: {_PICKLED}") from None
        raise DataError(f"{path}: not a readable .npz file ({e}); download it again") from None
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim != 3 or x.dtype != np.uint8:
            raise DataError(f"{path}: x_{split} has shape {x.shape} and dtype {x.dtype}, expected uint8 [N, H, W]")
        if y.shape != (len(x),):
            raise DataError(f"{path}: x_{split} holds {len(x)} images but y_{split} has shape {y.shape}")
        _check_labels(y, num_classes, path)
    return ((arrays["x_train"], arrays["y_train"].astype(np.int64)),
            (arrays["x_test"], arrays["y_test"].astype(np.int64)))


_PICKLED = ("holds pickled Python objects, which tf-parity never loads; a Keras mnist.npz holds plain "
            "uint8/int arrays; download it again")


def _check_npz_head(path: Path):
    """Refuses a file that is not a zip archive, before numpy would take it for a pickle or an .npy."""
    try:
        with path.open("rb") as f:
            head = f.read(6)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except OSError as e:
        raise DataError(f"{path}: cannot be read ({e.strerror or e})") from None
    if head.startswith(b"PK"):
        return
    if head.startswith(b"\x93NUMPY"):
        raise DataError(f"{path}: a single .npy array, not a Keras mnist.npz (a zip of x_train, y_train, "
                        "x_test, y_test); download it again")
    if head[:1] == b"\x80":  # the PROTO opcode that starts a pickle of protocol 2 or later
        raise DataError(f"{path}: {_PICKLED}")
    what = "empty" if not head else "not a zip archive"
    raise DataError(f"{path}: not a readable .npz file ({what}); download it again")


def _check_labels(labels, num_classes, path):
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise DataError(
            f"{path}: labels run from {labels.min()} to {labels.max()}, expected 0..{num_classes - 1}"
        )
