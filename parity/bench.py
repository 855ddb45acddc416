"""`tf-parity bench`: what a training step and an inference step cost in each style, model by model.

Styles, all on one fixed synthetic batch of the model's input shape and label format:
  legacy_feed_dict  the legacy graph in a Session, the batch fed through feed_dict (as the documents do);
  legacy_tf_data    the same graph with its inputs taken from an initializable tf.data iterator inside
                    the graph, over a dataset that repeats the batch;
  eager             Keras model, GradientTape step without tf.function;
  function          the same step in tf.function;
  function_multi    MULTI_STEPS (10) steps in one call of a tf.function that loops over the batch
                    stacked MULTI_STEPS times on the device and returns every step's loss (the call
                    the function style's training loop makes, eager_v2.training.Trainer.train_steps);
                    inference the same, returning every step's outputs;
  xla               the same step in tf.function(jit_compile=True);
  fit               Model.fit for training, Model.predict_on_batch for inference;
  fit_multi         Model.fit and Model.predict over the repeated batch, compiled with
                    steps_per_execution=MULTI_STEPS.

The multi-step styles pay tf.function's per-call cost (argument matching, the call op, the
host sync) once per MULTI_STEPS steps rather than once per step. A
call's (an execution's) time is divided among its steps. A block of timed steps that MULTI_STEPS
does not divide ends in a shorter call in function_multi; fit_multi runs whole executions, after
one untimed execution that holds the call's set-up, and keeps the block's first steps. The
median of such call means holds each call's slow steps, which a single-step style's median of
steps leaves out: on a busy machine the comparison leans to the baseline.

Phases: `infer` and `train`, the step on the fixed batch, for every style; and `loop`, training
as a user's run does, for the styles that have such a loop (legacy_feed_dict and the four
Trainer styles; not for a pair of your own): the runner's train() over a stream of NumPy batches
drawn as the free run draws them (next_batch over a pool of LOOP_POOL synthetic batches), with
its per-step float loss, divergence watch and on_step call: the legacy graph fed through
feed_dict, the function style in calls of eager_v2.training.STEPS_PER_CALL (10) stacked batches,
fit through one fit call over a generator. A loop block's steps share its mean (train() syncs
once per call, not per step); fit's clock starts at the end of its first batch, as in its train
phase. The loop's FLOP count is the training step's.

Per style the model is built once and each phase warmed up: the first `warmup` steps of each
are untimed; `warmup_s` is the time from nothing (the build, `build_s`, is counted in both
phases) to the end of the last of them, so it holds graph construction, the session's first
runs, tracing and XLA compiles. Then the `steps` timed steps of each phase run in ROUNDS
blocks, the styles taking turns, so a shared machine's drift weighs on all of them alike:
timed one after the other, the last styles of a run came out up to 30% slow. Every step ends
in a sync (a Session.run fetch, `.numpy()` or a float of the loss), so each time is the work
done, not the work queued. Model.fit's steps are the gaps between its batch ends; each block
is one fit call, whose first batch (fit's own set-up) is not timed.

FLOPs per step are counted, not estimated: TensorFlow's profiler adds up the FLOP statistics of
the ops the legacy graph runs for the step (the logits for inference; the train op and the loss
for training), on a copy built at the benchmark's batch size so every shape is static. Ops
without a FLOP statistic (activations, the loss, the optimizer's update, depthwise convolutions'
gradients: about 4% of mobilenet_v2's training step) count zero and are listed per model. The
count is applied to every style of the model, as they compute the same network on the same
batch, with two differences in the legacy graph's disfavour: its train op also computes the
gradient with respect to the input images (gate_gradients groups each op's gradients), which a
tape never asks for (about 6% of conv_autoencoder's counted training step, 3% of mnist_cnn's,
1% or less of the others'); and its batch-norm layers compute the batch's moments at inference
too (4% of mobilenet_v2's counted inference step, 0.3% of resnet18's). The Keras styles'
GFLOP/s are therefore a few percent high for those models.
`peak_share` divides the achieved GFLOP/s by the best float32 matmul rate measured in the run.

Memory: the process's peak resident set while a style is built and warmed up (`peak_rss_mb`,
reset before it where Linux allows it; the same figure for both phases) and its growth over the
resident set before it (`rss_growth_mb`). The process keeps what earlier styles and models hold
or left resident, and reuses memory they freed without growing, so the peak is an upper bound
and the growth a lower bound of what the style alone would need.
"""
import math
import os
import platform
import resource
import time
from dataclasses import dataclass
from typing import Optional

import numpy as np

from parity import registry

