"""The data layer never passes over what the user pointed at, and `tf-parity data` checks as the loaders do."""
import gzip
import pickle
import re
import tarfile

import numpy as np
import pytest

from parity import datasets
from parity.datasets import DataError, DataNotFound
from parity.datasets.cifar100 import ARCHIVE, FOLDER
from parity_tests.conftest import write_idx_set
from parity_tests.test_cifar100 import contents, pickled, write_archive, write_folder
from parity_tests.test_flowers import write_flowers

# The ways in: each must refuse a bad --data-dir before looking anywhere else.
ENTRY_POINTS = {
    "load": lambda d: datasets.load("fashion_mnist", data_dir=d),
    "load auto": lambda d: datasets.load("auto", data_dir=d),
    "load digits": lambda d: datasets.load("digits", data_dir=d),
    "resolve": lambda d: datasets.resolve("fashion_mnist", d),
    "resolve auto": lambda d: datasets.resolve("auto", d),
    "describe": lambda d: datasets.describe(d),
    "locate": lambda d: datasets.DATASETS["fashion_mnist"].locate(d),
    "locate cifar100": lambda d: datasets.DATASETS["cifar100"].locate(d),
    "locate flowers": lambda d: datasets.DATASETS["flowers"].locate(d),
}

# A 1x1 GIF: TensorFlow decodes it, but a flower photo is a JPEG or PNG.
GIF = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00"
       b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")


def at(path):
    """`path` as a regular expression."""
    return re.escape(str(path))


def rows(data_dir=None):
    return {row.name: row for row in datasets.describe(data_dir)}


def load_error(name, data_dir=None, **kwargs):
    with pytest.raises(DataError) as caught:
        datasets.DATASETS[name].load(data_dir, **kwargs)
    return str(caught.value)


# --- 1. a named folder must exist ---------------------------------------------------------------------


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_data_dir_that_does_not_exist_is_an_error(isolated_data, entry):
    write_idx_set(isolated_data / "system" / "fashion-mnist")  # what a silent fall-through would find
    missing = isolated_data / "typo"
    with pytest.raises(DataError) as caught:
        ENTRY_POINTS[entry](missing)
    assert not isinstance(caught.value, DataNotFound)
    assert str(caught.value) == (f"--data-dir {missing}: does not exist; pass the folder that holds the data "
                                 "files, or leave --data-dir out to search the usual places")


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_data_dir_that_is_a_file_is_an_error(isolated_data, entry):
    write_idx_set(isolated_data / "system" / "fashion-mnist")
    write_idx_set(isolated_data / "d")
    given = isolated_data / "d" / "train-images-idx3-ubyte.gz"
    with pytest.raises(DataError, match=f"^--data-dir {at(given)}: is a file; pass the folder that holds"):
        ENTRY_POINTS[entry](given)


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_tf_parity_data_that_does_not_exist_is_an_error(isolated_data, monkeypatch, entry):
    write_idx_set(isolated_data / "system" / "fashion-mnist")
    monkeypatch.setenv("TF_PARITY_DATA", str(isolated_data / "nowhere"))
    with pytest.raises(DataError) as caught:
        ENTRY_POINTS[entry](None)
    assert str(caught.value) == (f"$TF_PARITY_DATA is {isolated_data / 'nowhere'}, which does not exist; "
                                 "set it to the folder that holds the data files, or unset it")


def test_tf_parity_data_that_is_a_file_is_an_error_showing_its_value(isolated_data, monkeypatch):
    (isolated_data / "data.txt").write_text("not a folder")
    monkeypatch.setenv("HOME", str(isolated_data))
    monkeypatch.setenv("TF_PARITY_DATA", "~/data.txt")
    with pytest.raises(DataError) as caught:
        datasets.load("digits")
    assert str(caught.value) == (f"$TF_PARITY_DATA is ~/data.txt ({isolated_data / 'data.txt'}), which is a file; "
                                 "set it to the folder that holds the data files, or unset it")


def test_empty_tf_parity_data_is_not_set(isolated_data, monkeypatch):
    monkeypatch.setenv("TF_PARITY_DATA", "")
    assert [label for label, _ in datasets.search_roots()] == ["Keras cache", "system packages"]
    assert datasets.resolve("auto") == "digits"


