"""The flower_photos loader: search order, decoding and resizing, labels, split, archive, damage."""
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from parity.datasets import DataError, DataNotFound
from parity.datasets.flowers import FlowersDataset
from parity.runtime import import_tensorflow

tf = import_tensorflow()
FLOWERS = FlowersDataset()

# Each class has its own dominant channel at 230; another channel encodes the image's index in
# its class (20, 60, 100, ...), so every image is recognisable after decoding and resizing.
DOMINANT = {"tulips": 2, "daisy": 0, "roses": 1}  # written out of alphabetical order on purpose
SIZES = [(20, 30), (17, 13), (32, 32), (9, 50)]
NAMES = ["a0.jpg", "a1.JPG", "a2.jpeg", "a3.png"]  # suffixes in any case, PNG too
TOLERANCE = 12 / 255  # JPEG is lossy: a solid colour comes back within a few levels per channel


def colour(cls, k):
    channels = [20, 20, 20]
    channels[DOMINANT[cls]] = 230
    channels[(DOMINANT[cls] + 1) % 3] = 20 + 40 * k
    return channels


def write_flowers(folder, classes=DOMINANT, per_class=4):
    """A small flower_photos folder: solid-colour images of several sizes, a LICENSE.txt, a stray file."""
    folder = Path(folder)
    for cls in classes:
        (folder / cls).mkdir(parents=True, exist_ok=True)
        for k in range(per_class):
            image = np.full((*SIZES[k % 4], 3), colour(cls, k), np.uint8)
            name = NAMES[k % 4]
            encode = tf.io.encode_png if name.endswith(".png") else tf.io.encode_jpeg
            (folder / cls / f"{k}{name}").write_bytes(encode(image).numpy())
        (folder / cls / "notes.txt").write_text("not an image")
    (folder / "LICENSE.txt").write_text("licence text")
    return folder


def identify(image, class_names):
    """(class name, index in class) of a decoded image, checking that it is one solid colour."""
    mean = image.mean(axis=(0, 1))
    assert np.abs(image - mean).max() < TOLERANCE
    cls = next(c for c in class_names if DOMINANT[c] == int(np.argmax(mean)))
    k = round((mean[(DOMINANT[cls] + 1) % 3] * 255 - 20) / 40)
    np.testing.assert_allclose(mean, np.array(colour(cls, k)) / 255, atol=TOLERANCE)
    return cls, k


def at(path):
    """A pattern for a message that starts with `path`."""
    return "^" + re.escape(str(path))


def contents(data):
    """Every (class, index) in the train and the test set, checking each label against its colour."""
    found = []
    for x, y in ((data.x_train, data.y_train), (data.x_test, data.y_test)):
        ids = [identify(image, data.class_names) for image in x]
        assert [data.class_names[label] for label in y] == [cls for cls, _ in ids]
        found.append(ids)
    return found


def test_folder_in_data_dir_resized_and_labelled_alphabetically(isolated_data):
    write_flowers(isolated_data / "given" / "flower_photos")
    data = FLOWERS.load(data_dir=isolated_data / "given", image_size=(32, 24))
    assert data.name == "flowers" and data.source == str(isolated_data / "given" / "flower_photos")
    assert data.class_names == ("daisy", "roses", "tulips") and data.num_classes == 3
    assert data.x_train.shape == (9, 32, 24, 3) and data.x_test.shape == (3, 32, 24, 3)
    assert data.x_train.dtype == np.float32 and data.y_train.dtype == np.int64
    assert 0.0 <= data.x_train.min() and data.x_train.max() <= 1.0
    contents(data)


def test_default_image_size_is_224(isolated_data):
    write_flowers(isolated_data / "given" / "flower_photos", per_class=2)
    assert FLOWERS.load(data_dir=isolated_data / "given").image_shape == (224, 224, 3)


