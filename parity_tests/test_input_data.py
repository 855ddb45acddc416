"""legacy_graph.input_data keeps the removed TF1 tutorial module's interface and batching."""
import numpy as np
import pytest

from legacy_graph import input_data
from parity_tests.conftest import write_idx, write_idx_set


def _dataset(n=10, seed=0):
    images = np.arange(n, dtype=np.float32).reshape(n, 1, 1, 1) / n
    return input_data.DataSet(images, np.arange(n), reshape=True, seed=seed)


@pytest.mark.parametrize("gz", [True, False])
def test_read_data_sets_splits_and_encodes(tmp_path, gz):
    arrays = write_idx_set(tmp_path, n_train=120, n_test=40, gz=gz)
    data = input_data.read_data_sets(tmp_path, one_hot=True, validation_size=20)
    assert (data.train.num_examples, data.validation.num_examples, data.test.num_examples) == (100, 20, 40)
    assert data.train.images.shape == (100, 784)
    np.testing.assert_array_equal(data.validation.images[3] * 255, arrays["train-images-idx3-ubyte"][3].ravel())
    assert 0.0 <= data.train.images.min() and data.train.images.max() <= 1.0
    assert data.train.labels.shape == (100, 10) and np.all(data.train.labels.sum(axis=1) == 1)
    np.testing.assert_array_equal(np.argmax(data.test.labels, axis=1), arrays["t10k-labels-idx1-ubyte"])


def test_validation_size_out_of_range(tmp_path):
    write_idx_set(tmp_path, n_train=120)
    with pytest.raises(ValueError, match="Validation size should be between 0 and 120. Received: 5000."):
        input_data.read_data_sets(tmp_path)


def test_a_missing_or_damaged_file_is_named(tmp_path):
    write_idx_set(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match="no t10k-labels-idx1-ubyte or t10k-labels-idx1-ubyte.gz"):
        input_data.read_data_sets(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(40, np.uint8), gz=False, dims=(41,))
    with pytest.raises(ValueError, match="header says 41, found 40 bytes of data"):
        input_data.read_data_sets(tmp_path)


def test_the_harness_splits_any_data_set_the_same_way(isolated_data):
    from parity.datasets import tutorial

    write_idx_set(isolated_data / "d", n_train=120, n_test=40)
    found = tutorial.read_data_sets("mnist", isolated_data / "d", one_hot=True, validation_size=20, seed=1)
    direct = input_data.read_data_sets(isolated_data / "d", one_hot=True, validation_size=20, seed=1)
    for split in ("train", "validation", "test"):
        np.testing.assert_array_equal(getattr(found, split).images, getattr(direct, split).images)
        np.testing.assert_array_equal(getattr(found, split).labels, getattr(direct, split).labels)
    np.testing.assert_array_equal(found.train.next_batch(8)[1], direct.train.next_batch(8)[1])
    synthetic = tutorial.read_data_sets("synthetic", validation_size=12)
    assert synthetic.validation.num_examples == 12 and synthetic.train.images.shape[1] == 784


def test_next_batch_covers_each_epoch_once_and_reshuffles():
    data = _dataset()
    first = np.concatenate([data.next_batch(5)[1], data.next_batch(5)[1]])
    assert sorted(first) == list(range(10)) and data.epochs_completed == 0
    second = np.concatenate([data.next_batch(5)[1], data.next_batch(5)[1]])
    assert sorted(second) == list(range(10)) and data.epochs_completed == 1
    assert not np.array_equal(first, second)


def test_last_partial_batch_is_completed_from_the_next_epoch():
    data = _dataset()
    a = data.next_batch(4)[1]
    b = data.next_batch(4)[1]
    c = data.next_batch(4)[1]  # 2 left in epoch 1, then 2 from epoch 2
    assert data.epochs_completed == 1
    assert sorted(np.concatenate([a, b, c[:2]])) == list(range(10))
    d, e = data.next_batch(4)[1], data.next_batch(4)[1]
    assert sorted(np.concatenate([c[2:], d, e])) == list(range(10))


def test_images_and_labels_stay_paired():
    data = _dataset(n=50)
    for _ in range(30):
        images, labels = data.next_batch(7)
        np.testing.assert_allclose(images[:, 0], labels / 50)


def test_same_seed_same_batches_and_no_shuffle_keeps_order():
    a, b = _dataset(seed=3), _dataset(seed=3)
    for _ in range(7):
        np.testing.assert_array_equal(a.next_batch(3)[1], b.next_batch(3)[1])
    ordered = _dataset()
    assert list(ordered.next_batch(4, shuffle=False)[1]) == [0, 1, 2, 3]