# --- 2. what a given folder holds is never passed over ------------------------------------------------


def test_auto_refuses_idx_files_directly_in_data_dir(isolated_data):
    write_idx_set(isolated_data / "system" / "fashion-mnist", seed=1)
    given = isolated_data / "given"
    write_idx_set(given, seed=2)
    expected = (f"--data-dir {given} holds IDX files directly, and MNIST's and Fashion-MNIST's have the same "
                "names, so --dataset auto cannot tell which set they are; pass --dataset mnist or "
                "--dataset fashion_mnist, or move them into a mnist/ or fashion-mnist/ subfolder")
    for call in (lambda: datasets.resolve("auto", given), lambda: datasets.load("auto", given)):
        with pytest.raises(DataError) as caught:
            call()
        assert str(caught.value) == expected
    assert datasets.load("mnist", given).source == str(given)  # named, the set is read from there
    assert datasets.load("fashion_mnist", given).source == str(given)


def test_auto_refuses_even_a_partial_idx_set_directly_in_data_dir(isolated_data):
    write_idx_set(isolated_data / "system" / "mnist")
    given = isolated_data / "given"
    write_idx_set(given)
    (given / "t10k-images-idx3-ubyte.gz").unlink()
    with pytest.raises(DataError, match="holds IDX files directly"):
        datasets.resolve("auto", given)


def test_auto_refuses_cifar_pickles_and_flower_folders_directly_in_data_dir(isolated_data):
    write_idx_set(isolated_data / "system" / "fashion-mnist")
    order = ("cifar100", "fashion_mnist", "digits")
    cifar = write_folder(isolated_data / "cifar", pickled(contents()))
    with pytest.raises(DataError, match=f"^--data-dir {at(cifar)} holds CIFAR-100's train, test, meta directly, "
                                        "which --dataset auto does not read; pass --dataset cifar100 or "
                                        f"--dataset cifar100_coarse, or move them into a {FOLDER}/ subfolder$"):
        datasets.resolve("auto", cifar, order)
    flowers = write_flowers(isolated_data / "flowers", per_class=1)
    with pytest.raises(DataError, match=f"^--data-dir {at(flowers)} holds class folders of images directly, "
                                        "which --dataset auto does not read; pass --dataset flowers"):
        datasets.resolve("auto", flowers, ("flowers", "fashion_mnist", "digits"))
    # A set the model does not ask for is no concern of its `auto`.
    assert datasets.resolve("auto", cifar, ("fashion_mnist", "digits")) == "fashion_mnist"


@pytest.mark.parametrize("name, subfolder", [("mnist", "mnist"), ("fashion_mnist", "fashion-mnist")])
def test_named_subfolder_without_the_files_in_data_dir_is_an_error(isolated_data, name, subfolder):
    write_idx_set(isolated_data / "system" / subfolder)
    given = isolated_data / "given"
    (given / subfolder).mkdir(parents=True)
    (given / subfolder / "train-images.idx3-ubyte").write_bytes(b"\0" * 16)  # a name the loader does not read
    for dataset in (name, "auto"):
        with pytest.raises(DataError, match=f"^{at(given / subfolder)}: holds none of the four .* IDX files "
                                            r"\(train-images-idx3-ubyte, .*\); put them there"):
            datasets.load(dataset, given)


def test_named_subfolder_without_the_files_in_tf_parity_data_is_an_error(isolated_data, monkeypatch):
    write_idx_set(isolated_data / "system" / "fashion-mnist")
    (isolated_data / "env" / "fashion_mnist").mkdir(parents=True)
    monkeypatch.setenv("TF_PARITY_DATA", str(isolated_data / "env"))
    with pytest.raises(DataError, match=f"^{at(isolated_data / 'env' / 'fashion_mnist')}: holds none of the four"):
        datasets.load("fashion_mnist")


def test_mnist_npz_beside_an_unusable_subfolder_is_still_read(isolated_data):
    given = isolated_data / "given"
    (given / "mnist").mkdir(parents=True)
    x = np.zeros((3, 28, 28), np.uint8)
    np.savez(given / "mnist.npz", x_train=x, y_train=np.arange(3), x_test=x, y_test=np.arange(3))
    assert datasets.load("mnist", given).source == str(given / "mnist.npz")


