"""CIFAR-100 in Keras' layout: archive and folder, pixel layout, label modes, search order, damage, safety."""
import codecs
import gzip
import io
import os
import pickle
import struct
import tarfile

import numpy as np
import pytest

from parity.datasets import DataError, DataNotFound
from parity.datasets.cifar100 import Cifar100Dataset

ARCHIVE = "cifar-100-python.tar.gz"
FOLDER = "cifar-100-python"


def batch(n, seed):
    """A train or test dict in the real layout: bytes keys, uint8 [n, 3072] data, lists of ints."""
    rng = np.random.default_rng(seed)
    return {
        b"batch_label": b"training batch 1 of 1",
        b"filenames": [f"image_{i}.png".encode() for i in range(n)],
        b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        b"fine_labels": [int(v) for v in rng.integers(0, 100, n)],
        b"coarse_labels": [int(v) for v in rng.integers(0, 20, n)],
    }


def contents(seed=0, n_train=20, n_test=10):
    """The three objects the real files hold."""
    meta = {b"fine_label_names": [f"fine_{i}".encode() for i in range(100)],
            b"coarse_label_names": [f"coarse_{i}".encode() for i in range(20)]}
    return {"train": batch(n_train, seed), "test": batch(n_test, seed + 100), "meta": meta}


def pickled(objects, protocol=2):
    return {name: pickle.dumps(obj, protocol=protocol) for name, obj in objects.items()}


