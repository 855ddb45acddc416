"""The test figures a trained runner is scored by: accuracy in percent, or an autoencoder's
reconstruction loss."""
import numpy as np


def accuracy_percent(runner, data, batch_statistics=False):
    """Test accuracy in percent; NaN where a prediction is not finite (argmax would read a NaN
    row as class 0). `batch_statistics`: see the runners' predict()."""
    logits = runner.predict(data.x_test, batch_statistics=batch_statistics)
    if not np.all(np.isfinite(logits)):
        return float("nan")
    return 100.0 * float(np.mean(np.argmax(logits, axis=1) == data.y_test))


def chance_percent(y):
    """What always answering the most frequent class scores on labels `y`, in percent."""
    return 100.0 * float(np.bincount(y).max()) / len(y)


def reconstruction_loss(runner, data):
    """Mean binary cross-entropy of the test images against their reconstructions."""
    p = np.clip(runner.predict(data.x_test).astype(np.float64), 1e-7, 1 - 1e-7)
    x = data.x_test
    return float(np.mean(-(x * np.log(p) + (1 - x) * np.log(1 - p))))


def test_metric(spec, runner, data):
    """Test accuracy in percent (read with batch statistics where the spec says so), or
    (reconstruction) the test reconstruction loss."""
    if spec.task == "reconstruction":
        return reconstruction_loss(runner, data)
    return accuracy_percent(runner, data, spec.accuracy_batch_statistics)