def test_named_subfolder_without_the_files_in_keras_cache_is_passed_over(isolated_data):
    (isolated_data / "keras_home" / "datasets" / "fashion-mnist").mkdir(parents=True)  # a download cut short
    write_idx_set(isolated_data / "system" / "fashion-mnist")
    assert datasets.load("fashion_mnist").source == str(isolated_data / "system" / "fashion-mnist")


def test_empty_cifar_folder_in_data_dir_is_an_error(isolated_data):
    write_archive(isolated_data / "keras_home" / "datasets" / ARCHIVE, pickled(contents()))
    given = isolated_data / "given"
    write_folder(given / FOLDER / FOLDER, pickled(contents()))  # extracted one level too deep
    with pytest.raises(DataError, match=f"^{at(given / FOLDER)}: holds none of train, test, meta; put Keras' "):
        datasets.load("cifar100", given)
    write_archive(given / ARCHIVE, pickled(contents()))
    assert datasets.load("cifar100", given).source == str(given / ARCHIVE)  # the archive beside it serves


# --- 3. `tf-parity data` checks as the loaders do ------------------------------------------------------


def test_describe_rows_unpack_as_before_and_carry_a_status(isolated_data):
    write_idx_set(isolated_data / "system" / "fashion-mnist")
    for row in datasets.describe():
        name, found, where = row
        assert (name, found, where) == (row.name, row.status == "found", row.where)
        assert row.status in ("found", "missing", "damaged") and found is row.found
    table = rows()
    assert table["fashion_mnist"].status == "found" and table["mnist"].status == "missing"
    assert table["digits"].where == "scikit-learn (bundled)"


def test_describe_lists_garbage_idx_files_as_damaged_with_the_loaders_reason(isolated_data):
    folder = isolated_data / "system" / "fashion-mnist"
    folder.mkdir(parents=True)
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        (folder / f"{name}.gz").write_bytes(b"this is not gzip data")
    row = rows()["fashion_mnist"]
    assert (row.status, row.found) == ("damaged", False)
    assert row.where == load_error("fashion_mnist")
    assert row.where.startswith(f"{folder / 'train-images-idx3-ubyte.gz'}: not a readable gzip file")


def test_describe_checks_the_whole_idx_set(isolated_data):
    folder = isolated_data / "system" / "fashion-mnist"
    write_idx_set(folder)
    with gzip.open(folder / "t10k-labels-idx1-ubyte.gz", "wb") as f:
        f.write(b"\0\0\x08\x01" + (40).to_bytes(4, "big") + bytes([12] * 40))  # labels out of range
    row = rows()["fashion_mnist"]
    assert row.status == "damaged" and row.where == load_error("fashion_mnist")
    assert "labels run from 12 to 12, expected 0..9" in row.where


def test_describe_lists_an_incomplete_set_and_a_damaged_npz_as_damaged(isolated_data):
    write_idx_set(isolated_data / "system" / "fashion-mnist")
    (isolated_data / "system" / "fashion-mnist" / "train-labels-idx1-ubyte.gz").unlink()
    cache = isolated_data / "keras_home" / "datasets"
    cache.mkdir(parents=True)
    np.savez(cache / "mnist.npz", x_train=np.zeros((2, 28, 28), np.uint8))
    table = rows()
    assert table["fashion_mnist"].status == "damaged"
    assert "incomplete Fashion-MNIST IDX set" in table["fashion_mnist"].where
    assert table["mnist"].status == "damaged" and table["mnist"].where == load_error("mnist")


def test_describe_checks_cifar100_as_the_loader_does_in_both_label_modes(isolated_data):
    objects = contents()
    objects["test"][b"coarse_labels"] = objects["test"][b"coarse_labels"][:-1]
    archive = write_archive(isolated_data / "keras_home" / "datasets" / ARCHIVE, pickled(objects))
    table = rows()
    expected = f"{archive} ({FOLDER}/test): holds 10 images but 9 coarse_labels"
    for name in ("cifar100", "cifar100_coarse"):
        assert (table[name].status, table[name].where) == ("damaged", expected)
        assert load_error(name) == expected
    write_archive(archive, pickled(contents()))
    assert rows()["cifar100_coarse"].status == "found"