def test_data_dir_holding_class_folders_itself(isolated_data):
    given = write_flowers(isolated_data / "given")
    assert FLOWERS.where(given) == str(given)
    assert FLOWERS.load(data_dir=given, image_size=(8, 8)).source == str(given)
    with pytest.raises(DataNotFound):
        FLOWERS.locate(given, explicit=False)


def test_folder_in_keras_cache(isolated_data):
    cache = write_flowers(isolated_data / "keras_home" / "datasets" / "flower_photos")
    assert FLOWERS.where() == str(cache)
    assert FLOWERS.load(image_size=(16, 16)).source == str(cache)


def test_search_order_data_dir_then_env_then_keras_cache_then_system(isolated_data, monkeypatch):
    system = write_flowers(isolated_data / "system" / "flower_photos", per_class=1)
    assert FLOWERS.where() == str(system)
    cache = write_flowers(isolated_data / "keras_home" / "datasets" / "flower_photos", per_class=1)
    assert FLOWERS.where() == str(cache)
    env = write_flowers(isolated_data / "env" / "flower_photos", per_class=1)
    monkeypatch.setenv("TF_PARITY_DATA", str(isolated_data / "env"))
    assert FLOWERS.where() == str(env)
    given = write_flowers(isolated_data / "given" / "flower_photos", per_class=1)
    assert FLOWERS.where(isolated_data / "given") == str(given)


def test_split_is_stratified_deterministic_disjoint_and_complete(isolated_data):
    write_flowers(isolated_data / "given" / "flower_photos")
    first = FLOWERS.load(data_dir=isolated_data / "given", image_size=(12, 12))
    second = FLOWERS.load(data_dir=isolated_data / "given", image_size=(12, 12))
    for name in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name))
    train, test = contents(first)
    assert not set(train) & set(test)
    assert sorted(train + test) == [(cls, k) for cls in ("daisy", "roses", "tulips") for k in range(4)]
    assert sorted(first.y_test) == [0, 1, 2]  # one test image per class


def test_split_without_stratifying_when_a_class_is_too_small(isolated_data):
    folder = write_flowers(isolated_data / "given" / "flower_photos", classes=["daisy", "roses"], per_class=2)
    for extra in (folder / "roses").glob("1*"):
        extra.unlink()
    data = FLOWERS.load(data_dir=isolated_data / "given", image_size=(8, 8))
    assert len(data.x_train) + len(data.x_test) == 3 and len(data.x_test) == 1
    train, test = contents(data)
    assert sorted(train + test) == [("daisy", 0), ("daisy", 1), ("roses", 0)]


def test_nothing_on_stdout(isolated_data, capfd):
    write_flowers(isolated_data / "given" / "flower_photos", per_class=1)
    FLOWERS.load(data_dir=isolated_data / "given", image_size=(8, 8))
    assert capfd.readouterr().out == ""


def test_not_found_names_every_path_and_how_to_get_it(isolated_data):
    given = isolated_data / "given"
    given.mkdir()
    with pytest.raises(DataNotFound, match=r"tf_flowers \(flower_photos\) not found; looked in ") as info:
        FLOWERS.load(data_dir=given)
    message = str(info.value)
    cache = isolated_data / "keras_home" / "datasets"
    for path in (given, given / "flower_photos", given / "flower_photos.tgz", given / "flower_photos.tar.gz",
                 cache / "flower_photos", cache / "flower_photos.tgz", isolated_data / "system" / "flower_photos"):
        assert f"{path}," in message or f"{path}." in message
    assert "flower_photos.tgz as is, in ~/.keras/datasets or in a folder passed as --data-dir" in message
    assert "it is not downloaded" in message


def test_empty_class_folder(isolated_data):
    folder = write_flowers(isolated_data / "given" / "flower_photos", per_class=1)
    (folder / "sunflowers").mkdir()
    (folder / "sunflowers" / "readme.txt").write_text("no images here")
    with pytest.raises(DataError, match=at(folder / "sunflowers") + ": class folder holds no .jpg, .jpeg or .png"):
        FLOWERS.load(data_dir=isolated_data / "given")