STYLES = ("legacy_feed_dict", "legacy_tf_data", "eager", "function", "function_multi", "xla", "fit", "fit_multi")
PHASES = ("infer", "train", "loop")
BASELINE = "legacy_feed_dict"
# Steps per call of the multi-step styles: with mnist_cnn's 15 ms step, half a millisecond of
# per-call cost shrinks to 0.05 ms a step; the default 10-step blocks (100 steps in ROUNDS) are
# one call each.
MULTI_STEPS = 10
# The loop phase's batches are drawn from this many synthetic batches' worth of examples.
LOOP_POOL = 8


Setting = registry.Bench  # each model's default is its ModelSpec.bench

# Square matrix sizes for the matmul peak, and how long each is repeated: big enough that the
# rate is the kernel's, not the call's.
PEAK_SIZES = (512, 1024, 2048)
# The timed steps of each phase are taken in this many blocks, the styles taking turns: with
# mnist_cnn's 100 steps a block is one multi-step call, and the shorter a turn, the more alike
# a shared machine's slow spells fall on every style.
ROUNDS = 10
PEAK_SECONDS = 0.5


@dataclass
class BenchConfig:
    models: tuple                      # registered names, or ModelSpecs (a user's pair)
    styles: tuple = STYLES
    batch_size: Optional[int] = None   # None: the model's default, its ModelSpec.bench
    steps: Optional[int] = None
    warmup: Optional[int] = None
    seed: int = 0
    peak_sizes: Optional[tuple] = None   # None: PEAK_SIZES
    command: str = ""

    def specs(self):
        return [registry.get(m) if isinstance(m, str) else m for m in self.models]

    def setting(self, spec):
        """The model's batch size, steps and warm-up: its defaults, overridden where asked."""
        base = (registry.get(spec) if isinstance(spec, str) else spec).bench
        return Setting(self.batch_size or base.batch_size, self.steps or base.steps, self.warmup or base.warmup)


def _tf():
    from parity.runtime import import_tensorflow

    return import_tensorflow()


def synthetic_batch(spec, batch_size, seed=0):
    """One fixed batch: uniform images of the model's input shape, labels in its recipe's format."""
    rng = np.random.default_rng(seed)
    x = rng.random((batch_size, *spec.input_shape), dtype=np.float32)
    if spec.recipe.labels == "images":
        return x, x
    classes = rng.integers(0, spec.num_classes, batch_size)
    if spec.recipe.labels == "one_hot":
        return x, np.eye(spec.num_classes, dtype=np.float32)[classes]
    return x, classes.astype(np.int64)


def count_flops(spec, batch_size):
    """FLOPs of one inference and one training step of the model's legacy graph, as TensorFlow's
    profiler counts them.

    Args:
        spec: the model's registry.ModelSpec.
        batch_size: images per step; the graph is built at this size so every shape is static.

    Returns:
        {"infer": ..., "train": ...}, each {"flops", "by_op" (op type -> FLOPs), "uncounted_ops"
        (op types in the step that have no FLOP statistic, so count zero)}.
    """
    tf = _tf()
    x, y = synthetic_batch(spec, batch_size)
    graph = tf.Graph()
    with graph.as_default():
        images = tf.compat.v1.placeholder(tf.float32, x.shape, name="images")
        labels = tf.compat.v1.placeholder(tf.as_dtype(y.dtype), y.shape, name="labels")
    model = spec.legacy().build(graph, learning_rate=spec.recipe.learning_rate, seed=0, inputs=(images, labels))
    graph_def = graph.as_graph_def()
    return {"infer": _profile(graph_def, [model.logits.op.name]),
            "train": _profile(graph_def, [model.train_op.name, model.loss.op.name])}


def _profile(graph_def, fetches):
    """The profiler's FLOP count of the ops that Session.run(fetches) runs, and nothing else."""
    tf = _tf()
    # The profiler counts every op of a graph: keep only what the fetches depend on, control
    # dependencies included, as Session.run prunes the graph.
    step = tf.compat.v1.graph_util.extract_sub_graph(graph_def, fetches)
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(step, name="")
    builder = tf.compat.v1.profiler.ProfileOptionBuilder
    options = builder(builder.float_operation()).with_min_float_operations(0).with_empty_output().build()
    profile = tf.compat.v1.profiler.profile(graph, cmd="op", options=options)
    by_op, node = {}, profile
    # The "op" view nests its op types in a chain, each node holding its own type's count.
    while node.children:
        node = node.children[0]
        by_op[node.name] = int(node.float_ops)
    types = {op.type for op in graph.get_operations()}
    # Op types that only move or describe data: no arithmetic to miss.
    structural = {"Const", "Placeholder", "PlaceholderWithDefault", "VarHandleOp", "ReadVariableOp", "Identity",
                  "NoOp", "Reshape", "Squeeze", "ExpandDims", "Shape", "ShapeN", "Pack", "ConcatV2", "Slice",
                  "Fill", "StopGradient", "AssignVariableOp", "Tile", "Pad", "Cast", "Transpose"}
    uncounted = sorted(t for t in types if by_op.get(t, 0) == 0 and t not in structural)
    return {"flops": int(profile.total_float_ops), "by_op": {k: v for k, v in by_op.items() if v},
            "uncounted_ops": uncounted}