@pytest.mark.parametrize("damage, reason", [
    (b"", "not a readable image (empty file)"),
    (b"<html>404 not found</html>", "not a readable image (Unknown image file format"),
    (GIF, "not a readable image (Unknown image file format"),
], ids=["empty", "html", "gif"])
def test_describe_checks_flower_photos_as_the_loader_does(isolated_data, damage, reason):
    folder = write_flowers(isolated_data / "keras_home" / "datasets" / "flower_photos", per_class=1)
    assert rows()["flowers"].status == "found"
    bad = folder / "roses" / "9.jpg"
    bad.write_bytes(damage)
    row = rows()["flowers"]
    assert (row.status, row.where) == ("damaged", load_error("flowers", image_size=(8, 8)))
    assert row.where.startswith(f"{bad}: {reason}")


def test_describe_checks_a_flower_archive_as_the_loader_does(isolated_data):
    folder = write_flowers(isolated_data / "src" / "flower_photos", per_class=1)
    (folder / "daisy" / "9.png").write_bytes(b"GIF89a")
    archive = isolated_data / "keras_home" / "datasets" / "flower_photos.tgz"
    archive.parent.mkdir(parents=True)
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="flower_photos")
    row = rows()["flowers"]
    assert (row.status, row.where) == ("damaged", load_error("flowers", image_size=(8, 8)))
    assert row.where.startswith(f"{archive}:flower_photos/daisy/9.png: not a readable image")
    (folder / "daisy" / "9.png").unlink()
    (folder / "sunflowers").mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="flower_photos")
    row = rows()["flowers"]
    assert row.where == f"{archive}:flower_photos/sunflowers: class folder holds no .jpg, .jpeg or .png image"


def test_describe_with_a_bad_data_dir_is_one_error(isolated_data):
    with pytest.raises(DataError, match="does not exist"):
        datasets.describe(isolated_data / "typo")


# --- 4. never advise loading a file unsafely -----------------------------------------------------------

PICKLED = ("holds pickled Python objects, which tf-parity never loads; a Keras mnist.npz holds plain "
           "uint8/int arrays; download it again")


def npz_error(root, write):
    """Writes mnist.npz into the Keras cache under `root`; returns its path and the loader's message."""
    cache = root / "keras_home" / "datasets"
    cache.mkdir(parents=True, exist_ok=True)
    write(cache / "mnist.npz")
    message = load_error("mnist")
    assert "allow_pickle" not in message and "trust" not in message and "unsafe" not in message
    return cache / "mnist.npz", message


def test_npz_that_is_a_pickle_is_refused_in_our_words(isolated_data):
    payload = pickle.dumps({"x_train": [1, 2]}, protocol=4)
    path, message = npz_error(isolated_data, lambda p: p.write_bytes(payload))
    assert message == f"{path}: {PICKLED}"


def test_npz_holding_an_object_array_is_refused_in_our_words(isolated_data):
    x = np.zeros((2, 28, 28), np.uint8)
    objects = np.array([{"a": 1}], dtype=object)
    path, message = npz_error(isolated_data, lambda p: np.savez(p, x_train=objects, y_train=[0], x_test=x,
                                                                 y_test=[0, 0]))
    assert message == f"{path}: {PICKLED}"


def test_npz_that_is_a_single_npy_array_or_text(isolated_data):
    def npy(path):
        with open(path, "wb") as f:
            np.save(f, np.zeros(3))

    path, message = npz_error(isolated_data, npy)
    assert message == (f"{path}: a single .npy array, not a Keras mnist.npz (a zip of x_train, y_train, "
                       "x_test, y_test); download it again")
    path, message = npz_error(isolated_data, lambda p: p.write_text("<html>rate limited</html>"))
    assert message == f"{path}: not a readable .npz file (not a zip archive); download it again"
    path, message = npz_error(isolated_data, lambda p: p.write_bytes(b""))
    assert message == f"{path}: not a readable .npz file (empty); download it again"
