"""Stand-in for the removed `tensorflow.examples.tutorials.mnist.input_data`.

Same interface as the TF1 tutorial module: `read_data_sets(...)` returns train / validation /
test `DataSet`s whose `next_batch` reshuffles every epoch and completes the last partial batch
from the next epoch. Files are found by `parity.datasets` (no download).
"""
import collections

import numpy as np

from parity import datasets

Datasets = collections.namedtuple("Datasets", ["train", "validation", "test"])


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


def read_data_sets(train_dir=None, one_hot=False, reshape=True, validation_size=5000, seed=None,
                   dataset="mnist"):
    """Loads a data set as the TF1 tutorial did: the first `validation_size` training images
    become the validation split.

    Args:
      train_dir: folder with the data files (searched first); None uses the usual search order.
      one_hot: labels as float32 one-hot rows instead of integers.
      reshape: flatten images to [N, H*W*C] (the tutorial's default).
      validation_size: training examples held out for validation.
      seed: seed of the shuffling in `next_batch`.
      dataset: which data set (`mnist`, `fashion_mnist`, `digits`, `synthetic` or `auto`).
    Returns:
      Datasets(train, validation, test).
    """
    data = datasets.load(dataset, data_dir=train_dir)
    if not 0 <= validation_size <= len(data.x_train):
        raise ValueError(
            f"Validation size should be between 0 and {len(data.x_train)}. Received: {validation_size}.")
    y_train, y_test = data.y_train, data.y_test
    if one_hot:
        y_train = dense_to_one_hot(y_train, data.num_classes)
        y_test = dense_to_one_hot(y_test, data.num_classes)
    train = DataSet(data.x_train[validation_size:], y_train[validation_size:], reshape, seed)
    validation = DataSet(data.x_train[:validation_size], y_train[:validation_size], reshape, seed)
    test = DataSet(data.x_test, y_test, reshape, seed)
    return Datasets(train=train, validation=validation, test=test)