def measure_matmul_peak(sizes=None, min_seconds=None):
    """The machine's float32 matmul rate, best of several sizes and repeats, in a tf.function.

    Args:
        sizes: square matrix sizes tried (None: PEAK_SIZES).
        min_seconds: repeat each size at least this long, and at least three times (None: PEAK_SECONDS).

    Returns:
        {"gflops_per_s": the best rate, "by_size": {size: its best rate}}.
    """
    tf = _tf()
    # A scalar result keeps the output's copy out of the timing; the sum's n^2 adds are not counted.
    matmul = tf.function(lambda a, b: tf.reduce_sum(tf.linalg.matmul(a, b)))
    by_size = {}
    min_seconds = PEAK_SECONDS if min_seconds is None else min_seconds
    for n in sizes or PEAK_SIZES:
        a = tf.random.uniform((n, n), seed=1)
        b = tf.random.uniform((n, n), seed=2)
        matmul(a, b).numpy()
        best, spent, runs = math.inf, 0.0, 0
        while runs < 3 or spent < min_seconds:
            began = time.perf_counter()
            matmul(a, b).numpy()
            took = time.perf_counter() - began
            best, spent, runs = min(best, took), spent + took, runs + 1
        by_size[str(n)] = round(2.0 * n ** 3 / best / 1e9, 2)
    return {"gflops_per_s": max(by_size.values()), "by_size": by_size}


class _Memory:
    """Peak resident set of this process: reset and read through /proc where Linux allows it,
    else the process's lifetime peak from getrusage."""

    def __init__(self):
        self.resettable = self._reset()
        self.method = ("VmHWM of /proc/self/status, reset through /proc/self/clear_refs at the start of "
                       "each phase" if self.resettable else
                       "ru_maxrss: the process's peak since it started (cumulative over the run)")

    @staticmethod
    def _reset():
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            return True
        except OSError:
            return False

    @staticmethod
    def _status_mb(key):
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024
        return None

    def start(self):
        """Resets the peak where possible; returns the resident set now, in MB."""
        if self.resettable:
            self._reset()
            return round(self._status_mb("VmRSS"), 1)
        return None

    def peak(self):
        if self.resettable:
            return round(self._status_mb("VmHWM"), 1)
        # ru_maxrss is in kilobytes on Linux, bytes on macOS.
        scale = 1024 * 1024 if platform.system() == "Darwin" else 1024
        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale, 1)


def legacy_tf_data_runner(spec, x, y, seed=0):
    """A GraphRunner over the model's legacy graph whose inputs come from a tf.data iterator in the
    graph, over a dataset that repeats the batch (x, y); the iterator is initialized."""
    tf = _tf()
    from parity.runners import GraphRunner

    graph = tf.Graph()
    with graph.as_default():
        # Placeholders feed the initializer only, so the batch is not baked into the graph as a constant.
        images = tf.compat.v1.placeholder(tf.float32, x.shape, name="images")
        labels = tf.compat.v1.placeholder(tf.as_dtype(y.dtype), y.shape, name="labels")
        dataset = tf.data.Dataset.from_tensors((images, labels)).repeat()
        iterator = tf.compat.v1.data.make_initializable_iterator(dataset)
        inputs = iterator.get_next()
    runner = GraphRunner.from_spec(spec, seed=seed, graph=graph, inputs=inputs)
    runner.session.run(iterator.initializer, {images: x, labels: y})
    return runner


class _LegacyStyle:
    """The legacy graph in its Session: fed through feed_dict, or reading a tf.data iterator."""

    def __init__(self, spec, x, y, seed, tf_data):
        from parity.runners import GraphRunner

        if tf_data:
            self.runner = legacy_tf_data_runner(spec, x, y, seed)
            model = self.runner.model
            self.infer_feed, self.train_feed = {}, {}
        else:
            self.runner = GraphRunner.from_spec(spec, seed=seed)
            model = self.runner.model
            # [batch, 28, 28, 1] -> [batch, 784] where the graph takes flat images.
            x = x.reshape((-1, *[int(d) for d in model.inputs.shape[1:]]))
            self.infer_feed = {model.inputs: x}
            self.train_feed = {model.inputs: x, model.labels: y}
        if model.training is not None:
            self.train_feed[model.training] = True
        self.model = model
        self.session = self.runner.session
        self._train_fetches = [model.train_op, model.loss]
        if not tf_data:
            self.loop = _Loop(self.runner, spec, len(y), seed)

    def infer_step(self):
        return self.session.run(self.model.logits, self.infer_feed)

    def train_step(self):
        return float(self.session.run(self._train_fetches, self.train_feed)[1])

    def close(self):
        self.runner.close()