def test_corrupt_jpeg_names_the_file(isolated_data):
    folder = write_flowers(isolated_data / "given" / "flower_photos", per_class=1)
    bad = folder / "roses" / "broken.jpg"
    bad.write_bytes(np.random.default_rng(0).integers(0, 256, 300, dtype=np.uint8).tobytes())
    with pytest.raises(DataError) as info:
        FLOWERS.load(data_dir=isolated_data / "given", image_size=(8, 8))
    assert str(info.value).startswith(f"{bad}: not a readable image (Unknown image file format")
    assert "Op:" not in str(info.value) and info.value.__suppress_context__


def test_a_single_class_folder(isolated_data):
    folder = write_flowers(isolated_data / "given" / "flower_photos", classes=["daisy"], per_class=1)
    with pytest.raises(DataError, match=at(folder) + r": fewer than 2 class folders \(only daisy\)"):
        FLOWERS.load(data_dir=isolated_data / "given")


def test_no_class_folders(isolated_data):
    folder = isolated_data / "given" / "flower_photos"
    folder.mkdir(parents=True)
    (folder / "LICENSE.txt").write_text("licence text")
    with pytest.raises(DataError, match=at(folder) + ": no class subfolders"):
        FLOWERS.load(data_dir=isolated_data / "given")


def make_archive(path, folder):
    with tarfile.open(path, "w:gz") as tar:
        tar.add(folder, arcname="flower_photos")
    return path


@pytest.mark.parametrize("archive_name", ["flower_photos.tgz", "flower_photos.tar.gz"])
def test_archive_in_keras_cache_reads_like_the_folder(isolated_data, archive_name):
    folder = write_flowers(isolated_data / "given" / "flower_photos")
    cache = isolated_data / "keras_home" / "datasets"
    cache.mkdir(parents=True)
    archive = make_archive(cache / archive_name, folder)
    from_archive = FLOWERS.load(image_size=(12, 12))
    assert from_archive.source == str(archive) and not (cache / "flower_photos").exists()
    from_folder = FLOWERS.load(data_dir=isolated_data / "given", image_size=(12, 12))
    assert from_archive.class_names == from_folder.class_names
    for name in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(from_archive, name), getattr(from_folder, name))


def test_folder_wins_over_archive_in_the_same_root(isolated_data):
    cache = isolated_data / "keras_home" / "datasets"
    folder = write_flowers(cache / "flower_photos", per_class=1)
    make_archive(cache / "flower_photos.tgz", folder)
    assert FLOWERS.where() == str(folder)


def test_archive_damage(isolated_data):
    folder = write_flowers(isolated_data / "src" / "flower_photos", per_class=1)
    cache = isolated_data / "keras_home" / "datasets"
    cache.mkdir(parents=True)
    (folder / "roses" / "broken.jpg").write_bytes(b"not a jpeg")
    archive = make_archive(cache / "flower_photos.tgz", folder)
    with pytest.raises(DataError, match=at(archive) + ":flower_photos/roses/broken.jpg: not a readable image"):
        FLOWERS.load(image_size=(8, 8))
    (folder / "roses" / "broken.jpg").unlink()
    (folder / "sunflowers").mkdir()
    make_archive(archive, folder)
    with pytest.raises(DataError, match=at(archive) + ":flower_photos/sunflowers: class folder holds no"):
        FLOWERS.load(image_size=(8, 8))
    archive.write_bytes(archive.read_bytes()[:200])
    with pytest.raises(DataError, match=at(archive) + ": not a readable tar archive"):
        FLOWERS.load(image_size=(8, 8))


def test_import_does_not_load_tensorflow():
    code = "import sys, parity.datasets.flowers; assert 'tensorflow' not in sys.modules"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
