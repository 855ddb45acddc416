"""The checks pass on the true port and fail, naming the place, on a broken one."""
import numpy as np
import pytest

from parity import checks, registry, suite, tolerances, transfer
from parity.runners import GraphRunner, KerasRunner

TOL = tolerances.DEFAULT


@pytest.fixture(scope="module")
def mnist():
    spec = registry.get("mnist_cnn")
    data = suite.prepare_data(spec, "synthetic")
    legacy = GraphRunner.from_spec(spec, seed=0)
    eager = KerasRunner.from_spec(spec, seed=0)
    transfer.transfer(legacy, eager)
    yield spec, data, legacy, eager
    legacy.close()


def _batch(data, n=16):
    return data.x_train[:n], data.encode(data.y_train[:n])


def test_forward_and_gradients_agree_on_transferred_weights(mnist):
    _, data, legacy, eager = mnist
    x, y = _batch(data)
    forward = checks.forward(legacy, eager, x, TOL)
    assert forward.passed, forward.message
    assert forward.figures["inference_max_abs_diff"] <= TOL.forward_atol.value
    grads = checks.gradients(legacy, eager, x, y, TOL)
    assert grads.passed, grads.message
    assert grads.figures["max_relative_diff"] <= TOL.gradient_rtol.value


def test_forward_failure_names_the_first_parting_layer(mnist):
    _, data, legacy, eager = mnist
    saved = eager.get_weights()
    try:
        broken = list(saved)
        i = eager.names.index("conv2/bias")
        broken[i] = broken[i] + 0.01
        eager.set_weights(broken)
        result = checks.forward(legacy, eager, _batch(data)[0], TOL)
    finally:
        eager.set_weights(saved)
    assert not result.passed
    assert result.figures["inference_first_parting_layer"].startswith("conv2 ")


def test_gradient_failure_names_the_variable(mnist):
    _, data, legacy, eager = mnist
    saved = eager.get_weights()
    try:
        broken = list(saved)
        i = eager.names.index("fc1/kernel")
        broken[i] = broken[i] * 1.01
        eager.set_weights(broken)
        result = checks.gradients(legacy, eager, *_batch(data), TOL)
    finally:
        eager.set_weights(saved)
    assert not result.passed
    assert "gradients first part at" in result.message


def test_parameter_check_compares_with_the_anchor(mnist):
    spec, _, legacy, eager = mnist
    assert checks.parameters(spec, legacy, eager).passed
    wrong = registry.ModelSpec(**{**spec.__dict__, "trainable_params": 1})
    result = checks.parameters(wrong, legacy, eager)
    assert not result.passed and "the anchor is 1 + 0" in result.message


def test_layer_shape_check_names_the_layer():
    class Fake:
        def __init__(self, shapes):
            self._shapes = shapes

        def layer_shapes(self):
            return self._shapes

    a = Fake({"conv1": (None, 28, 28, 16), "pool": (None, 14, 14, 16)})
    b = Fake({"conv1": (None, 28, 28, 16), "pool": (None, 15, 15, 16)})
    result = checks.layer_shapes(a, b)
    assert not result.passed and result.message == "pool: legacy (None, 14, 14, 16), eager (None, 15, 15, 16)"
    c = Fake({"conv1": (None, 28, 28, 16)})
    assert checks.layer_shapes(a, c).message == "pool exists only in the legacy style"


def test_transfer_names_the_first_mismatch():
    with pytest.raises(transfer.TransferError, match=r"weight 1: conv1/biases has shape \(16,\) but conv1/bias "
                                                     r"has shape \(32,\)"):
        transfer.check_compatible(["conv1/weights", "conv1/biases"], [(5, 5, 1, 16), (16,)],
                                  ["conv1/kernel", "conv1/bias"], [(5, 5, 1, 16), (32,)])
    with pytest.raises(transfer.TransferError, match="conv2/weights would be copied into conv1/kernel"):
        transfer.check_compatible(["conv2/weights"], [(3, 3)], ["conv1/kernel"], [(3, 3)])
    with pytest.raises(transfer.TransferError, match="the first without a partner is fc/bias in the destination"):
        transfer.check_compatible(["fc/weights"], [(2, 2)], ["fc/kernel", "fc/bias"], [(2, 2), (2,)])


def test_training_steps_and_accuracy_pass_when_matched(mnist):
    spec, data, legacy, eager = mnist
    start = legacy.get_weights()
    runs = {}
    for runner in (legacy, eager):
        runner.set_weights(start)
        runner.reset_optimizer()
        runs[runner.style] = suite.train_in_segments(runner, data.batches(32, 0), [10, 30], lambda i, l: None)
    (ll, sl), (le, se) = runs["legacy"], runs["function"]
    result = checks.training_steps(legacy.names, ll, le, sl[0], se[0], sl[1], se[1], start, TOL)
    assert result.passed, result.message
    assert result.figures["early_max_loss_diff"] <= TOL.early_loss_atol.value
    acc = checks.accuracy(suite.accuracy_percent(legacy, data), suite.accuracy_percent(eager, data), 30, TOL)
    assert acc.passed, acc.message
    legacy.set_weights(start)
    eager.set_weights(start)


def test_training_steps_names_the_step_and_variable():
    names = ["a/kernel", "b/kernel"]
    w = [np.zeros(3, np.float32), np.zeros(2, np.float32)]
    moved = [np.zeros(3, np.float32), np.full(2, 1e-3, np.float32)]
    losses = [1.0] * 20
    other = [1.0] * 4 + [1.001] + [1.0] * 15
    result = checks.training_steps(names, losses, other, w, moved, w, w, w, TOL)
    assert not result.passed
    assert result.message.startswith("step 5: losses 1 and 1.001 part by 0.001 > 1e-05")
    assert "after 10 steps b/kernel parts by 0.001" in result.message


def test_every_tolerance_has_a_reason():
    for name, value, why in TOL.table():
        assert value > 0 and len(why) > 40, name


def test_layer_paths_match_by_suffix():
    assert transfer.same_layer_and_role("fc/weights", "sequential/fc/kernel")
    assert transfer.same_layer_and_role("layer1/block0/conv1/weights:0", "resnet/layer1/block0/conv1/kernel")
    assert not transfer.same_layer_and_role("conv1/weights", "block1/conv2/kernel")
    assert not transfer.same_layer_and_role("conv1/weights", "conv1/bias")