class _PairLegacyStyle:
    """A user's legacy graph fed through feed_dict; each block of steps runs where the graph lives
    (in its own process when isolated, parity.isolated), and only the step times come back."""

    def __init__(self, runner, x, y):
        self.runner, self.x, self.y = runner, x, y
        self.trained = 0

    def timed(self, phase, steps):
        times, loss = self.runner.timed_steps(self.x, self.y, phase, steps)
        if phase == "train":
            self.trained += len(times)
            _finite("legacy", self.trained, loss)
        return times

    def close(self):
        pass  # the pair's legacy runner is closed with the pair


class _Pair:
    """A user's pair for the benchmark: its legacy runner, built once, and what it says of the graph."""

    def __init__(self, spec, seed):
        from parity import pair

        began = time.perf_counter()
        self.spec, self.legacy, self.info = pair.legacy_side(spec, seed)
        self.build_s = time.perf_counter() - began
        self.seed = seed
        with pair.closed_on_error(self.legacy):
            self.spec.pair_eager.check()
        # Where the legacy side runs in a process of its own, this process's memory is not its.
        self.isolated = not hasattr(self.legacy, "session")

    def keras_runner(self, style):
        from parity import pair

        return pair.keras_runner(self.spec, self.info, self.legacy, self.seed, style)

    def close(self):
        self.legacy.close()


class _Loop:
    """The loop phase: a runner's train() over a stream of NumPy batches, as a free run trains."""

    def __init__(self, runner, spec, batch_size, seed, fit=False):
        from legacy_graph.input_data import DataSet

        x, y = synthetic_batch(spec, batch_size * LOOP_POOL, seed + 1)
        self.runner, self.fit, self.batch_size = runner, fit, batch_size
        self.data = DataSet(x, y, reshape=False, seed=seed)

    def _batches(self):
        while True:
            yield self.data.next_batch(self.batch_size)

    def __call__(self, steps):
        """Trains `steps` steps in one train() call; returns (seconds not timed, the seconds of each
        step: the call's mean, or for fit the mean from its first batch's end on, over `steps` more)."""
        ends = []
        began = time.perf_counter()
        self.runner.train(self._batches(), steps + self.fit, lambda i, loss: ends.append(time.perf_counter()))
        if self.fit:
            return ends[0] - began, [(ends[-1] - ends[0]) / steps] * steps
        return 0.0, [(time.perf_counter() - began) / steps] * steps


def _trainer_style(style):
    """The eager_v2.training style a bench style's model is built with: function_multi's is function."""
    return style[:-len("_multi")] if style.endswith("_multi") else style


