"""`tf-parity` as a user meets it: output, files, exit codes, one-line errors."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from parity import cli

# 60 steps take the synthetic set well past twice chance, so the accuracy check is informative.
FAST = ["--dataset", "synthetic", "--steps", "12", "--accuracy-steps", "60", "--batch-size", "16"]


def run_cli(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_models_lists_the_anchor(capsys):
    code, out, _ = run_cli(capsys, "models")
    assert code == 0
    assert "mnist_cnn" in out and "242,062 (242,062 + 0)" in out


def test_data_says_where_each_set_is(capsys, isolated_data):
    code, out, _ = run_cli(capsys, "data")
    assert code == 0
    assert "digits           found" in out and "apt-get install dataset-fashion-mnist" in out
    assert "  mnist_cnn        digits (a stand-in for mnist)" in out
    assert ("  vgg13            digits (a stand-in for cifar100: zero-padded 28x28 -> 32x32, "
            "grey repeated to 3 channels)") in out
    assert "  conv_autoencoder digits (a stand-in for mnist)\n" in out  # keeps every class
    assert "  mobilenet_v2     digits (a stand-in for flowers: its first 5 of 10 classes" in out


def test_parity_writes_the_report_and_the_curves(capsys, tmp_path):
    path = tmp_path / "out" / "report.json"
    code, out, _ = run_cli(capsys, "parity", "--model", "mnist_cnn", *FAST, "--json", str(path))
    assert code == 0, out
    report = json.loads(path.read_text())
    assert {"model", "dataset", "device", "tensorflow", "styles", "checks", "passed"} <= set(report)
    assert report["passed"] is True and report["dataset"] == "synthetic"
    assert report["settings"]["steps"] == int(FAST[FAST.index("--steps") + 1])
    assert [c["name"] for c in report["checks"]] == [
        "parameters", "layer_shapes", "forward", "gradients", "training_steps", "accuracy"]
    for style in ("legacy", "eager"):
        entry = report["styles"][style]
        assert entry["trainable_params"] == 242_062 and entry["non_trainable_params"] == 0
        assert entry["layer_shapes"]["fc2"] == [None, 10]
    assert (tmp_path / "out" / "report_loss.png").stat().st_size > 5000
    assert "6 of 6 checks passed" in out


def test_parity_of_the_autoencoder_checks_reconstruction(capsys, tmp_path):
    path = tmp_path / "cae.json"
    code, out, _ = run_cli(capsys, "parity", "--model", "conv_autoencoder", *FAST, "--json", str(path))
    assert code == 0, out
    report = json.loads(path.read_text())
    assert report["checks"][-1]["name"] == "reconstruction" and report["passed"] is True
    assert "test_reconstruction_loss" in report["styles"]["legacy"]
    assert (tmp_path / "cae_reconstructions.png").stat().st_size > 5000


def test_parity_exits_1_when_a_check_fails(capsys, tmp_path, monkeypatch):
    from parity import registry

    spec = registry.get("mnist_cnn")
    monkeypatch.setitem(registry.MODELS, "mnist_cnn", registry.ModelSpec(**{**spec.__dict__,
                                                                            "trainable_params": 242_000}))
    path = tmp_path / "r.json"
    code, out, _ = run_cli(capsys, "parity", "--model", "mnist_cnn", *FAST, "--json", str(path))
    assert code == 1
    report = json.loads(path.read_text())
    assert report["passed"] is False and report["checks"][0]["passed"] is False
    assert "FAIL  parameters" in out


@pytest.mark.parametrize("argv, message", [
    (["parity", "--model", "lenet"], "unknown model 'lenet'; choose one of: mnist_cnn"),
    (["parity", "--model", "mnist_cnn", "--dataset", "cifar"], "unknown dataset 'cifar'"),
    (["parity", "--model", "mnist_cnn", "--eager-style", "graph"], "unknown style 'graph'"),
    (["train", "--model", "mnist_cnn", "--style", "keras"], "unknown style 'keras'"),
    (["parity", "--model", "mnist_cnn", "--steps", "0"], "--steps must be at least 1, got 0"),
    (["parity"], "give --model (one of: mnist_cnn, vgg13, resnet18, conv_autoencoder, mobilenet_v2) or your own pair"),
    (["train", "--model", "mnist_cnn", "--style", "fit", "--save", "w.ckpt"], "must end in .weights.h5"),
    (["convert", "--model", "mnist_cnn", "--checkpoint", "x", "--out", "y.h5"], "--out must end in .weights.h5"),
])
def test_usage_errors_are_one_line_and_exit_2(capsys, argv, message):
    code, out, err = run_cli(capsys, *argv)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("tf-parity: error: ") and message in err


def test_missing_data_is_exit_2_and_nothing_is_written(capsys, tmp_path, isolated_data):
    path = tmp_path / "r.json"
    code, _, err = run_cli(capsys, "parity", "--model", "mnist_cnn", "--dataset", "mnist", "--json", str(path))
    assert code == 2 and "MNIST not found" in err and err.count("\n") == 1
    assert not path.exists() and not list(tmp_path.glob("*.png"))


def test_unwritable_report_path_fails_before_the_run(capsys, tmp_path):
    code, _, err = run_cli(capsys, "parity", "--model", "mnist_cnn", "--json", str(tmp_path))
    assert code == 2 and "is a folder" in err


def test_train_then_convert_a_legacy_checkpoint(capsys, tmp_path):
    code, out, _ = run_cli(capsys, "train", "--model", "mnist_cnn", "--style", "legacy", "--dataset", "synthetic",
                           "--steps", "5", "--batch-size", "8", "--out", str(tmp_path),
                           "--save", str(tmp_path / "ckpt" / "model"))
    assert code == 0, out
    report = json.loads((tmp_path / "train_mnist_cnn_legacy.json").read_text())
    assert report["steps"] == 5 and 0 <= report["test_accuracy"] <= 100
    assert (tmp_path / "train_mnist_cnn_legacy_loss.png").exists()
    weights = tmp_path / "converted.weights.h5"
    code, out, _ = run_cli(capsys, "convert", "--model", "mnist_cnn", "--checkpoint", str(tmp_path / "ckpt"),
                           "--out", str(weights))
    assert code == 0, out
    assert "converted 8 variables" in out and weights.exists()

    from parity import registry, transfer
    from parity.runners import GraphRunner, KerasRunner

    spec = registry.get("mnist_cnn")
    legacy = GraphRunner.from_spec(spec)
    legacy.set_weights(transfer.read_checkpoint(tmp_path / "ckpt" / "model", legacy.names, legacy.shapes))
    eager = KerasRunner.from_spec(spec, seed=5)
    eager.model.load_weights(str(weights))
    x = np.random.default_rng(0).uniform(size=(4, 28, 28, 1)).astype(np.float32)
    np.testing.assert_allclose(eager.forward(x), legacy.forward(x), atol=1e-5)
    legacy.close()


def test_convert_refuses_a_checkpoint_that_does_not_fit(capsys, tmp_path):
    from parity.runtime import import_tensorflow

    tf = import_tensorflow()
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.Variable(tf.zeros([3, 3, 1, 8]), name="conv1/weights")
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            saver.save(session, str(tmp_path / "other"))
    out_file = tmp_path / "x.weights.h5"
    code, _, err = run_cli(capsys, "convert", "--model", "mnist_cnn", "--checkpoint", str(tmp_path / "other"),
                           "--out", str(out_file))
    assert code == 2 and err.count("\n") == 1
    assert "conv1/weights has shape (3, 3, 1, 8), the model expects (5, 5, 1, 16)" in err
    assert not out_file.exists()
    code, _, err = run_cli(capsys, "convert", "--model", "mnist_cnn", "--checkpoint", str(tmp_path / "none"),
                           "--out", str(out_file))
    assert code == 2 and "no checkpoint there" in err


def test_console_script_prints_no_traceback(tmp_path):
    env = {**os.environ, "KERAS_HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "parity.cli", "parity", "--model", "mnist_cnn",
                             "--dataset", "mnist", "--data-dir", str(tmp_path)],
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("tf-parity: error: MNIST not found")
