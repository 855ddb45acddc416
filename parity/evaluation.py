"""Test-set evaluation as the document reported it: accuracy, example errors, confusion matrix."""
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class Evaluation:
    accuracy: float          # fraction in [0, 1]
    correct: int
    total: int
    cls_pred: np.ndarray
    confusion: np.ndarray


def evaluate(cls_true, cls_pred, num_classes):
    cls_true, cls_pred = np.asarray(cls_true), np.asarray(cls_pred)
    correct = cls_true == cls_pred
    cm = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(cm, (cls_true, cls_pred), 1)
    return Evaluation(float(correct.mean()), int(correct.sum()), len(correct), cls_pred, cm)


def print_test_accuracy(images, cls_true, cls_pred, num_classes, show_example_errors=False,
                        show_confusion_matrix=False, out_dir=None, prefix="", class_names=None, log=print):
    """Prints the document's accuracy line; writes example errors and the confusion matrix as PNGs."""
    from parity import plots

    result = evaluate(cls_true, cls_pred, num_classes)
    log(f"Accuracy on Test-Set: {result.accuracy:.1%} ({result.correct} / {result.total})")
    if show_example_errors:
        wrong = np.nonzero(result.cls_pred != np.asarray(cls_true))[0][:9]
        log("Example errors:" + (f" {_write(out_dir, prefix, 'example_errors.png')}" if out_dir else ""))
        if out_dir:
            plots.plot_images(Path(out_dir) / f"{prefix}example_errors.png", images[wrong],
                              np.asarray(cls_true)[wrong], result.cls_pred[wrong], class_names)
    if show_confusion_matrix:
        log("Confusion Matrix:")
        log(str(result.confusion))
        if out_dir:
            plots.plot_confusion_matrix(Path(out_dir) / f"{prefix}confusion_matrix.png", result.confusion,
                                        list(class_names) if class_names else None)
    return result


def _write(out_dir, prefix, name):
    return str(Path(out_dir) / f"{prefix}{name}")