class _KerasStyle:
    """The Keras model, its steps driven by eager_v2.training.Trainer or by Model.fit."""

    def __init__(self, spec, x, y, seed, style, runner=None):
        tf = _tf()
        from parity.runners import KerasRunner

        self.style = style
        self.runner = runner or KerasRunner.from_spec(spec, seed=seed, style=_trainer_style(style))
        self.model = self.runner.model
        # On the device before the clock starts: the input pipeline is not what is measured.
        self.x, self.y = tf.constant(self.runner._images(x)), tf.constant(y)
        if style == "function_multi":
            self.multi = self._function_multi()
        elif style == "fit_multi":
            trainer = self.runner.trainer
            self.model.compile(optimizer=trainer.optimizer, loss=trainer.loss_fn, jit_compile=False,
                               steps_per_execution=MULTI_STEPS)
            self.multi = self._fit_multi
        elif runner is None:
            self.loop = _Loop(self.runner, spec, len(y), seed, fit=style == "fit")
        if style in ("fit", "fit_multi"):
            self._predict = self.model.predict_on_batch
        else:
            def forward(images):
                return self.model(images, training=False)

            self._predict = {"eager": forward, "function": tf.function(forward),
                             "xla": tf.function(forward, jit_compile=True)}[_trainer_style(style)]

    def infer_step(self):
        return np.asarray(self._predict(self.x))

    def train_step(self):
        return self.runner.trainer.train_step(self.x, self.y)

    def _function_multi(self):
        """multi(phase, steps) for function_multi: calls of up to MULTI_STEPS steps each, over the
        batch stacked MULTI_STEPS times on the device (Trainer.train_steps, the call the function
        style's train() makes)."""
        tf = _tf()
        trainer = self.runner.trainer
        xs, ys = tf.stack([self.x] * MULTI_STEPS), tf.stack([self.y] * MULTI_STEPS)
        blocks = {}  # count -> the first `count` batches, sliced once, outside the clock

        @tf.function
        def infer(xs):
            outputs = tf.TensorArray(tf.float32, size=tf.shape(xs)[0])
            for i in tf.range(tf.shape(xs)[0]):
                outputs = outputs.write(i, tf.cast(self.model(xs[i], training=False), tf.float32))
            return outputs.stack()

        def multi(phase, steps):
            times = []
            while len(times) < steps:
                count = min(MULTI_STEPS, steps - len(times))
                if count not in blocks:
                    blocks[count] = (xs[:count], ys[:count])
                began = time.perf_counter()
                if phase == "train":
                    losses = trainer.train_steps(*blocks[count])
                else:
                    infer(blocks[count][0]).numpy()
                times += [(time.perf_counter() - began) / count] * count
                if phase == "train":
                    for loss in losses:
                        self.trained = getattr(self, "trained", 0) + 1
                        _finite(self.style, self.trained, loss)
            return 0.0, times
        return multi

    def _fit_multi(self, phase, steps):
        """Model.fit (train) or Model.predict (infer) over `steps` steps, rounded up to whole
        executions of MULTI_STEPS, after a first, untimed execution (the call's set-up); returns
        (seconds to the first execution's end, the first `steps` later steps' seconds: each its
        execution's time over its steps)."""
        tf = _tf()
        import keras

        ends, style = [], self.style

        class Clock(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                mean = float(logs["loss"])
                ends.append((time.perf_counter(), batch))
                _finite(style, batch + 1, mean)

            def on_predict_batch_end(self, batch, logs=None):
                ends.append((time.perf_counter(), batch))

        if not hasattr(self, "_dataset"):
            self._dataset = tf.data.Dataset.from_tensors((self.x, self.y)).repeat()
            self._images_only = tf.data.Dataset.from_tensors(self.x).repeat()
        # Whole executions only: predict reads a last, partial one's data as a whole one's.
        total = MULTI_STEPS * (1 + math.ceil(steps / MULTI_STEPS))
        began = time.perf_counter()
        if phase == "train":
            self.model.fit(self._dataset, epochs=1, steps_per_epoch=total, verbose=0, shuffle=False,
                           callbacks=[Clock()])
        else:
            self.model.predict(self._images_only, steps=total, verbose=0, callbacks=[Clock()])
        times = []
        for (t0, b0), (t1, b1) in zip(ends, ends[1:]):
            times += [(t1 - t0) / (b1 - b0)] * (b1 - b0)
        return ends[0][0] - began, times[:steps]

    def fit(self, steps):
        """Trains through one Model.fit call of `steps` + 1 batches; returns (seconds to the first
        batch's end, the seconds of each later batch).

        Trainer's own fit path feeds from a Python generator, which would time the input
        pipeline; here fit reads the batch repeated by tf.data, and a callback notes the time
        at the end of every batch. The first batch of a call also holds fit's own set-up.
        """
        tf = _tf()
        import keras

        ends = []

        style = self.style

        class Clock(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                mean = float(logs["loss"])  # also a sync, should the step still be running on a device
                ends.append(time.perf_counter())
                _finite(style, batch + 1, mean)  # fit logs the running mean: non-finite once a step is

        if not hasattr(self, "_dataset"):
            self._dataset = tf.data.Dataset.from_tensors((self.x, self.y)).repeat()
        began = time.perf_counter()
        self.model.fit(self._dataset, epochs=1, steps_per_epoch=steps + 1, verbose=0, shuffle=False,
                       callbacks=[Clock()])
        return ends[0] - began, list(np.diff(ends))

    def close(self):
        pass


def _build(spec, style, x, y, seed, pair=None):
    if pair is not None:
        if style == "legacy_tf_data":
            raise ValueError("legacy_tf_data rebuilds the graph over a tf.data iterator, which a pair's own graph "
                             "does not take; its legacy side is timed as legacy_feed_dict")
        if style == "legacy_feed_dict":
            return _PairLegacyStyle(pair.legacy, x, y)
        return _KerasStyle(spec, x, y, seed, style, runner=pair.keras_runner(_trainer_style(style)))
    if style in ("legacy_feed_dict", "legacy_tf_data"):
        return _LegacyStyle(spec, x, y, seed, tf_data=style == "legacy_tf_data")
    return _KerasStyle(spec, x, y, seed, style)


def _is_fit(driver, phase):
    return phase == "train" and isinstance(driver, _KerasStyle) and driver.style == "fit"


def _finite(style, step, loss):
    """Raises runners.Diverged for a non-finite training loss: a NaN step is no step to time."""
    if not math.isfinite(loss):
        from parity.runners import Diverged

        raise Diverged(style, step, loss)


def _step(driver, phase):
    if phase != "train":
        return driver.infer_step
    def train_step():
        driver.trained = getattr(driver, "trained", 0) + 1
        _finite(getattr(driver, "style", "legacy"), driver.trained, driver.train_step())
    return train_step


def _phases(driver):
    """The phases a driver has: infer and train, and loop where it has a training loop."""
    return PHASES if hasattr(driver, "loop") else tuple(p for p in PHASES if p != "loop")


def _warm_up(driver, phase, warmup):
    """Runs the untimed first `warmup` steps of a phase; returns their seconds."""
    if phase == "loop":
        first, rest = driver.loop(warmup)
        return first + sum(rest)
    if hasattr(driver, "multi"):
        first, rest = driver.multi(phase, warmup)
        return first + sum(rest)
    if hasattr(driver, "timed"):
        return sum(driver.timed(phase, warmup))
    if _is_fit(driver, phase):
        first, rest = driver.fit(max(warmup - 1, 0))
        return first + sum(rest)
    step = _step(driver, phase)
    began = time.perf_counter()
    for _ in range(warmup):
        step()
    return time.perf_counter() - began


def _timed(driver, phase, steps):
    """The seconds of each of `steps` steps of a phase."""
    if phase == "loop":
        return driver.loop(steps)[1]
    if hasattr(driver, "multi"):
        return driver.multi(phase, steps)[1]
    if hasattr(driver, "timed"):
        return driver.timed(phase, steps)
    if _is_fit(driver, phase):
        return driver.fit(steps)[1]
    step = _step(driver, phase)
    times = []
    for _ in range(steps):
        began = time.perf_counter()
        step()
        times.append(time.perf_counter() - began)
    return times


def _row(model, style, phase, setting, build_s, warm_s, times, flops, peak_gflops, memory):
    ms = 1000.0 * np.asarray(times)
    median = float(np.median(ms))
    p10, p25, p75, p90 = (float(v) for v in np.percentile(ms, [10, 25, 75, 90]))
    gflops = flops / (median / 1000.0) / 1e9 if flops else None
    return {
        "model": model, "style": style, "phase": phase,
        "batch_size": setting.batch_size, "steps": len(times), "warmup_steps": setting.warmup,
        "ms_per_step": round(median, 4), "ms_p10": round(p10, 4), "ms_p25": round(p25, 4),
        "ms_p75": round(p75, 4), "ms_p90": round(p90, 4), "ms_mean": round(float(ms.mean()), 4),
        "ms_min": round(float(ms.min()), 4),
        "ratio": None,
        "images_per_s": round(setting.batch_size / (median / 1000.0), 2),
        "flops_per_step": flops,
        "gflops_per_s": round(gflops, 3) if gflops is not None else None,
        "peak_share": round(gflops / peak_gflops, 5) if gflops is not None and peak_gflops else None,
        "warmup_s": round(build_s + warm_s, 4), "build_s": round(build_s, 4),
        **memory,
    }


def _failed_row(model, style, phase, setting, error):
    from parity.runners import Diverged

    return {"model": model, "style": style, "phase": phase, "batch_size": setting.batch_size, "steps": 0,
            "warmup_steps": setting.warmup, "ms_per_step": None, "ratio": None, "images_per_s": None,
            "gflops_per_s": None, "peak_share": None, "warmup_s": None, "peak_rss_mb": None, "rss_growth_mb": None,
            "error": f"{type(error).__name__}: {error}", "diverged": isinstance(error, Diverged)}


def bench_model(spec, config, peak_gflops, memory, log=lambda message: None, pair=None):
    """Every asked style of one model, both phases; returns (rows, the FLOP counts).

    Each style is built and warmed up in turn (its memory peak is taken there); then the timed
    steps run in ROUNDS interleaved blocks, every style taking its block in turn, so that the
    drift of a shared machine weighs on all styles alike rather than on whichever ran last.
    """
    setting = config.setting(spec)
    drivers, ready, failed = {}, {}, {}
    if pair is None and spec.pair_legacy is not None:
        pair = _Pair(spec, config.seed)
    try:
        if pair is not None:
            spec = pair.spec
            # A user's graph has no static batch size to count at, and the profiler needs one.
            flops = {phase: {"flops": None, "by_op": {}, "uncounted_ops": []} for phase in ("infer", "train")}
            flops["note"] = "not counted for a pair of your own: its graph's batch dimension is not static"
        else:
            log(f"{spec.name}: counting FLOPs at batch {setting.batch_size}")
            flops = count_flops(spec, setting.batch_size)
        flops["batch_size"] = setting.batch_size
        x, y = synthetic_batch(spec, setting.batch_size, config.seed)
        _forget_keras_state()
        for style in config.styles:
            rss_start, phase = memory.start(), "build"
            try:
                began = time.perf_counter()
                drivers[style] = _build(spec, style, x, y, config.seed, pair)
                build_s = time.perf_counter() - began
                if isinstance(drivers[style], _PairLegacyStyle):
                    build_s += pair.build_s
                warm = {}
                for phase in _phases(drivers[style]):
                    warm[phase] = _warm_up(drivers[style], phase, setting.warmup)
                peak_rss = memory.peak()
                if isinstance(drivers[style], _PairLegacyStyle) and pair.isolated:
                    peak_rss = rss_start = None  # the graph lives in another process
                ready[style] = {"build_s": build_s, "warm": warm, "memory": {
                    "peak_rss_mb": peak_rss, "rss_start_mb": rss_start,
                    "rss_growth_mb": None if rss_start is None or peak_rss is None else
                    round(max(0.0, peak_rss - rss_start), 1)}}
                log(f"{spec.name} {style}: built in {build_s:.1f} s, warm-up " +
                    ", ".join(f"{p} {warm[p]:.1f} s" for p in warm))
            except Exception as e:  # one style failing must not throw away the others' figures
                failed[style] = (phase, e)
                log(f"{spec.name} {style}: failed in {phase}: {_first_line(e)}")
        times = {(style, phase): [] for style in ready for phase in ready[style]["warm"]}
        rounds = min(ROUNDS, setting.steps)
        blocks = [setting.steps // rounds + (i < setting.steps % rounds) for i in range(rounds)]
        for phase in PHASES:
            for block in blocks:
                for style in list(ready):
                    if (style, phase) in failed or (style, phase) not in times:
                        continue
                    try:
                        times[style, phase] += _timed(drivers[style], phase, block)
                    except Exception as e:
                        failed[style, phase] = (phase, e)
                        log(f"{spec.name} {style}: failed in {phase}: {_first_line(e)}")
        rows = []
        for style in config.styles:
            for phase in PHASES:
                error = failed.get(style) or failed.get((style, phase))
                if error:
                    if phase != "loop":  # a style that failed to build has no loop row to miss
                        rows.append(_failed_row(spec.name, style, phase, setting, error[1]))
                    continue
                if (style, phase) not in times:
                    continue
                r = ready[style]
                rows.append(_row(spec.name, style, phase, setting, r["build_s"], r["warm"][phase],
                                 times[style, phase], flops[_counted(phase)]["flops"], peak_gflops, r["memory"]))
        log(f"{spec.name}: " + ", ".join(f"{row['style']} {row['phase']} {row['ms_per_step']:.1f} ms"
                                          for row in rows if row.get("ms_per_step")))
    finally:
        for driver in drivers.values():
            driver.close()
        drivers.clear()
        if pair is not None:
            pair.close()
        _forget_keras_state()
    _set_ratios(rows)
    return rows, flops


def _counted(phase):
    """The phase whose FLOP count applies: the loop trains."""
    return "train" if phase == "loop" else phase


def _first_line(error):
    return f"{type(error).__name__}: {(str(error).strip().splitlines() or [''])[0]}"


def _forget_keras_state():
    """Drops Keras' global state and collects the garbage, so one style's leftovers do not weigh on the next."""
    import keras

    keras.backend.clear_session(free_memory=True)


def _set_ratios(rows):
    base = {r["phase"]: r["ms_per_step"] for r in rows if r["style"] == BASELINE and r["ms_per_step"]}
    for r in rows:
        if r["ms_per_step"] and r["phase"] in base:
            r["ratio"] = 1.0 if r["style"] == BASELINE else round(r["ms_per_step"] / base[r["phase"]], 4)


def run(config, log=lambda message: None):
    """Runs the benchmark.

    Args:
        config: a BenchConfig; the baseline style is run even when not asked for, as every
            ratio needs it.
        log: called with a line of progress per model and style.

    Returns:
        The report: settings, machine, measured matmul peak, FLOP counts and `results`, one row
        per model, style and phase.
    """
    tf = _tf()
    from parity import runtime

    styles = tuple(config.styles)
    if BASELINE not in styles:
        styles = (BASELINE,) + styles
    config.styles = tuple(s for s in STYLES if s in styles)
    memory = _Memory()
    # A pair's legacy side is built first: a module, function or tensor name it cannot find fails
    # here, before the minutes of measuring.
    pairs = {spec.name: _Pair(spec, config.seed) for spec in config.specs() if spec.pair_legacy is not None}
    try:
        sizes = config.peak_sizes or PEAK_SIZES
        log(f"measuring the float32 matmul peak ({', '.join(map(str, sizes))})")
        peak = measure_matmul_peak(sizes)
        log(f"peak {peak['gflops_per_s']:.1f} GFLOP/s")
        rows, flops, settings = [], {}, {}
        for spec in config.specs():
            s = config.setting(spec)
            settings[spec.name] = {"batch_size": s.batch_size, "steps": s.steps, "warmup": s.warmup}
            model_rows, flops[spec.name] = bench_model(spec, config, peak["gflops_per_s"], memory, log,
                                                       pairs.get(spec.name))
            rows += model_rows
    finally:
        for pair in pairs.values():
            pair.close()
    versions = runtime.versions()
    return {
        "command": config.command,
        "device": runtime.device_description(),
        "tensorflow": versions["tensorflow"],
        "keras": versions["keras"],
        "threads": {"intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
                    "inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
                    "cpu_count": os.cpu_count(), "note": "0: TensorFlow chooses (about one per core)"},
        "settings": {"models": [spec.name for spec in config.specs()], "styles": list(config.styles), "phases": list(PHASES),
                     "seed": config.seed, "per_model": settings,
                     "timing": "median of per-step times over the timed steps, each step ending in a sync "
                               "(Session.run fetch, .numpy() or float(loss)); time.perf_counter. Multi-step "
                               "styles and the loop phase: a call's time over its steps",
                     "multi_steps": MULTI_STEPS, "loop_steps_per_call": _steps_per_call(),
                     "memory": memory.method,
                     "flops": "profiler count on the legacy graph at the benchmark batch size, applied to every "
                              "style of the model"},
        "peak": {**peak, "method": "tf.function(tf.linalg.matmul) of square float32 matrices, best per-call time"},
        "flops": flops,
        "results": rows,
    }


def _steps_per_call():
    from eager_v2.training import STEPS_PER_CALL

    return {"function": STEPS_PER_CALL, "legacy_feed_dict": 1, "eager": 1, "xla": 1,
            "fit": "one fit call, its batches from a generator"}


def _fmt(value, spec, missing="-"):
    return missing if value is None else format(value, spec)


def format_table(report):
    """The results as a text table, one line per model, phase and style."""
    lines = [f"{report['device']}, TensorFlow {report['tensorflow']}, Keras {report['keras']}; "
             f"float32 matmul peak {report['peak']['gflops_per_s']:.1f} GFLOP/s",
             f"{'model':<17} {'phase':<5} {'style':<16} {'ms/step (p10-p90)':>25} {'ratio':>6} {'img/s':>9} "
             f"{'GFLOP/s':>8} {'%peak':>6} {'warm-up s':>9} {'peak MB (+phase)':>16}"]
    order = {p: i for i, p in enumerate(("train", "loop", "infer"))}
    rows = sorted(report["results"], key=lambda r: (report["settings"]["models"].index(r["model"]),
                                                    order[r["phase"]], STYLES.index(r["style"])))
    for r in rows:
        if r.get("error"):
            lines.append(f"{r['model']:<17} {r['phase']:<5} {r['style']:<16} failed: {r['error'].splitlines()[0]}")
            continue
        ms = f"{r['ms_per_step']:.2f} ({r['ms_p10']:.2f}-{r['ms_p90']:.2f})"
        share = _fmt(None if r["peak_share"] is None else 100 * r["peak_share"], ".1f")
        memory = _fmt(r["peak_rss_mb"], ".0f") + (f" (+{r['rss_growth_mb']:.0f})" if r["rss_growth_mb"] is not None
                                                  else "")
        lines.append(f"{r['model']:<17} {r['phase']:<5} {r['style']:<16} {ms:>25} {_fmt(r['ratio'], '.2f'):>6} "
                     f"{r['images_per_s']:>9.1f} {_fmt(r['gflops_per_s'], '.2f'):>8} {share:>6} "
                     f"{r['warmup_s']:>9.2f} {memory:>16}")
    return "\n".join(lines)


def plot_ratios(path, report):
    """Bar chart of every style's ms/step over legacy_feed_dict's, one group per model and phase."""
    import matplotlib.pyplot as plt

    from parity import plots

    present = {(r["model"], r["phase"]) for r in report["results"]}
    groups = [(m, p) for m in report["settings"]["models"] for p in ("train", "loop", "infer") if (m, p) in present]
    styles = [s for s in report["settings"]["styles"] if s != BASELINE]
    ratios = {(r["model"], r["phase"], r["style"]): r["ratio"] for r in report["results"]}
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(groups) + 2), 4.5))
    width = 0.8 / len(styles)
    for i, style in enumerate(styles):
        values = [ratios.get((m, p, style)) or float("nan") for m, p in groups]
        positions = [g + (i - (len(styles) - 1) / 2) * width for g in range(len(groups))]
        # Bars grow from 1, up for slower, down for faster than the baseline.
        ax.bar(positions, [v - 1.0 for v in values], width, bottom=1.0, label=style)
    ax.axhline(1.0, color="black", linewidth=0.8, label=f"{BASELINE} (1)")
    ax.set_yscale("log")
    ax.set_xticks(range(len(groups)), [f"{m}\n{p}" for m, p in groups], fontsize=8)
    ax.set_ylabel(f"ms/step over {BASELINE} (log scale)")
    ax.set_title(f"Step time relative to the legacy graph fed by feed_dict (below 1: faster)\n{report['device']}, "
                 f"TensorFlow {report['tensorflow']}", fontsize=9)
    ax.legend(fontsize=7, ncol=len(styles) + 1, loc="upper center", bbox_to_anchor=(0.5, -0.16), frameon=False)
    return plots.save(fig, path)
