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


class TestReport:
    """The document's test report and context management, shared by both trees' Seed001 workflows.

    Needs `data` (from input_data.read_data_sets(one_hot=True)), `class_names`, `predict_cls(images)`
    and `close()`.
    """

    def print_test_accuracy(self, show_example_errors=False, show_confusion_matrix=False, out_dir=None,
                            prefix="", log=print):
        """The document's test report, in batches of 256; example errors and the confusion matrix
        are also written as PNG files when `out_dir` is given."""
        labels = self.data.test.labels
        return print_test_accuracy(
            self.data.test.images, np.argmax(labels, axis=1), self.predict_cls(self.data.test.images),
            labels.shape[1], show_example_errors, show_confusion_matrix, out_dir, prefix, self.class_names, log)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
