"""Data sets that are always present: scikit-learn's digits, and a synthetic set for fast tests."""
import numpy as np

from parity.datasets.base import Dataset

DIGITS_TEST_FRACTION = 0.2


def load_digits(size: int = 28):
    """scikit-learn's 1,797 8x8 digits, bilinearly resized to size x size, split 80/20 by class."""
    from scipy.ndimage import zoom
    from sklearn.datasets import load_digits as sk_load_digits
    from sklearn.model_selection import train_test_split

    digits = sk_load_digits()
    images = digits.images.astype(np.float32) / 16.0  # [N, 8, 8], values 0..16
    factor = size / images.shape[1]
    resized = np.clip(zoom(images, (1, factor, factor), order=1), 0.0, 1.0)
    x_train, x_test, y_train, y_test = train_test_split(
        resized[..., None], digits.target.astype(np.int64),
        test_size=DIGITS_TEST_FRACTION, stratify=digits.target, random_state=0)
    return Dataset("digits", "scikit-learn (bundled)", x_train, y_train, x_test, y_test,
                            num_classes=10, class_names=tuple(str(i) for i in range(10)),
                            note="8x8 digits resized to 28x28")


def synthetic_images(num: int, shape=(28, 28, 1), num_classes: int = 10, seed: int = 0):
    """Learnable, deterministic images: one smooth random prototype per class plus noise."""
    rng = np.random.default_rng(seed)
    h, w, c = shape
    coarse = rng.uniform(0.0, 1.0, size=(num_classes, 4, 4, c)).astype(np.float32)
    # Nearest-upsample each 4x4 prototype to h x w so classes differ in large, convolvable patches.
    rows = np.arange(h) * 4 // h
    cols = np.arange(w) * 4 // w
    prototypes = coarse[:, rows][:, :, cols]
    labels = rng.integers(0, num_classes, size=num).astype(np.int64)
    noise = rng.normal(0.0, 0.15, size=(num, h, w, c)).astype(np.float32)
    images = np.clip(prototypes[labels] + noise, 0.0, 1.0).astype(np.float32)
    return images, labels


def load_synthetic(num_train: int = 512, num_test: int = 256, shape=(28, 28, 1), num_classes: int = 10):
    x, y = synthetic_images(num_train + num_test, shape, num_classes, seed=0)
    return Dataset("synthetic", "generated (seed 0)", x[:num_train], y[:num_train],
                            x[num_train:], y[num_train:], num_classes=num_classes,
                            class_names=tuple(str(i) for i in range(num_classes)),
                            note="deterministic, for tests")
