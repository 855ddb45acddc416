"""The checks pass on the true port and fail, naming the place, on a broken one."""
import dataclasses
import re
import time
import types

import numpy as np
import pytest

from parity import checks, free_runs, metrics, registry, tolerances, transfer
from parity.runners import GraphRunner, KerasRunner
from parity.training_data import prepare_data

TOL = tolerances.DEFAULT


@pytest.fixture(scope="module")
def mnist():
    spec = registry.get("mnist_cnn")
    data = prepare_data(spec, "synthetic")
    legacy = GraphRunner.from_spec(spec, seed=0)
    eager = KerasRunner.from_spec(spec, seed=0)
    transfer.transfer(legacy, eager)
    yield spec, data, legacy, eager
    legacy.close()


def _batch(data, n=16):
    return data.x_train[:n], data.targets(data.x_train[:n], data.y_train[:n])


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
    assert result.message.startswith("gradients first part at")
    assert "the forward passes already part at fc1/Relu" in result.message  # not put down to a kink


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
    records = checks.teacher_forced_steps(legacy, eager, data.batches(32, 0), 12)
    result = checks.training_steps(legacy.names, legacy.trainable_mask, records, TOL)
    assert result.passed, result.message
    assert result.figures["max_loss_diff"] <= TOL.step_loss_atol.value
    assert result.figures["max_weight_diff_to_tolerance"] <= 1.0
    assert records[-1].loss_l < records[0].loss_l  # it trained
    for runner in (legacy, eager):
        runner.set_weights(start)
        runner.reset_optimizer()
        runner.train(data.batches(32, 0), 60)  # after 20 steps both score 21%, near chance
    acc_l, acc_e = metrics.accuracy_percent(legacy, data), metrics.accuracy_percent(eager, data)
    # The share of test images whose largest output is their class, read here from the outputs.
    assert acc_l == 100.0 * np.mean(np.argmax(legacy.forward(data.x_test), axis=1) == data.y_test)
    acc = checks.accuracy(acc_l, acc_e, 60, TOL, chance=metrics.chance_percent(data.y_test))
    assert acc.passed, acc.message  # and informative: both at least twice chance
    assert acc.figures["diff_points"] == abs(acc_l - acc_e) <= TOL.accuracy_points.value
    legacy.set_weights(start)
    eager.set_weights(start)


def test_teacher_forcing_keeps_the_styles_on_one_trajectory(mnist):
    """After every step the eager model is put back on the legacy's weights, so the two cannot drift."""
    _, data, legacy, eager = mnist
    start = legacy.get_weights()
    checks.teacher_forced_steps(legacy, eager, data.batches(16, 1), 3)
    for a, b in zip(legacy.get_weights(), eager.get_weights()):
        np.testing.assert_array_equal(a, b)
    legacy.set_weights(start)
    eager.set_weights(start)


def _record(loss_l, loss_e, weight_diffs, moved_l=True, moved_e=True):
    return checks.StepRecord(loss_l, loss_e, grads=[(0.0, 1.0, 1.0)],
                             weights=[(d, 1.0, moved_l, moved_e) for d in weight_diffs])


def test_training_steps_names_the_step_and_variable():
    names, mask = ["a/kernel", "b/moving_mean"], [True, False]
    records = [_record(1.0, 1.0, [0.0, 0.0])] * 4 + [_record(1.0, 1.001, [0.0, 1e-3])]
    result = checks.training_steps(names, mask, records, TOL)
    assert not result.passed
    assert "step 5: losses 1 and 1.001 part by 0.001 > 1e-05" in result.message
    assert "step 5: after the update b/moving_mean parts by 0.001 > 1.1e-05" in result.message


def test_training_steps_names_statistics_that_never_moved():
    names, mask = ["a/kernel", "bn/moving_mean", "bn/moving_variance"], [True, False, False]
    records = [_record(1.0, 1.0, [0.0, 0.0, 0.0], moved_l=False)] * 3
    result = checks.training_steps(names, mask, records, TOL)
    assert not result.passed
    assert result.figures["legacy_unmoved_statistics"] == ["bn/moving_mean", "bn/moving_variance"]
    assert "2 legacy non-trainable variables never moved (does the train op depend on UPDATE_OPS?)" \
        in result.message


# What each tolerance bounds, as its reason must name it.
BOUNDS = {
    "forward_atol": "compares inference", "forward_rtol": "relative part of the same comparison",
    "gradient_rtol": "max |g_legacy - g_eager| / max |g_legacy|", "kink_input_rtol": "relu / max-pool input",
    "dead_loss_atol": "changes the training-mode loss by no more than this",
    "step_loss_atol": "loss of every teacher-forced step",
    "step_weights_atol": "every weight after every teacher-forced update",
    "step_weights_rtol": "relative part of the same bound", "accuracy_points": "test accuracy in percentage points",
    "informative_accuracy": "times chance", "reconstruction_atol": "test reconstruction loss",
}