def write_archive(path, members):
    """A .tar.gz holding each bytes payload as cifar-100-python/<name>."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(f"{FOLDER}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def write_folder(folder, members):
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in members.items():
        (folder / name).write_bytes(data)
    return folder


class Py2Pickler(pickle._Pickler):
    """Writes every str and bytes as a Python 2 str, as the files Keras downloads do."""
    dispatch = dict(pickle._Pickler.dispatch)

    def save_py2_str(self, obj):
        data = obj.encode("latin1") if isinstance(obj, str) else obj
        n = len(data)
        head = pickle.SHORT_BINSTRING + bytes([n]) if n < 256 else pickle.BINSTRING + struct.pack("<i", n)
        self.write(head + data)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str
    dispatch[str] = save_py2_str


def py2_pickled(objects):
    """Protocol-2 pickles as Python 2 with numpy 1 writes them (numpy.core.multiarray)."""
    out = {}
    for name, obj in objects.items():
        f = io.BytesIO()
        Py2Pickler(f, protocol=2).dump(obj)
        out[name] = f.getvalue().replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")
    return out


def expected_images(data):
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).astype(np.float32) / np.float32(255)


def keras_cache(root):
    return root / "keras_home" / "datasets"


# --- reading -----------------------------------------------------------------------------------------


def test_reads_archive_from_keras_cache(isolated_data):
    objects = contents()
    archive = write_archive(keras_cache(isolated_data) / ARCHIVE, pickled(objects))
    data = Cifar100Dataset().load()
    assert data.name == "cifar100" and data.source == str(archive)
    assert data.x_train.shape == (20, 32, 32, 3) and data.x_test.shape == (10, 32, 32, 3)
    assert data.x_train.dtype == np.float32 and data.x_train.flags.c_contiguous
    assert data.y_train.dtype == np.int64 and data.num_classes == 100
    np.testing.assert_array_equal(data.x_train, expected_images(objects["train"][b"data"]))
    np.testing.assert_array_equal(data.y_test, objects["test"][b"fine_labels"])
    assert data.class_names == tuple(f"fine_{i}" for i in range(100))
    assert sorted(data.extra) == ["coarse_names", "coarse_test", "coarse_train"]
    np.testing.assert_array_equal(data.extra["coarse_train"], objects["train"][b"coarse_labels"])
    assert data.extra["coarse_test"].dtype == np.int64
    assert data.extra["coarse_names"] == tuple(f"coarse_{i}" for i in range(20))
    assert data.summary() == (f"cifar100 from {archive}: 20 train / 10 test images of 32x32x3, "
                              "100 classes (coarse labels in extra)")


def test_reads_extracted_folder(isolated_data):
    objects = contents(seed=3)
    folder = write_folder(isolated_data / "given" / FOLDER, pickled(objects))
    data = Cifar100Dataset().load(data_dir=isolated_data / "given")
    assert data.source == str(folder)
    np.testing.assert_array_equal(data.x_test, expected_images(objects["test"][b"data"]))


def test_data_dir_may_hold_the_pickles_directly_only_when_explicit(isolated_data):
    given = write_folder(isolated_data / "given", pickled(contents()))
    assert Cifar100Dataset().where(data_dir=given) == str(given)
    with pytest.raises(DataNotFound):
        Cifar100Dataset().locate(data_dir=given, explicit=False)


def test_folder_wins_over_archive_in_the_same_root(isolated_data):
    cache = keras_cache(isolated_data)
    write_archive(cache / ARCHIVE, pickled(contents(seed=1)))
    write_folder(cache / FOLDER, pickled(contents(seed=2)))
    assert Cifar100Dataset().load().source == str(cache / FOLDER)


@pytest.mark.parametrize("protocol", [2, 4])
def test_reads_pickles_of_either_protocol(isolated_data, protocol):
    objects = contents()
    write_archive(keras_cache(isolated_data) / ARCHIVE, pickled(objects, protocol))
    data = Cifar100Dataset().load()
    np.testing.assert_array_equal(data.x_train, expected_images(objects["train"][b"data"]))


def test_reads_python2_pickles_with_old_numpy_names(isolated_data):
    objects = contents()
    members = py2_pickled(objects)
    assert b"cnumpy.core.multiarray\n_reconstruct\n" in members["train"]
    write_archive(keras_cache(isolated_data) / ARCHIVE, members)
    data = Cifar100Dataset().load()
    np.testing.assert_array_equal(data.x_train, expected_images(objects["train"][b"data"]))
    assert data.class_names[7] == "fine_7"


def test_pixel_layout_is_planes_of_red_green_blue_turned_to_nhwc(isolated_data):
    objects = contents()
    data = np.zeros((20, 3072), np.uint8)
    row, col = 3, 5
    data[0, row * 32 + col] = 10  # red plane
    data[0, 1024 + row * 32 + col] = 20  # green plane
    data[0, 2048 + row * 32 + col] = 30  # blue plane
    objects["train"][b"data"] = data
    write_archive(keras_cache(isolated_data) / ARCHIVE, pickled(objects))
    x = Cifar100Dataset().load().x_train
    np.testing.assert_array_equal(x[0, row, col], np.array([10, 20, 30], np.float32) / np.float32(255))
    np.testing.assert_array_equal(x[0, col, row], [0, 0, 0])
    assert np.count_nonzero(x) == 3


def test_coarse_mode_has_20_classes_and_fine_labels_in_extra(isolated_data):
    objects = contents()
    write_archive(keras_cache(isolated_data) / ARCHIVE, pickled(objects))
    spec = Cifar100Dataset(label_mode="coarse")
    assert (spec.name, spec.title) == ("cifar100_coarse", "CIFAR-100 (coarse labels)")
    data = spec.load()
    assert data.name == "cifar100_coarse" and data.num_classes == 20
    np.testing.assert_array_equal(data.y_train, objects["train"][b"coarse_labels"])
    assert data.class_names == tuple(f"coarse_{i}" for i in range(20))
    assert sorted(data.extra) == ["fine_names", "fine_test", "fine_train"]
    np.testing.assert_array_equal(data.extra["fine_test"], objects["test"][b"fine_labels"])
    assert len(data.extra["fine_names"]) == 100


def test_fine_mode_names_and_unknown_mode():
    spec = Cifar100Dataset()
    assert (spec.name, spec.title, spec.label_mode) == ("cifar100", "CIFAR-100", "fine")
    with pytest.raises(ValueError, match="label_mode must be one of"):
        Cifar100Dataset(label_mode="medium")


# --- search ------------------------------------------------------------------------------------------


def test_search_order_data_dir_then_env_then_keras_cache_then_system(isolated_data, monkeypatch):
    system = write_archive(isolated_data / "system" / ARCHIVE, pickled(contents(seed=1)))
    assert Cifar100Dataset().load().source == str(system)
    cache = write_archive(keras_cache(isolated_data) / ARCHIVE, pickled(contents(seed=2)))
    assert Cifar100Dataset().load().source == str(cache)
    env = write_archive(isolated_data / "env" / ARCHIVE, pickled(contents(seed=3)))
    monkeypatch.setenv("TF_PARITY_DATA", str(env.parent))
    assert Cifar100Dataset().load().source == str(env)
    given = write_folder(isolated_data / "given" / FOLDER, pickled(contents(seed=4)))
    assert Cifar100Dataset().load(data_dir=given.parent).source == str(given)


def test_not_found_names_every_path_tried_and_how_to_get_it(isolated_data, monkeypatch):
    monkeypatch.setenv("TF_PARITY_DATA", str(isolated_data / "env"))
    given = isolated_data / "given"
    given.mkdir()
    (isolated_data / "env").mkdir()
    with pytest.raises(DataNotFound) as caught:
        Cifar100Dataset().where(data_dir=given)
    message = str(caught.value)
    assert message.startswith("CIFAR-100 not found; looked in ")
    roots = [given, isolated_data / "env", keras_cache(isolated_data), isolated_data / "system"]
    for root in roots:
        assert str(root / FOLDER) in message and str(root / ARCHIVE) in message
    assert f"{given}, {given / FOLDER}, {given / ARCHIVE}, " in message
    assert message.endswith("Put Keras' cifar-100-python.tar.gz (or the cifar-100-python folder it extracts to) "
                            "in ~/.keras/datasets, or pass the folder holding it as --data-dir; it is not downloaded.")


# --- damage ------------------------------------------------------------------------------------------


def load_damaged(root, members):
    """Loads an archive in the Keras cache holding `members`; returns the DataError's message."""
    archive = write_archive(keras_cache(root) / ARCHIVE, members)
    with pytest.raises(DataError) as caught:
        Cifar100Dataset().load()
    return str(archive), str(caught.value)


