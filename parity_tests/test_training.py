"""Training in every style: one-step smoke tests, the same losses in every Keras path, and the
function style's blocks of steps. The document's workflow is in test_documents.py."""
import numpy as np
import pytest

from eager_v2 import mnist_cnn as eager_mnist
from eager_v2 import optimizers
from eager_v2.training import STYLES, Trainer
from parity import registry
from parity.runners import GraphRunner, KerasRunner
from parity.training_data import prepare_data

SPEC = registry.get("mnist_cnn")


@pytest.fixture(scope="module")
def data():
    return prepare_data(SPEC, "synthetic")


@pytest.mark.parametrize("style", STYLES)
def test_one_step_on_eight_examples_moves_every_weight(style, data):
    runner = KerasRunner.from_spec(SPEC, seed=0, style=style)
    before = runner.get_weights()
    losses = runner.train(data.batches(8, 0), 1)
    assert len(losses) == 1 and np.isfinite(losses[0]) and losses[0] > 0
    for name, a, b in zip(runner.names, before, runner.get_weights()):
        assert not np.array_equal(a, b), f"{name} did not move in style {style}"


def test_every_keras_style_gives_the_same_step_losses(data):
    """eager, tf.function, XLA and Model.fit are four drivers of one computation."""
    start = GraphRunner.from_spec(SPEC, seed=0).get_weights()
    curves = {}
    for style in STYLES:
        runner = KerasRunner.from_spec(SPEC, seed=0, style=style)
        runner.set_weights(start)
        curves[style] = np.array(runner.train(data.batches(16, 0), 5))
    for style in ("function", "xla", "fit"):
        # fit's losses are recovered from running means: exact to about k * 6e-8 (eager_v2.training).
        np.testing.assert_allclose(curves[style], curves["eager"], atol=1e-5, err_msg=style)


def test_a_partial_batch_traces_the_step_once_more_not_once_per_size(data):
    runner = KerasRunner.from_spec(SPEC, seed=0, style="function")
    x, y = next(data.batches(16, 0))
    for size in (16, 16, 4, 16, 12, 7):
        runner.trainer.train_step(x[:size], y[:size])
    assert runner.trainer._compiled_step.experimental_get_tracing_count() == 2


def test_unknown_training_style_is_refused():
    model = eager_mnist.build_model()
    with pytest.raises(ValueError, match="unknown training style 'graph'; choose one of eager, function, xla, fit"):
        Trainer(model, optimizers.adam(1e-4, 1e-8), eager_mnist.make_loss(), "graph")


def _stream(batches):
    yield from batches


def test_the_function_style_trains_in_blocks_bit_for_bit_with_one_call_per_step(data, monkeypatch):
    start = GraphRunner.from_spec(SPEC, seed=0).get_weights()
    x, y = next(data.batches(8, 0))
    # Nine full batches, a partial one (it stands alone: another shape), then two more full ones.
    stream = [(x + 0.01 * k, y) for k in range(9)] + [(x[:5], y[:5])] + [(x - 0.01 * k, y) for k in range(2)]
    results = {}
    for per_call in (1, 4):
        runner = KerasRunner.from_spec(SPEC, seed=0, style="function")
        runner.set_weights(start)
        runner.trainer.steps_per_call = per_call
        calls, seen = [], []
        train_steps = runner.trainer.train_steps
        monkeypatch.setattr(runner.trainer, "train_steps",
                            lambda xs, ys, f=train_steps: calls.append(len(xs)) or f(xs, ys))
        losses = runner.train(_stream(stream), len(stream), lambda i, loss: seen.append((i, loss)))
        assert seen == list(enumerate(losses)) and runner.step == len(stream)
        results[per_call] = losses, runner.get_weights(), calls
    # Blocks 0-3, 4-7 and 8-11, the last cut by shape into 8 | 9 (partial) | 10-11; lone steps take train_step.
    assert results[1][2] == [] and results[4][2] == [4, 4, 2]
    assert results[4][0] == results[1][0]
    for name, a, b in zip(runner.names, results[1][1], results[4][1]):
        np.testing.assert_array_equal(a, b, err_msg=name)


def test_a_nan_inside_a_block_is_named_at_its_own_step(data):
    from parity.runners import Diverged

    x, y = next(data.batches(8, 0))
    poisoned = y.copy()
    poisoned[0, 0] = np.nan
    stream = [(x, y), (x, y), (x, poisoned), (x, y), (x, y)]
    runner = KerasRunner.from_spec(SPEC, seed=0, style="function")
    runner.trainer.steps_per_call = 5
    seen = []
    with pytest.raises(Diverged) as caught:
        runner.train(_stream(stream), len(stream), lambda i, loss: seen.append(loss))
    assert caught.value.step == 3 and caught.value.last_finite == (2, seen[-1])
    assert len(seen) == 2 and all(np.isfinite(seen))