def test_every_tolerance_names_what_it_bounds_and_where_its_value_comes_from():
    assert [f.name for f in dataclasses.fields(TOL)] == list(BOUNDS)  # a new tolerance needs its entry
    for name, bound in BOUNDS.items():
        tolerance = getattr(TOL, name)
        why = tolerance.why.lower()
        assert tolerance.value > 0 and bound in why, name
        if bound.startswith("relative part"):
            continue  # the absolute part's reason says where the bound comes from
        # Its source: a figure measured on a model here, TensorFlow's own guide, or the float32 ulps or
        # test images it counts.
        sources = re.findall(r"(mnist_cnn|resnet18|mobilenet_v2|conv_autoencoder|tensorflow's (?:migration )?guide"
                             r"|an ulp or two|one point is 100 images)", why)
        assert sources, f"{name}: {tolerance.why}"
    overridden = 0
    for spec in registry.MODELS.values():
        for name, tolerance in spec.tolerances:
            # Each exception is measured: its reason quotes the spread it is set from.
            assert hasattr(TOL, name) and re.search(r"\d+\.\d+%", tolerance.why), (spec.name, name)
            assert getattr(tolerances.for_model(spec.name), name) == tolerance != getattr(TOL, name)
            overridden += 1
    assert overridden == 3


def test_layer_paths_match_by_suffix():
    assert transfer.same_layer_and_role("fc/weights", "sequential/fc/kernel")
    assert transfer.same_layer_and_role("layer1/block0/conv1/weights:0", "resnet/layer1/block0/conv1/kernel")
    assert not transfer.same_layer_and_role("conv1/weights", "block1/conv2/kernel")
    assert not transfer.same_layer_and_role("conv1/weights", "conv1/bias")


class _StepCounter:
    """A stand-in runner whose prediction for test image i (its pixel value) is right only at the
    checkpoint that free_run should score it with."""

    def __init__(self, expected_step, clock):
        self.step, self.expected_step, self.clock = 0, expected_step, clock

    def train(self, batches, num_steps, on_step=None):
        losses = []
        for i in range(num_steps):
            self.clock[0] += 0.001  # a step takes a millisecond
            self.step += 1
            losses.append(float(self.step))
            if on_step:
                on_step(i, losses[-1])
        return losses

    def predict(self, x, batch_statistics=False):
        self.clock[0] += 1.0  # scoring takes a second, which is no training time
        right = np.array([self.step == self.expected_step(int(i)) for i in x[:, 0]])
        return np.stack([~right, right], axis=1).astype(np.float32)


@pytest.mark.parametrize("steps, expected", [(300, [260, 270, 280, 290, 300]), (25, [5, 15, 25])])
def test_free_run_scores_each_share_of_the_test_set_at_its_checkpoint(monkeypatch, steps, expected):
    clock = [0.0]
    monkeypatch.setattr(time, "perf_counter", lambda: clock[0])
    spec = types.SimpleNamespace(task="classification", accuracy_checkpoints=5, accuracy_batch_statistics=False)
    count = len(expected)
    data = types.SimpleNamespace(x_test=np.arange(100, dtype=np.float32)[:, None], y_test=np.ones(100, int))
    runner = _StepCounter(lambda i: expected[i % count], clock)
    seen = []
    losses, seconds, accuracy, checkpoints = free_runs.free_run(spec, runner, data, None, steps,
                                                                lambda i, loss: seen.append(i))
    assert checkpoints == expected
    assert accuracy == 100.0
    assert losses == [float(s) for s in range(1, steps + 1)] and seen == list(range(steps))
    assert seconds == pytest.approx(0.001 * steps) and clock[0] == pytest.approx(seconds + count)

    last_only = _StepCounter(lambda i: expected[i % count], clock)
    spec.accuracy_checkpoints = 1
    *_, accuracy, checkpoints = free_runs.free_run(spec, last_only, data, None, steps)
    assert checkpoints == [steps] and accuracy == pytest.approx(100.0 * len(range(count - 1, 100, count)) / 100)


def test_accuracy_traces_are_drawn(tmp_path):
    from matplotlib import colors, image

    from parity import plots

    path = plots.plot_accuracy_traces(tmp_path / "trace.png", {"legacy": {250: 74.4, 300: 40.5},
                                                               "function": {250: 70.1, 300: 65.0}},
                                      {"function": {300: 73.2}}, "resnet18")
    assert path.read_bytes().startswith(b"\x89PNG") and not list(tmp_path.glob("*.tmp*"))
    pixels = image.imread(path)[..., :3]
    height, width = pixels.shape[:2]
    # 8 x 4 inches at 100 dpi, cropped to the drawing: about 690 x 370 pixels.
    assert 600 <= width <= 900 and 300 <= height <= 450 and width > 1.5 * height
    # Each style's line is drawn in its own colour of the cycle (legacy C0, function C1) on white.
    for colour in ("C0", "C1"):
        near = np.abs(pixels - np.array(colors.to_rgb(colour))).max(axis=-1) < 0.05
        assert near.sum() > 200, colour
    assert (pixels.min(axis=-1) > 0.95).mean() > 0.5


def test_accuracies_that_part_after_agreeing_early_point_to_the_recipes_spread():
    chaotic = checks.accuracy(70.24, 73.02, 200, TOL, {"free_running_loss_diff_first_10_steps": 1.9e-6})
    assert not chaotic.passed and "part by 2.78 points, yet their first 10 free-running losses agree" in chaotic.message
    assert "accuracy_points" in chaotic.message
    apart = checks.accuracy(70.24, 73.02, 200, TOL, {"free_running_loss_diff_first_10_steps": 0.3})
    assert not apart.passed and apart.message == "accuracies 70.24% and 73.02% part by 2.78 points"
