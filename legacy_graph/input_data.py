"""Stand-in for the removed `tensorflow.examples.tutorials.mnist.input_data`.

Same interface as the TF1 tutorial module: `read_data_sets(train_dir, ...)` reads the four MNIST
IDX files (plain or .gz) in `train_dir` and returns train / validation / test `DataSet`s whose
`next_batch` reshuffles every epoch and completes the last partial batch from the next epoch.
Nothing is downloaded. `from_arrays` makes the same splits of images already in memory.
"""
import collections
import gzip
from pathlib import Path

import numpy as np

Datasets = collections.namedtuple("Datasets", ["train", "validation", "test"])
IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
NUM_CLASSES = 10


def dense_to_one_hot(labels_dense, num_classes):
    """Converts class labels from scalars to one-hot vectors."""
    one_hot = np.zeros((len(labels_dense), num_classes), dtype=np.float32)
    one_hot[np.arange(len(labels_dense)), labels_dense] = 1.0
    return one_hot


class DataSet:
    """A split of images and labels with TF1's `next_batch` semantics."""

    def __init__(self, images, labels, reshape=True, seed=None):
        """images: float [N, H, W, C] in [0, 1]; labels: int [N] or one-hot [N, classes]."""
        if len(images) != len(labels):
            raise ValueError(f"images.shape: {images.shape} labels.shape: {labels.shape}")
        self._num_examples = len(images)
        if reshape:
            images = images.reshape(len(images), -1)  # [N, H, W, C] -> [N, H*W*C]
        self._images = images
        self._labels = labels
        self._order = np.arange(self._num_examples)
        self._rng = np.random.RandomState(seed)
        self._epochs_completed = 0
        self._index_in_epoch = 0

    @property
    def images(self):
        return self._images

    @property
    def labels(self):
        return self._labels

    @property
    def num_examples(self):
        return self._num_examples

    @property
    def epochs_completed(self):
        return self._epochs_completed

    def next_batch(self, batch_size, shuffle=True):
        """Returns the next `batch_size` examples from this data set."""
        start = self._index_in_epoch
        if self._epochs_completed == 0 and start == 0 and shuffle:
            self._rng.shuffle(self._order)
        if start + batch_size > self._num_examples:
            # Finish this epoch, reshuffle, and fill the batch from the start of the next one.
            self._epochs_completed += 1
            rest = self._order[start:self._num_examples]
            if shuffle:
                self._order = self._order.copy()
                self._rng.shuffle(self._order)
            self._index_in_epoch = batch_size - len(rest)
            picked = np.concatenate([rest, self._order[:self._index_in_epoch]])
        else:
            self._index_in_epoch += batch_size
            picked = self._order[start:self._index_in_epoch]
        return self._images[picked], self._labels[picked]


def read_idx(path, ndim):
    """An unsigned-byte IDX file of `ndim` dimensions (gzipped where the name ends in .gz) as uint8."""
    path = Path(path)
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    header = 4 + 4 * ndim
    if len(raw) < header or raw[:4] != bytes([0, 0, 0x08, ndim]):
        raise ValueError(f"{path}: not an unsigned-byte IDX file of {ndim} dimension(s)")
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    if len(raw) - header != int(np.prod(dims)):
        raise ValueError(f"{path}: header says {'x'.join(map(str, dims))}, found {len(raw) - header} bytes of data")
    return np.frombuffer(raw, np.uint8, offset=header).reshape(dims)


def _idx_file(train_dir, stem):
    for candidate in (train_dir / stem, train_dir / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{train_dir}: no {stem} or {stem}.gz")


def read_data_sets(train_dir, one_hot=False, reshape=True, validation_size=5000, seed=None):
    """Reads MNIST-format IDX files as the TF1 tutorial did: the first `validation_size` training
    images become the validation split.

    Args:
      train_dir: folder holding train-images-idx3-ubyte, train-labels-idx1-ubyte,
        t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, each plain or .gz.
      one_hot: labels as float32 one-hot rows instead of integers.
      reshape: flatten images to [N, H*W] (the tutorial's default).
      validation_size: training examples held out for validation.
      seed: seed of the shuffling in `next_batch`.
    Returns:
      Datasets(train, validation, test), images float32 in [0, 1].
    """
    train_dir = Path(train_dir)
    arrays = {role: read_idx(_idx_file(train_dir, stem), 3 if role.endswith("images") else 1)
              for role, stem in IDX_FILES.items()}
    images = {split: (arrays[f"{split}_images"].astype(np.float32) / 255.0)[..., None]  # [N, H, W] -> [N, H, W, 1]
              for split in ("train", "test")}
    return from_arrays((images["train"], arrays["train_labels"].astype(np.int64)),
                       (images["test"], arrays["test_labels"].astype(np.int64)),
                       NUM_CLASSES, one_hot, reshape, validation_size, seed)


def from_arrays(train, test, num_classes, one_hot=False, reshape=True, validation_size=5000, seed=None):
    """Datasets(train, validation, test) of (images [N, H, W, C] in [0, 1], int labels [N]) pairs,
    split and encoded as read_data_sets does."""
    (x_train, y_train), (x_test, y_test) = train, test
    if not 0 <= validation_size <= len(x_train):
        raise ValueError(
            f"Validation size should be between 0 and {len(x_train)}. Received: {validation_size}.")
    if one_hot:
        y_train = dense_to_one_hot(y_train, num_classes)
        y_test = dense_to_one_hot(y_test, num_classes)
    return Datasets(train=DataSet(x_train[validation_size:], y_train[validation_size:], reshape, seed),
                    validation=DataSet(x_train[:validation_size], y_train[:validation_size], reshape, seed),
                    test=DataSet(x_test, y_test, reshape, seed))
