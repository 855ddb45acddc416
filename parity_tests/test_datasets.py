"""The data layer: formats, search order, `auto`, and one clear error per kind of damage."""
import gzip

import numpy as np
import pytest

from parity import datasets
from parity.datasets import DataError, DataNotFound
from parity_tests.conftest import write_idx, write_idx_set


def test_reads_gzipped_idx_set(isolated_data):
    arrays = write_idx_set(isolated_data / "d")
    data = datasets.load("fashion_mnist", data_dir=isolated_data / "d")
    assert data.x_train.shape == (120, 28, 28, 1) and data.x_train.dtype == np.float32
    np.testing.assert_array_equal(data.x_train[..., 0], arrays["train-images-idx3-ubyte"] / np.float32(255))
    np.testing.assert_array_equal(data.y_test, arrays["t10k-labels-idx1-ubyte"])
    assert data.source == str(isolated_data / "d")


def test_reads_plain_idx_set(isolated_data):
    arrays = write_idx_set(isolated_data / "d", gz=False)
    data = datasets.load("mnist", data_dir=isolated_data / "d")
    np.testing.assert_array_equal(data.y_train, arrays["train-labels-idx1-ubyte"])


def test_reads_keras_mnist_npz(isolated_data):
    cache = isolated_data / "keras_home" / "datasets"
    cache.mkdir(parents=True)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (30, 28, 28), dtype=np.uint8)
    np.savez(cache / "mnist.npz", x_train=x, y_train=np.arange(30) % 10, x_test=x[:5], y_test=np.arange(5))
    data = datasets.load("mnist")
    assert data.source == str(cache / "mnist.npz")
    assert data.x_test.shape == (5, 28, 28, 1)


def test_search_order_data_dir_then_env_then_keras_cache_then_system(isolated_data, monkeypatch):
    from parity.datasets import registry

    system = isolated_data / "system"
    write_idx_set(system / "fashion-mnist", seed=1)
    assert datasets.load("fashion_mnist").source == str(system / "fashion-mnist")
    keras_cache = isolated_data / "keras_home" / "datasets" / "fashion-mnist"
    write_idx_set(keras_cache, seed=2)
    assert datasets.load("fashion_mnist").source == str(keras_cache)
    env = isolated_data / "env"
    write_idx_set(env / "fashion_mnist", seed=3)
    monkeypatch.setenv("TF_PARITY_DATA", str(env))
    assert datasets.load("fashion_mnist").source == str(env / "fashion_mnist")
    given = isolated_data / "given"
    write_idx_set(given, seed=4)
    assert datasets.load("fashion_mnist", data_dir=given).source == str(given)
    assert [label for label, _ in registry.search_roots(given)] == [
        "--data-dir", "$TF_PARITY_DATA", "Keras cache", "system packages"]


def test_auto_prefers_mnist_then_fashion_then_digits(isolated_data):
    assert datasets.resolve("auto") == "digits"
    write_idx_set(isolated_data / "system" / "fashion-mnist")
    assert datasets.resolve("auto") == "fashion_mnist"
    write_idx_set(isolated_data / "system" / "mnist")
    assert datasets.resolve("auto") == "mnist"


def test_digits_and_synthetic_are_always_there(isolated_data):
    digits = datasets.load("digits")
    assert digits.x_train.shape[1:] == (28, 28, 1)
    assert len(digits.x_train) + len(digits.x_test) == 1797
    assert 0.0 <= digits.x_train.min() and digits.x_train.max() <= 1.0
    a, b = datasets.load("synthetic"), datasets.load("synthetic")
    np.testing.assert_array_equal(a.x_train, b.x_train)


def test_missing_data_set_names_paths_and_how_to_get_it(isolated_data):
    with pytest.raises(DataNotFound) as e:
        datasets.load("fashion_mnist")
    message = str(e.value)
    assert str(isolated_data / "system" / "fashion-mnist") in message
    assert "apt-get install dataset-fashion-mnist" in message


def test_unknown_dataset():
    with pytest.raises(DataError, match="unknown dataset 'cifar'; choose one of: auto, mnist"):
        datasets.load("cifar")


def test_incomplete_set_names_the_missing_file(isolated_data):
    folder = isolated_data / "d"
    write_idx_set(folder)
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match=r"incomplete Fashion-MNIST IDX set, missing t10k-labels-idx1-ubyte"):
        datasets.load("fashion_mnist", data_dir=folder)


