"""Data sets both styles train and test on, found without any download.

Search order for files: --data-dir, $TF_PARITY_DATA, the Keras cache (~/.keras/datasets or
$KERAS_HOME/datasets), then system packages (/usr/share/datasets). A --data-dir or
$TF_PARITY_DATA that is not a folder is an error, and so is anything in them a loader would
refuse: it is never passed over for a later location. Every loader returns a `Dataset` of
float32 NHWC images in [0, 1] and int64 labels; a user's own `.npz` (parity.datasets.arrays)
is used as it is.
"""
from parity.datasets.arrays import load_arrays
from parity.datasets.base import Dataset, DataNotFound, search_roots
from parity.datasets.errors import DataError
from parity.datasets.registry import AUTO_ORDER, DATASETS, Availability, describe, load, resolve

__all__ = [
    "AUTO_ORDER",
    "Availability",
    "DATASETS",
    "DataError",
    "DataNotFound",
    "Dataset",
    "describe",
    "load",
    "load_arrays",
    "resolve",
    "search_roots",
]
