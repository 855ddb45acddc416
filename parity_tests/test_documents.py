"""The documents' own training code, driven by parity.replay, runs: seed 001's workflow (optimize,
test report, plots, Saver) in both trees, seed 000's loop, seed 002's fit, seed 003's loop, seed 004's
fit, and the seed 002 replay script."""
import math

import numpy as np
import pytest

from legacy_graph import input_data
from parity import registry, replay
from parity.runtime import import_tensorflow

tf = import_tensorflow()
import keras  # noqa: E402

from eager_v2 import conv_autoencoder, mobilenet_v2, resnet18, vgg13  # noqa: E402


def _batches(n, size, classes=100, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.uniform(size=(size, 32, 32, 3)).astype(np.float32), rng.integers(0, classes, size))
            for _ in range(n)]


def test_seed000_loop_reports_test_accuracy_each_epoch():
    model = vgg13.build_model()
    train, test = _batches(2, 4), _batches(1, 6, seed=1)
    lines = []
    accuracies = replay.train_seed000(model, lambda: iter(train), lambda: iter(test), epochs=2, log=lines.append)
    assert len(accuracies) == 2 and all(0.0 <= a <= 1.0 for a in accuracies)
    assert lines[0].startswith("0 0 loss: ") and lines[-1].startswith("acc: ")


def test_seed004_fit_with_validation_every_second_epoch():
    model = resnet18.build_model()
    (x, y), (xt, yt) = _batches(1, 8)[0], _batches(1, 8, seed=1)[0]
    train = tf.data.Dataset.from_tensor_slices((x, np.eye(100, dtype=np.float32)[y])).batch(4)
    test = tf.data.Dataset.from_tensor_slices((xt, np.eye(100, dtype=np.float32)[yt])).batch(4)
    history, (loss, accuracy) = replay.train_seed004(model, train, test, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    assert len(history.history["val_loss"]) == 1  # validation_freq=2: after epoch 2 only
    assert np.isfinite(loss) and 0.0 <= accuracy <= 1.0
    assert model.optimizer.learning_rate.numpy() == np.float32(registry.get("resnet18").recipe.learning_rate)
    assert model.optimizer.epsilon == 1e-8


def test_seed002_fit_with_early_stopping_on_the_loss():
    model = conv_autoencoder.build_model()
    images = np.random.default_rng(2).uniform(size=(40, 28, 28, 1)).astype(np.float32)
    history = replay.train_seed002(model, images, epochs=2, batch_size=8, verbose=0)
    assert len(history.history["loss"]) == 2 and len(history.history["val_loss"]) == 2
    assert model.optimizer.epsilon == 1e-8


def test_seed003_loop_logs_every_steps_loss():
    keras.utils.set_random_seed(0)
    model = mobilenet_v2.build_model()
    rng = np.random.default_rng(13)
    batches = ((rng.random((4, 64, 64, 3), dtype=np.float32), rng.integers(0, 5, 4)) for _ in range(2))
    lines = []
    losses = replay.train_seed003(model, batches, 2, log=lines.append)
    assert len(losses) == 2 and all(math.isfinite(loss) for loss in losses)
    assert lines == [f"loss: {loss}" for loss in losses]


@pytest.fixture(scope="module")
def seed_data(tmp_path_factory):
    from parity_tests.conftest import write_idx_set

    folder = tmp_path_factory.mktemp("idx")
    write_idx_set(folder, n_train=300, n_test=300)
    return folder


@pytest.mark.parametrize("workflow", [replay.GraphSeed001, replay.KerasSeed001])
def test_seed001_workflow_reports_plots_and_saves(workflow, seed_data, tmp_path):
    data = input_data.read_data_sets(seed_data, one_hot=True, validation_size=50, seed=0)
    lines = []
    with workflow(data, seed=0) as run:
        seconds = run.optimize(101, log=lines.append)
        assert run.total_iterations == 101 and seconds > 0
        assert lines[0].startswith("Optimization Iteration:      1, Training")
        assert lines[1].startswith("Optimization Iteration:    101, Training")
        assert lines[-1].startswith("Time usage: 0:00:")
        result = run.print_test_accuracy(show_example_errors=True, show_confusion_matrix=True,
                                         out_dir=tmp_path, log=lines.append)
        assert any(line.startswith("Accuracy on Test-Set:") and "/ 300)" in line for line in lines)
        assert result.confusion.sum() == 300
        assert (tmp_path / "example_errors.png").stat().st_size > 1000
        assert (tmp_path / "confusion_matrix.png").stat().st_size > 1000
        assert run.conv_weights("conv1").shape == (5, 5, 1, 16)
        assert run.layer_output("conv2_relu", data.test.images[0]).shape == (7, 7, 36)
        before = run.predict_cls(data.test.images)
        saved = run.save(tmp_path / "model")
        run.optimize(20, log=lines.append)
        run.restore(saved)
        np.testing.assert_array_equal(run.predict_cls(data.test.images), before)


def test_seed001_takes_the_registered_recipe(seed_data):
    data = input_data.read_data_sets(seed_data, one_hot=True, validation_size=50)
    recipe = registry.get("mnist_cnn").recipe
    with replay.KerasSeed001(data) as run:
        assert run.train_batch_size == recipe.batch_size
        assert float(run.trainer.optimizer.learning_rate) == pytest.approx(recipe.learning_rate)
        assert run.trainer.optimizer.epsilon == recipe.epsilon


def test_legacy_sessions_are_closed(seed_data):
    data = input_data.read_data_sets(seed_data, one_hot=True, validation_size=50)
    with replay.GraphSeed001(data) as run:
        session = run.session
    assert session._closed


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
