"""Fits a data set to a model's input when it is a stand-in (a proxy) for the model's own data."""
import dataclasses

import numpy as np

from parity.datasets.errors import DataError


def plan(image_shape, num_classes, input_shape, model_classes, resize=False):
    """What fitting data of `image_shape` and `num_classes` to the model takes, in words ([] if nothing).

    An `image_shape` of None means the loader already gives the model's size.
    """
    h, w, c = input_shape
    sh, sw, sc = image_shape or input_shape
    changes = []
    if num_classes > model_classes:
        changes.append(f"its first {model_classes} of {num_classes} classes")
    if sc != c and not (sc == 1 and c == 3):
        raise DataError(f"{sc}-channel images cannot feed a model that takes {c} channels")
    if (sh, sw) != (h, w):
        if not resize and sh <= h and sw <= w:
            changes.append(f"zero-padded {sh}x{sw} -> {h}x{w}")
        else:
            changes.append(f"resized {sh}x{sw} -> {h}x{w} (bilinear)")
    if sc != c:
        changes.append(f"grey repeated to {c} channels")
    return changes


def fit_to_model(data, input_shape, num_classes, resize=False, batch=2048):
    """Returns `data` with images of `input_shape` and at most `num_classes` classes.

    Smaller images are zero-padded around (or, with `resize`, resized bilinearly); grey images are
    repeated to three channels; classes beyond the model's outputs are dropped. The returned
    data set's note says what was done.
    """
    try:
        changes = plan(data.image_shape, data.num_classes, input_shape, num_classes, resize)
    except DataError as e:
        raise DataError(f"{data.name}: {e}") from None
    if not changes:
        return data
    x_train, y_train, x_test, y_test = data.x_train, data.y_train, data.x_test, data.y_test
    if data.num_classes > num_classes:
        keep_train, keep_test = y_train < num_classes, y_test < num_classes
        x_train, y_train, x_test, y_test = x_train[keep_train], y_train[keep_train], x_test[keep_test], y_test[keep_test]
    if data.image_shape != tuple(input_shape):
        x_train = _reshape_images(x_train, input_shape, resize, batch)
        x_test = _reshape_images(x_test, input_shape, resize, batch)
    note = "; ".join(filter(None, [data.note, "fitted to the model: " + ", ".join(changes)]))
    return dataclasses.replace(data, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test,
                               num_classes=min(data.num_classes, num_classes),
                               class_names=data.class_names[:num_classes], note=note)


def _reshape_images(images, shape, resize, batch):
    h, w, c = shape
    out = np.empty((len(images), h, w, c), np.float32)
    for start in range(0, len(images), batch):
        chunk = images[start:start + batch]
        sh, sw = chunk.shape[1:3]
        if (sh, sw) != (h, w):
            if not resize and sh <= h and sw <= w:
                top, left = (h - sh) // 2, (w - sw) // 2
                chunk = np.pad(chunk, ((0, 0), (top, h - sh - top), (left, w - sw - left), (0, 0)))
            else:
                from parity.runtime import import_tensorflow

                chunk = import_tensorflow().image.resize(chunk, (h, w)).numpy()
        out[start:start + batch] = np.broadcast_to(chunk, (len(chunk), h, w, c)) if chunk.shape[-1] != c else chunk
    return out
