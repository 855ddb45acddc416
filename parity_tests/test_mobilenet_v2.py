"""Seed 003's MobileNetV2: the legacy graph is the Keras application, layer by layer.

A full legacy graph takes about 20 s to build and optimize on two cores (52 batch-norm layers,
each with three tf.cond), so the file builds one for most checks, one without the batch-norm
updates, and graphs without their optimizer where no step is taken.
"""
import math

import numpy as np
import pytest

from parity.runtime import import_tensorflow

tf = import_tensorflow()

from eager_v2 import mobilenet_v2 as eager_mnv2  # noqa: E402
from legacy_graph import layers as legacy_layers  # noqa: E402
from legacy_graph import mobilenet_v2 as legacy_mnv2  # noqa: E402
from parity import checks, registry, tolerances, transfer  # noqa: E402
from parity.runners import GraphRunner, KerasRunner, param_counts  # noqa: E402

SPEC = registry.get("mobilenet_v2")
TOL = tolerances.for_model("mobilenet_v2")
BATCH = 4
STEPS = 10


def batches(seed, n=BATCH, shape=SPEC.input_shape):
    """An endless stream of random [0, 1) images and sparse labels; the same seed, the same stream."""
    rng = np.random.default_rng(seed)
    while True:
        yield rng.random((n, *shape), dtype=np.float32), rng.integers(0, SPEC.num_classes, n).astype(np.int64)


def moved_batch_norm(runner, seed=1):
    """The runner's weights with every batch norm's gamma, beta and moving statistics drawn at
    random, so that inference mode does not normalize by the initial zeros and ones."""
    rng = np.random.default_rng(seed)
    draw = {"gamma": lambda s: rng.uniform(0.5, 1.5, s), "beta": lambda s: rng.normal(0.0, 0.1, s),
            "moving_mean": lambda s: rng.normal(0.0, 0.2, s), "moving_variance": lambda s: rng.uniform(0.5, 2.0, s)}
    values = []
    for name, value in zip(runner.names, runner.get_weights()):
        role = name.rsplit("/", 1)[-1]
        values.append(draw[role](value.shape).astype(np.float32) if role in draw else value)
    return values


@pytest.fixture
def no_optimizer(monkeypatch):
    """Legacy graphs built meanwhile get a no-op train op and no gradients: their variables are
    captured before the optimizer is made, and the optimizer is two thirds of the build."""
    monkeypatch.setattr(legacy_layers, "minimize", lambda optimizer, loss, run_update_ops=True: (tf.no_op(), []))


@pytest.fixture(scope="module")
def pair():
    """Both styles, the Keras application's weights (batch norm moved) copied into the legacy graph."""
    eager = KerasRunner.from_spec(SPEC, seed=0)
    legacy = GraphRunner.from_spec(SPEC, seed=0)
    eager.set_weights(moved_batch_norm(eager))
    transfer.transfer(eager, legacy)
    yield legacy, eager
    legacy.close()


@pytest.fixture(scope="module")
def dead(pair):
    """The trainable variables the training-mode loss does not depend on. Only gradients below
    1e-5 of the largest are tried (of 85 below the default 1e-2): on these batches the live ones
    stay above 3e-4 of it, the dead below 2e-7."""
    x, y = next(batches(5))
    return checks.dead_variables(pair[0], x, y, TOL, candidates_below=1e-5)


def test_parameter_counts_equal_the_anchor(pair):
    anchor = (SPEC.trainable_params, SPEC.non_trainable_params)
    for runner in pair:
        assert runner.param_counts() == anchor
    assert sum(anchor) == 2_264_389 and anchor[1] == 34_112


