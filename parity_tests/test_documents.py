"""The documents' own training code, ported to Keras 3, runs: seed 000's loop, seed 004's fit, and the
seed 002 replay script."""
import numpy as np

from eager_v2 import resnet18, vgg13
from parity.runtime import import_tensorflow

tf = import_tensorflow()


def _batches(n, size, classes=100, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.uniform(size=(size, 32, 32, 3)).astype(np.float32), rng.integers(0, classes, size))
            for _ in range(n)]


def test_seed000_loop_reports_test_accuracy_each_epoch():
    model = vgg13.build_model()
    train, test = _batches(2, 4), _batches(1, 6, seed=1)
    lines = []
    accuracies = vgg13.train_seed000(model, lambda: iter(train), lambda: iter(test), epochs=2, log=lines.append)
    assert len(accuracies) == 2 and all(0.0 <= a <= 1.0 for a in accuracies)
    assert lines[0].startswith("0 0 loss: ") and lines[-1].startswith("acc: ")


def test_seed004_fit_with_validation_every_second_epoch():
    model = resnet18.build_model()
    (x, y), (xt, yt) = _batches(1, 8)[0], _batches(1, 8, seed=1)[0]
    train = tf.data.Dataset.from_tensor_slices((x, np.eye(100, dtype=np.float32)[y])).batch(4)
    test = tf.data.Dataset.from_tensor_slices((xt, np.eye(100, dtype=np.float32)[yt])).batch(4)
    history, (loss, accuracy) = resnet18.train_seed004(model, train, test, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    assert len(history.history["val_loss"]) == 1  # validation_freq=2: after epoch 2 only
    assert np.isfinite(loss) and 0.0 <= accuracy <= 1.0
    assert model.optimizer.learning_rate.numpy() == np.float32(0.01)


def test_seed002_replay_records_reconstruction_loss_and_figure(tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, str(root / "scripts" / "seed002_autoencoder.py"), "--style", "legacy",
                           "--dataset", "synthetic", "--steps-per-epoch", "3", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "conv_autoencoder_legacy.json").read_text())
    assert summary["batch_size"] == 64 and summary["steps_per_epoch"] == 3
    (epoch,) = summary["epochs"]
    assert 0.0 < epoch["test_reconstruction_loss"] < 1.0 and "test_accuracy" not in epoch
    assert (tmp_path / "conv_autoencoder_legacy_reconstructions.png").stat().st_size > 0