def test_missing_member_in_archive(isolated_data):
    members = pickled(contents())
    del members["meta"]
    archive, message = load_damaged(isolated_data, members)
    assert message == f"{archive} ({FOLDER}/meta): missing from the archive; is this Keras' {ARCHIVE}?"


def test_missing_member_in_folder(isolated_data):
    members = pickled(contents())
    del members["test"]
    folder = write_folder(keras_cache(isolated_data) / FOLDER, members)
    with pytest.raises(DataError, match="missing; a CIFAR-100 folder holds train, test, meta$") as caught:
        Cifar100Dataset().load()
    assert str(caught.value).startswith(f"{folder / 'test'}: missing")


@pytest.mark.parametrize("payload", [b"not a pickle at all", b"", "truncated"], ids=["text", "empty", "truncated"])
def test_member_that_is_not_a_readable_pickle(isolated_data, payload):
    members = pickled(contents())
    members["train"] = members["train"][:-500] if payload == "truncated" else payload
    archive, message = load_damaged(isolated_data, members)
    assert message.startswith(f"{archive} ({FOLDER}/train): not a readable pickle (")
    assert message.endswith("); download it again")


def test_pickle_that_is_not_a_dict(isolated_data):
    members = pickled(contents())
    members["test"] = pickle.dumps([1, 2, 3], protocol=2)
    archive, message = load_damaged(isolated_data, members)
    assert message == f"{archive} ({FOLDER}/test): holds a list, expected a dict of images and labels"


@pytest.mark.parametrize("key", [b"data", b"fine_labels", b"coarse_labels"])
def test_batch_missing_a_key(isolated_data, key):
    objects = contents()
    del objects["train"][key]
    archive, message = load_damaged(isolated_data, pickled(objects))
    assert message == f"{archive} ({FOLDER}/train): not a CIFAR-100 batch, missing {key.decode()}"


@pytest.mark.parametrize("data, shape, dtype", [
    (np.zeros((20, 3000), np.uint8), (20, 3000), "uint8"),
    (np.zeros((20, 3072), np.float32), (20, 3072), "float32"),
    (np.zeros((20, 32, 32, 3), np.uint8), (20, 32, 32, 3), "uint8"),
])
def test_data_not_uint8_rows_of_3072(isolated_data, data, shape, dtype):
    objects = contents()
    objects["train"][b"data"] = data
    archive, message = load_damaged(isolated_data, pickled(objects))
    assert message == (f"{archive} ({FOLDER}/train): data has shape {shape} and dtype {dtype}, "
                       "expected uint8 [N, 3072] (one 32x32 RGB image per row)")


def test_label_count_differs_from_image_count(isolated_data):
    objects = contents()
    objects["test"][b"coarse_labels"] = objects["test"][b"coarse_labels"][:-1]
    archive, message = load_damaged(isolated_data, pickled(objects))
    assert message == f"{archive} ({FOLDER}/test): holds 10 images but 9 coarse_labels"


