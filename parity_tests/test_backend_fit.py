"""The fit style on Keras' JAX and torch backends needs no TensorFlow: its step-loss callback
(eager_v2.blocks.StepLosses) lives beside the other backend-neutral parts."""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

FIT_WITHOUT_TENSORFLOW = r"""
import json, sys
sys.modules["tensorflow"] = None  # any import of it fails
import numpy as np, keras
from parity.runners import trainer_class
keras.utils.set_random_seed(0)
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
trainer = trainer_class()(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError(), style="fit")
x, y = np.random.rand(8, 4).astype("float32"), np.random.rand(8, 3).astype("float32")
losses = trainer.train(iter([(x, y)] * 3), 3)
print("RESULT " + json.dumps({"type": type(trainer).__name__, "losses": losses}))
"""


@pytest.mark.parametrize("backend, trainer", [
    pytest.param(name, trainer, marks=pytest.mark.skipif(
        importlib.util.find_spec(name) is None,
        reason=f"{name} is not installed: make test EXTRAS=cpu,test,jax,torch installs it"))
    for name, trainer in (("jax", "JaxTrainer"), ("torch", "TorchTrainer"))])
def test_fit_trains_without_tensorflow(backend, trainer):
    result = subprocess.run([sys.executable, "-c", FIT_WITHOUT_TENSORFLOW], cwd=ROOT, capture_output=True, text=True,
                            timeout=300, env={**os.environ, "KERAS_BACKEND": backend, "OMP_WAIT_POLICY": "PASSIVE"})
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.split("RESULT ", 1)[1])
    assert out["type"] == trainer
    # Three steps on one batch, each loss recovered from fit's running mean: finite and falling.
    assert len(out["losses"]) == 3 and all(a > b > 0 for a, b in zip(out["losses"], out["losses"][1:])), out
