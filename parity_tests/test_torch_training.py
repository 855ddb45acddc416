"""The trainer for Keras' torch backend (eager_v2.torch_training), in a process of its own on that
backend, on a small model with batch norm: every style reports the same step losses, gradients()
changes nothing, forced_step applies the gradients it is given and training moves the batch-norm
statistics. The golden-record tests verify the registered models with it (test_golden.py)."""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                                reason="torch is not installed: make test EXTRAS=cpu,test,jax,torch installs it")

PROBE = r"""
import json, sys
import keras
import numpy as np
from eager_v2.torch_training import STYLES, TorchTrainer


def trainer(style):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6, 6, 1))
    x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.Flatten()(x)
    model = keras.Model(inputs, keras.layers.Dense(3, name="dense")(x))
    return TorchTrainer(model, keras.optimizers.Adam(1e-2, epsilon=1e-8),
                        keras.losses.CategoricalCrossentropy(from_logits=True), style)


def values(variables):
    return [np.asarray(v.numpy()).tolist() for v in variables]


rng = np.random.default_rng(0)
batches = [(rng.random((8, 6, 6, 1), dtype=np.float32), np.eye(3, dtype=np.float32)[rng.integers(0, 3, 8)])
           for _ in range(3)]
x, y = batches[0]
out = {"losses": {style: trainer(style).train(iter(batches), 3) for style in STYLES}}

t = trainer("function")
before = values(t.model.variables + t.optimizer.variables)
out["loss"], grads = t.gradients(x, y, training=True)
out["inference_loss"], _ = t.gradients(x, y, training=False)
out["unchanged"] = before == values(t.model.variables + t.optimizer.variables)

stepped = trainer("function")
stepped.train_step(x, y)
forced = trainer("function")
loss, own = forced.forced_step(x, y, grads)
out["forced_loss"], out["forced_grads_equal"] = loss, all(np.array_equal(a, b) for a, b in zip(own, grads))
out["forced_like_a_step"] = values(forced.model.variables) == values(stepped.model.variables)

held = trainer("function")
trainable, moving = values(held.model.trainable_variables), values(held.model.non_trainable_variables)
held.forced_step(x, y, [np.zeros_like(g) for g in grads])
out["zero_gradients_keep_weights"] = trainable == values(held.model.trainable_variables)
out["moving_statistics_moved"] = moving != values(held.model.non_trainable_variables)
json.dump(out, sys.stdout)
"""


@pytest.fixture(scope="module")
def probe():
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "KERAS_BACKEND": "torch", "OMP_WAIT_POLICY": "PASSIVE"})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_every_style_reports_the_loss_before_each_update(probe):
    losses = probe["losses"]
    assert losses["function"] == losses["xla"] == losses["eager"]  # one eager step under three names
    # fit's losses are recovered from running means: exact to about k * 6e-8 (eager_v2.training).
    np.testing.assert_allclose(losses["fit"], losses["eager"], rtol=0, atol=1e-6)
    assert losses["eager"][0] == probe["loss"] and losses["eager"][1] != losses["eager"][0]


def test_gradients_change_nothing(probe):
    """Weights, batch-norm statistics, seeds and optimizer slots are as before, in training mode too."""
    assert probe["unchanged"]
    assert probe["inference_loss"] != probe["loss"]  # batch statistics in training, moving ones in inference


def test_forced_step_applies_the_given_gradients(probe):
    assert probe["forced_loss"] == probe["loss"] and probe["forced_grads_equal"]
    assert probe["forced_like_a_step"]  # its own gradients given back: one training step
    # Adam's first update of a zero gradient is zero; the forward pass still moves the statistics.
    assert probe["zero_gradients_keep_weights"] and probe["moving_statistics_moved"]