@pytest.mark.parametrize("key, bad, expected", [
    (b"fine_labels", 100, "fine_labels run from 0 to 100, expected 0..99"),
    (b"coarse_labels", 20, "coarse_labels run from 0 to 20, expected 0..19"),
    (b"fine_labels", -1, "fine_labels run from -1 to"),
])
def test_labels_out_of_range(isolated_data, key, bad, expected):
    objects = contents()
    objects["train"][key][4] = bad
    objects["train"][key][5] = 0
    archive, message = load_damaged(isolated_data, pickled(objects))
    assert message.startswith(f"{archive} ({FOLDER}/train): {expected}")


def test_labels_not_integers(isolated_data):
    objects = contents()
    objects["train"][b"fine_labels"] = [b"cat"] * 20
    archive, message = load_damaged(isolated_data, pickled(objects))
    assert message == f"{archive} ({FOLDER}/train): fine_labels is not a list of integers"


def test_meta_with_wrong_number_of_names(isolated_data):
    objects = contents()
    objects["meta"][b"coarse_label_names"] = objects["meta"][b"coarse_label_names"][:19]
    archive, message = load_damaged(isolated_data, pickled(objects))
    assert message == f"{archive} ({FOLDER}/meta): coarse_label_names should list 20 names"


def corrupt_middle(data):
    """Flips bytes inside the compressed stream, past the gzip header."""
    data = bytearray(data)
    for i in range(len(data) // 3, len(data) // 3 + 64):
        data[i] ^= 0xFF
    return bytes(data)


@pytest.mark.parametrize("damage", [
    lambda good: good[: len(good) // 2],
    lambda good: b"this is not a gzip file",
    lambda good: gzip.compress(b"gzip, but not a tar archive" * 50),
    corrupt_middle,
], ids=["truncated", "not-gzip", "gzip-not-tar", "corrupt-stream"])
def test_damaged_archive(isolated_data, damage):
    archive = write_archive(isolated_data / "good" / ARCHIVE, pickled(contents()))
    bad = keras_cache(isolated_data) / ARCHIVE
    bad.parent.mkdir(parents=True)
    bad.write_bytes(damage(archive.read_bytes()))
    with pytest.raises(DataError) as caught:
        Cifar100Dataset().load()
    message = str(caught.value)
    assert message.startswith(f"{bad}: not a readable .tar.gz archive (")
    assert message.endswith("); download it again")


# --- safety ------------------------------------------------------------------------------------------


class RunsShell:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class WritesFile:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",)


@pytest.mark.parametrize("make, protocol, refused", [
    (RunsShell, 2, f"{os.system.__module__}.system"),
    (RunsShell, 4, f"{os.system.__module__}.system"),
    (WritesFile, 2, "__builtin__.exec"),  # protocol 2 writes Python 2's module names
    (WritesFile, 4, "builtins.exec"),
])
def test_code_running_pickle_is_refused(isolated_data, make, protocol, refused):
    marker = isolated_data / "pwned"
    members = pickled(contents())
    members["train"] = pickle.dumps(make(marker), protocol=protocol)
    archive, message = load_damaged(isolated_data, members)
    assert message == (f"{archive} ({FOLDER}/train): refused to unpickle '{refused}': CIFAR-100 files hold "
                       "only arrays, lists and dicts; this file may be unsafe")
    assert not marker.exists()


def test_code_hidden_inside_a_valid_batch_is_refused(isolated_data):
    marker = isolated_data / "pwned"
    objects = contents()
    objects["test"][b"filenames"][3] = WritesFile(marker)
    archive, message = load_damaged(isolated_data, pickled(objects))
    assert message.startswith(f"{archive} ({FOLDER}/test): refused to unpickle '__builtin__.exec'")
    assert not marker.exists()


class OtherCodec:
    def __reduce__(self):
        return codecs.encode, ("text", "rot13")


def test_bytes_rebuilding_admits_only_latin1(isolated_data):
    members = pickled(contents())
    members["meta"] = pickle.dumps({b"fine_label_names": OtherCodec()}, protocol=2)
    archive, message = load_damaged(isolated_data, members)
    assert message.startswith(f"{archive} ({FOLDER}/meta): not a readable pickle ")
    assert "refused to encode text as 'rot13'" in message
