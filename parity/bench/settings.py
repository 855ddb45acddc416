"""What `tf-parity bench` runs: its styles, phases and baseline, each model's setting, the batch."""
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from parity import registry

# Their order is the table's. The jax_ styles run on Keras' JAX backend in a process of their own
# (parity.bench.jax_styles); the others in this one, on the TensorFlow backend.
STYLES = ("legacy_feed_dict", "legacy_tf_data", "eager", "function", "function_multi", "xla", "xla_multi", "fit",
          "fit_multi", "jax_function", "jax_scan")
JAX_STYLES = ("jax_function", "jax_scan")
# Training steps looped inside one XLA computation: on a CPU, many times slower than one step per
# call (parity.bench.styles says why), so a default run on a CPU leaves them out.
LOOP_COMPILED = ("xla_multi", "jax_scan")
PHASES = ("infer", "train", "loop")
BASELINE = "legacy_feed_dict"
# Steps per call of the multi-step styles: with mnist_cnn's 15 ms step, half a millisecond of
# per-call cost shrinks to 0.05 ms a step; the default 10-step blocks (100 steps in ROUNDS) are
# one call each.
MULTI_STEPS = 10
# The loop phase's batches are drawn from this many synthetic batches' worth of examples.
LOOP_POOL = 8

Setting = registry.Bench  # each model's default is its ModelSpec.bench


def default_styles(on_gpu=False):
    """STYLES less the JAX styles where JAX is not installed, and on a CPU less LOOP_COMPILED."""
    import importlib.util

    left_out = (() if importlib.util.find_spec("jax") is not None else JAX_STYLES) + (() if on_gpu else LOOP_COMPILED)
    return tuple(s for s in STYLES if s not in left_out)


@dataclass
class BenchConfig:
    models: tuple                      # registered names, or ModelSpecs (a user's pair)
    styles: tuple = field(default_factory=default_styles)   # the CPU's default
    batch_size: Optional[int] = None   # None: the model's default, its ModelSpec.bench
    steps: Optional[int] = None
    warmup: Optional[int] = None
    seed: int = 0
    peak_sizes: Optional[tuple] = None   # None: machine.PEAK_SIZES
    command: str = ""
    device: str = "auto"               # the JAX styles' process selects it as this one did (runtime.DEVICES)

    def specs(self):
        return [registry.get(m) if isinstance(m, str) else m for m in self.models]

    def setting(self, spec):
        """The model's batch size, steps and warm-up: its defaults, overridden where asked."""
        base = (registry.get(spec) if isinstance(spec, str) else spec).bench
        return Setting(self.batch_size or base.batch_size, self.steps or base.steps, self.warmup or base.warmup)


def tf():
    from parity.runtime import import_tensorflow

    return import_tensorflow()


def synthetic_batch(spec, batch_size, seed=0):
    """One fixed batch: uniform images of the model's input shape, labels in its recipe's format.
    Every style of a model times its steps on the same one."""
    rng = np.random.default_rng(seed)
    x = rng.random((batch_size, *spec.input_shape), dtype=np.float32)
    if spec.recipe.labels == "images":
        return x, x
    classes = rng.integers(0, spec.num_classes, batch_size)
    if spec.recipe.labels == "one_hot":
        return x, np.eye(spec.num_classes, dtype=np.float32)[classes]
    return x, classes.astype(np.int64)
