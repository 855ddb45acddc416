"""legacy_graph.input_data's splits of any data set parity.datasets finds: the TF1 tutorial's
read_data_sets() where the files are not MNIST's IDX files in one folder."""
from legacy_graph import input_data
from parity.datasets.registry import load


def data_sets(data, one_hot=False, reshape=True, validation_size=5000, seed=None):
    """input_data.Datasets(train, validation, test) of a loaded parity.datasets.Dataset."""
    return input_data.from_arrays((data.x_train, data.y_train), (data.x_test, data.y_test), data.num_classes,
                                  one_hot, reshape, validation_size, seed)


def read_data_sets(dataset="auto", data_dir=None, one_hot=False, reshape=True, validation_size=5000, seed=None):
    """input_data.read_data_sets for a data set by name (`mnist`, `fashion_mnist`, `digits`,
    `synthetic` or `auto`), searched for as parity.datasets searches (`data_dir` first)."""
    return data_sets(load(dataset, data_dir), one_hot, reshape, validation_size, seed)