@pytest.mark.parametrize("size", [32, 96])
def test_parameter_count_does_not_depend_on_the_input_size(size, no_optimizer):
    shape = (size, size, 3)
    model = legacy_mnv2.build(tf.Graph(), image_shape=shape)
    legacy = param_counts([v.shape for v in model.variables], [v.trainable for v in model.variables])
    eager = eager_mnv2.build_model(image_shape=shape)
    assert legacy == param_counts([w.shape for w in eager.weights], [w.trainable for w in eager.weights])
    assert legacy == (SPEC.trainable_params, SPEC.non_trainable_params)
    # The head pools whatever is left: 1x1 at 32, 3x3 at 96.
    assert model.endpoints["out_relu"].shape.as_list() == [None, size // 32, size // 32, 1280]


def test_every_layer_has_an_endpoint_of_the_same_name_and_shape(pair):
    legacy, eager = pair
    legacy_shapes, eager_shapes = legacy.layer_shapes(), eager.layer_shapes()
    keras_names = [layer.name for layer in eager.model.layers[1:]]
    assert list(legacy_shapes) == keras_names == list(eager_shapes)
    assert legacy_shapes == eager_shapes
    assert len(keras_names) == 155
    assert legacy_shapes["block_1_pad"] == (None, 33, 33, 96)
    assert legacy_shapes["block_15_add"] == (None, 2, 2, 160)


def test_canonical_orders_pair_name_by_name(pair):
    legacy, eager = pair
    transfer.check_compatible(eager.names, eager.shapes, legacy.names, legacy.shapes, match_names=True)
    assert legacy.names[:5] == ["Conv1/weights", "bn_Conv1/gamma", "bn_Conv1/beta", "bn_Conv1/moving_mean",
                                "bn_Conv1/moving_variance"]
    assert legacy.names[-2:] == ["predictions/weights", "predictions/biases"]


def first_parting_endpoint(legacy, eager, x, training):
    """(name, max abs diff) of the first endpoint outside the forward tolerance, or None."""
    atol, rtol = TOL.forward_atol.value, TOL.forward_rtol.value
    saved = eager.get_weights()  # a training-mode call moves Keras' moving statistics
    try:
        values_l, values_e = legacy.endpoint_values(x, training), eager.endpoint_values(x, training)
    finally:
        eager.set_weights(saved)
    assert list(values_l) == list(values_e)
    for name, value in values_l.items():
        diff = np.abs(value.astype(np.float64) - values_e[name])
        if not np.all(diff <= atol + rtol * np.abs(values_e[name])):
            return name, float(diff.max())
    return None


@pytest.mark.parametrize("mode", ["inference", "training"])
def test_forward_agrees_layer_by_layer_on_the_applications_weights(pair, mode):
    legacy, eager = pair
    x, _ = next(batches(3))
    assert first_parting_endpoint(legacy, eager, x, training=mode == "training") is None
    result = checks.forward(legacy, eager, x, TOL, (mode,))
    assert result.passed, result.message


def test_inference_mode_uses_the_moved_statistics(pair):
    """With the initial statistics (zeros, ones) inference would normalize nothing."""
    legacy, _ = pair
    x, _ = next(batches(3))
    assert not np.allclose(legacy.forward(x, training=False), legacy.forward(x, training=True), atol=1e-3)


def test_eager_vs_graph_gradients(pair):
    """Pitfall `eager-vs-graph-gradients`: TensorFlow's graph optimizer (its arithmetic stage) rewrites
    the backward pass of a graph, the legacy one and a tf.function alike. Gradients taken eagerly then
    part from both wherever a ReLU6 input lies within rounding of 0: one side passes that element's
    gradient, the other blocks it, and the batch norm behind spreads the difference over the channel."""
    legacy, eager = pair
    x, y = next(batches(5))
    _, graph_l = legacy.loss_and_gradients(x, y, True)
    _, graph_e, _, _ = eager.gradients_and_kinks(x, y, True)  # taken in a tf.function
    variables = [w for w, t in zip(eager.weights, eager.trainable_mask) if t]
    with tf.GradientTape() as tape:
        loss = eager.loss_fn(y, eager.model(x, training=True))
    eager_e = [g.numpy() for g in tape.gradient(loss, variables)]

    def worst(grads):
        return max(np.max(np.abs(a - b)) / np.max(np.abs(a)) for a, b in zip(graph_l, grads) if np.any(a))
    assert worst(eager_e) > 1e-3   # eagerly: up to 10% on this batch
    assert worst(graph_e) == 0.0   # graph against graph: bit for bit


def test_dead_variables_are_the_projections_batch_norm_betas(pair, dead):
    # A projection's beta feeds the next block's expansion (or, through the residual adds,
    # several), whose batch norm subtracts it again.
    legacy, _ = pair
    assert sorted(dead) == sorted(n for n in legacy.names if n.endswith("project_BN/beta"))


def test_gradients_agree_in_training_mode(pair, dead):
    legacy, eager = pair
    x, y = next(batches(5))
    result = checks.gradients(legacy, eager, x, y, TOL, training=True, dead=dead)
    assert result.passed, result.message
    assert result.figures["max_relative_diff"] <= TOL.gradient_rtol.value
    assert result.figures["legacy_loss"] == pytest.approx(result.figures["eager_loss"], abs=TOL.forward_atol.value)


def teacher_forced(legacy, eager, start, steps=STEPS):
    """`steps` matched steps from `start` on the same batches; leaves both runners at `start`."""
    for runner in (legacy, eager):
        runner.set_weights(start)
        runner.reset_optimizer()
    try:
        return checks.teacher_forced_steps(legacy, eager, batches(7), steps)
    finally:
        legacy.set_weights(start)
        eager.set_weights(start)


@pytest.mark.slow
def test_training_steps_match_for_ten_steps(pair, dead):
    legacy, eager = pair
    records = teacher_forced(legacy, eager, legacy.get_weights())
    result = checks.training_steps(legacy.names, legacy.trainable_mask, records, TOL, dead)
    assert result.passed, result.message
    assert result.figures["steps"] == STEPS
    assert result.figures["max_loss_diff"] <= TOL.step_loss_atol.value


@pytest.mark.slow
def test_training_steps_fail_without_the_update_ops(pair):
    # Eager steps: two of them cost less than tracing the Keras step again for a fresh optimizer.
    eager = KerasRunner.from_spec(SPEC, seed=0, style="eager")
    eager.set_weights(pair[1].get_weights())
    legacy = GraphRunner.from_spec(SPEC, seed=0, run_update_ops=False)
    try:
        # Statistics that stay put through one step never move: two steps show it.
        records = teacher_forced(legacy, eager, eager.get_weights(), steps=2)
    finally:
        legacy.close()
    result = checks.training_steps(legacy.names, legacy.trainable_mask, records, TOL)
    assert not result.passed
    assert "legacy non-trainable variables never moved (does the train op depend on UPDATE_OPS?)" in result.message
    statistics = [n for n, t in zip(legacy.names, legacy.trainable_mask) if not t]
    assert len(statistics) == 104
    assert result.figures["legacy_unmoved_statistics"] == statistics
    # Training-mode batch norm normalizes by the batch: the losses themselves still agree.
    assert result.figures["max_loss_diff"] <= TOL.step_loss_atol.value


def test_summed_loss_is_batch_size_times_the_mean(pair, no_optimizer):
    legacy, eager = pair
    x, y = next(batches(9))
    summed = GraphRunner(legacy_mnv2.build(tf.Graph(), reduction="sum"))
    try:
        summed.set_weights(legacy.get_weights())
        loss_sum_l = summed.loss(x, y, training=False)
    finally:
        summed.close()
    loss_mean_l = legacy.loss(x, y, training=False)
    assert loss_sum_l == pytest.approx(BATCH * loss_mean_l, rel=1e-6)
    output = eager.model(x, training=False)
    loss_sum_e, loss_mean_e = (float(eager_mnv2.make_loss(r)(y, output)) for r in ("sum", "mean"))
    assert loss_sum_e == pytest.approx(BATCH * loss_mean_e, rel=1e-6)
    assert loss_mean_e == pytest.approx(loss_mean_l, abs=1e-6)


def test_keras_loss_of_the_softmax_output_reads_the_logits(pair):
    """Where a probability saturates below 1e-7, Keras' from_logits=False loss of the model's
    output is not the clipped -log(1e-7): it reads the logits, as the legacy loss does."""
    legacy, eager = pair
    x, _ = next(batches(11))
    y = np.ones(BATCH, np.int64)
    saved = eager.get_weights()
    try:
        weights = list(saved)
        weights[eager.names.index("predictions/bias")] = np.array([60.0, 0, 0, 0, 0], np.float32)
        eager.set_weights(weights)
        output = eager.model(x, training=False)
        keras_loss = float(eager.loss_fn(y, output))
        clipped = float(eager.loss_fn(y, tf.constant(output.numpy())))  # the same probabilities, logits lost
        legacy.set_weights(weights)
        legacy_loss = legacy.loss(x, y, training=False)
    finally:
        eager.set_weights(saved)
        legacy.set_weights(saved)
    assert clipped == pytest.approx(-math.log(1e-7), rel=1e-3)
    assert keras_loss > 50
    assert legacy_loss == pytest.approx(keras_loss, rel=1e-5)