def test_wrong_magic_number(isolated_data):
    folder = isolated_data / "d"
    arrays = write_idx_set(folder)
    # Labels written where the training images belong: magic 0x801 instead of 0x803.
    write_idx(folder / "train-images-idx3-ubyte", arrays["train-labels-idx1-ubyte"])
    with pytest.raises(DataError) as e:
        datasets.load("fashion_mnist", data_dir=folder)
    assert "train-images-idx3-ubyte.gz: wrong magic number 0x00000801, expected 0x00000803" in str(e.value)


def test_truncated_file(isolated_data):
    folder = isolated_data / "d"
    write_idx_set(folder)
    path = folder / "t10k-images-idx3-ubyte.gz"
    with gzip.open(path) as f:
        raw = f.read()
    with gzip.open(path, "wb") as f:
        f.write(raw[:-100])
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte.gz: truncated: header says 40x28x28 = 31360 "
                                        r"bytes of data, found 31260"):
        datasets.load("fashion_mnist", data_dir=folder)


def test_cut_off_gzip_stream(isolated_data):
    folder = isolated_data / "d"
    write_idx_set(folder)
    path = folder / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz: not a readable gzip file"):
        datasets.load("fashion_mnist", data_dir=folder)


def test_image_label_count_mismatch(isolated_data):
    folder = isolated_data / "d"
    write_idx_set(folder)
    write_idx(folder / "train-labels-idx1-ubyte", np.zeros(119, np.uint8))
    with pytest.raises(DataError) as e:
        datasets.load("fashion_mnist", data_dir=folder)
    assert "holds 120 images but" in str(e.value) and "holds 119 labels" in str(e.value)


def test_labels_out_of_range(isolated_data):
    folder = isolated_data / "d"
    write_idx_set(folder)
    write_idx(folder / "t10k-labels-idx1-ubyte", np.full(40, 12, np.uint8))
    with pytest.raises(DataError, match="labels run from 12 to 12, expected 0..9"):
        datasets.load("fashion_mnist", data_dir=folder)


def test_damaged_npz(isolated_data):
    cache = isolated_data / "keras_home" / "datasets"
    cache.mkdir(parents=True)
    (cache / "mnist.npz").write_bytes(b"PK\x03\x04 this is not a zip archive")
    with pytest.raises(DataError, match="mnist.npz: not a readable .npz file"):
        datasets.load("mnist")
    np.savez(cache / "mnist.npz", x_train=np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(DataError, match=r"not a Keras mnist.npz, missing arrays \['x_test', 'y_test', 'y_train'\]"):
        datasets.load("mnist")


def test_damaged_mnist_is_not_skipped_by_auto(isolated_data):
    """A damaged MNIST must be reported, not silently replaced by the next data set."""
    folder = isolated_data / "system" / "mnist"
    write_idx_set(folder)
    (folder / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="incomplete MNIST"):
        datasets.load("auto")


def test_describe_reports_found_and_missing(isolated_data):
    write_idx_set(isolated_data / "system" / "fashion-mnist")
    rows = {name: (found, where) for name, found, where in datasets.describe()}
    assert rows["fashion_mnist"] == (True, str(isolated_data / "system" / "fashion-mnist"))
    assert rows["mnist"][0] is False and "mnist.npz" in rows["mnist"][1]
    assert rows["digits"][0] is True


def test_stand_in_is_padded_repeated_and_its_extra_classes_dropped():
    from parity.datasets import adapt

    data = datasets.load("synthetic")
    fitted = adapt.fit_to_model(data, (32, 32, 3), 100)
    assert fitted.x_train.shape[1:] == (32, 32, 3) and fitted.num_classes == 10
    np.testing.assert_array_equal(fitted.x_train[:, 2:30, 2:30, 1], data.x_train[..., 0])  # centred
    assert fitted.x_train[:, :2].max() == 0.0 and fitted.x_train[:, 30:].max() == 0.0
    assert "zero-padded 28x28 -> 32x32, grey repeated to 3 channels" in fitted.note
    five = adapt.fit_to_model(data, (64, 64, 3), 5, resize=True)
    assert five.x_train.shape[1:] == (64, 64, 3) and set(np.unique(five.y_train)) <= set(range(5))
    assert five.num_classes == 5 and "its first 5 of 10 classes" in five.note and "resized 28x28 -> 64x64" in five.note
    assert adapt.fit_to_model(data, (28, 28, 1), 10) is data
    with pytest.raises(DataError, match="3-channel images cannot feed a model that takes 1 channels"):
        adapt.plan((32, 32, 3), 10, (28, 28, 1), 10)
