"""The styles' drivers: each builds its model once and runs its steps for the timing (parity.bench.timing).

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
  xla_multi         function_multi's call compiled by XLA: tf.function(jit_compile=True) over the
                    Trainer's loop of steps (XLA compiles the tf.range loop into one while loop, the
                    steps' kernels inside it); inference the same;
  fit               Model.fit for training, Model.predict_on_batch for inference;
  fit_multi         Model.fit and Model.predict over the repeated batch, compiled with
                    steps_per_execution=MULTI_STEPS;
  jax_function      on Keras' JAX backend, in a process of its own (parity.bench.jax_styles):
                    eager_v2.jax_training.JaxTrainer's step under jax.jit;
  jax_scan          the same, MULTI_STEPS steps in one jitted call scanning over the stacked batches
                    (JaxTrainer.train_steps, jax.lax.scan); inference the same.

The multi-step styles pay the per-call cost (argument matching, the call op, the host sync) once
per MULTI_STEPS steps rather than once per step. A call's (an execution's) time is divided among
its steps. A block of timed steps that MULTI_STEPS does not divide ends in a shorter call in
function_multi, xla_multi and jax_scan, whose first call of each length (a trace, an XLA compile)
runs before the clock starts; fit_multi runs whole executions, after one untimed execution that
holds the call's set-up, and keeps the block's first steps. The median of such call means holds
each call's slow steps, which a single-step style's median of steps leaves out: on a busy machine
the comparison leans to the baseline.

On a CPU, xla_multi and jax_scan train far slower than one step per call (mnist_cnn, batch 64: 39
times the graph's step against 2.7 for xla): inside the compiled loop, XLA's CPU backend leaves the
backward convolutions in their native dimension order (f01b_i01o->01bf) instead of rewriting them
to the standard one (b01f_01io->b01f) as it does for a step compiled alone, in TensorFlow and in
JAX alike; unrolling the loop undoes it. `tf-parity bench` leaves them out on a CPU unless --styles
names them (settings.LOOP_COMPILED).
"""
import math
import time

import numpy as np

from parity.bench.settings import JAX_STYLES, LOOP_POOL, MULTI_STEPS, synthetic_batch, tf as _tf

# The multi-step styles whose calls loop over a Trainer style's step, and that style.
MULTI_TRAINER_STYLES = {"function_multi": "function", "xla_multi": "xla"}


def build(spec, style, x, y, seed, pair=None):
    """The driver of one style for one model, its model built."""
    if style in JAX_STYLES:
        if pair is not None:
            raise ValueError(f"{style} times the registered models only: a pair's port is built on the TensorFlow "
                             "backend in this process")
        from parity.bench.jax_styles import JaxStyle

        return JaxStyle(spec, len(y), seed, style)
    if pair is not None:
        if style == "legacy_tf_data":
            raise ValueError("legacy_tf_data rebuilds the graph over a tf.data iterator, which a pair's own graph "
                             "does not take; its legacy side is timed as legacy_feed_dict")
        if style == "legacy_feed_dict":
            return PairLegacyStyle(pair.legacy, x, y)
        return KerasStyle(spec, x, y, seed, style, runner=pair.keras_runner(trainer_style(style)))
    if style in ("legacy_feed_dict", "legacy_tf_data"):
        return LegacyStyle(spec, x, y, seed, tf_data=style == "legacy_tf_data")
    return KerasStyle(spec, x, y, seed, style)


def trainer_style(style):
    """The eager_v2.training style a bench style's model is built with: function_multi's is function."""
    return {**MULTI_TRAINER_STYLES, "fit_multi": "fit"}.get(style, style)


def finite(style, step, loss):
    """Raises runners.Diverged for a non-finite training loss: a NaN step is no step to time."""
    if not math.isfinite(loss):
        from parity.runners import Diverged

        raise Diverged(style, step, loss)


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


class LegacyStyle:
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
            self.loop = Loop(self.runner, spec, len(y), seed)

    def infer_step(self):
        return self.session.run(self.model.logits, self.infer_feed)

    def train_step(self):
        return float(self.session.run(self._train_fetches, self.train_feed)[1])

    def close(self):
        self.runner.close()


class PairLegacyStyle:
    """A user's legacy graph fed through feed_dict; each block of steps runs where the graph lives
    (in its own process when isolated, parity.isolated), and only the step times come back."""

    def __init__(self, runner, x, y):
        self.runner, self.x, self.y = runner, x, y
        self.trained = 0

    def timed(self, phase, steps):
        times, loss = self.runner.timed_steps(self.x, self.y, phase, steps)
        if phase == "train":
            self.trained += len(times)
            finite("legacy", self.trained, loss)
        return times

    def close(self):
        pass  # the pair's legacy runner is closed with the pair


class Pair:
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


class Loop:
    """The loop phase: a runner's train() over a stream of NumPy batches, as a free run trains.

    Training as a user's run does, for the styles that have such a loop (legacy_feed_dict, the four
    Trainer styles and jax_function; not for a pair of your own): the runner's train() over a stream
    of NumPy batches drawn as the free run draws them (next_batch over a pool of LOOP_POOL synthetic
    batches), with its per-step float loss, divergence watch and on_step call: the legacy graph fed
    through feed_dict, the function style in calls of eager_v2.training.STEPS_PER_CALL (10) stacked
    batches, jax_function one jitted call a step, fit through one fit call over a generator. A loop
    block's steps share its mean (train() syncs once per call, not per step); fit's clock starts at
    the end of its first batch, as in its train phase.
    """

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


def multi_calls(steps, call, known):
    """Runs `steps` steps in calls of up to MULTI_STEPS: `call(count)` runs `count` steps and syncs.
    A count not in the set `known` is called once first, untimed (it traces or compiles), and added.

    Returns (the untimed calls' seconds, the seconds of each step: its call's time over its count)."""
    untimed, times = 0.0, []
    while len(times) < steps:
        count = min(MULTI_STEPS, steps - len(times))
        if count not in known:
            began = time.perf_counter()
            call(count)
            untimed += time.perf_counter() - began
            known.add(count)
        began = time.perf_counter()
        call(count)
        times += [(time.perf_counter() - began) / count] * count
    return untimed, times


class KerasStyle:
    """The Keras model, its steps driven by eager_v2.training.Trainer or by Model.fit."""

    def __init__(self, spec, x, y, seed, style, runner=None):
        tf = _tf()
        from parity.runners import KerasRunner

        self.style = style
        self.trained = 0
        self.runner = runner or KerasRunner.from_spec(spec, seed=seed, style=trainer_style(style))
        self.model = self.runner.model
        # On the device before the clock starts: the input pipeline is not what is measured.
        self.x, self.y = tf.constant(self.runner._images(x)), tf.constant(y)
        if style in MULTI_TRAINER_STYLES:
            self.multi = self._trainer_multi()
        elif style == "fit_multi":
            trainer = self.runner.trainer
            self.model.compile(optimizer=trainer.optimizer, loss=trainer.loss_fn, jit_compile=False,
                               steps_per_execution=MULTI_STEPS)
            self.multi = self._fit_multi
        elif runner is None:
            self.loop = Loop(self.runner, spec, len(y), seed, fit=style == "fit")
        if style in ("fit", "fit_multi"):
            self._predict = self.model.predict_on_batch
        else:
            def forward(images):
                return self.model(images, training=False)

            self._predict = {"eager": forward, "function": tf.function(forward),
                             "xla": tf.function(forward, jit_compile=True)}[trainer_style(style)]

    def infer_step(self):
        return np.asarray(self._predict(self.x))

    def train_step(self):
        return self.runner.trainer.train_step(self.x, self.y)

    def _trainer_multi(self):
        """multi(phase, steps) for function_multi and xla_multi: calls of up to MULTI_STEPS steps
        each, over the batch stacked MULTI_STEPS times on the device (Trainer.train_steps, the call
        the function style's train() makes; compiled by XLA in the xla style)."""
        tf = _tf()
        trainer = self.runner.trainer
        xs, ys = tf.stack([self.x] * MULTI_STEPS), tf.stack([self.y] * MULTI_STEPS)
        blocks = {}  # count -> the first `count` batches, sliced once, outside the clock
        known = {"train": set(), "infer": set()}

        def infer(xs):
            outputs = tf.TensorArray(tf.float32, size=tf.shape(xs)[0])
            for i in tf.range(tf.shape(xs)[0]):
                outputs = outputs.write(i, tf.cast(self.model(xs[i], training=False), tf.float32))
            return outputs.stack()

        infer = tf.function(infer, jit_compile=True if trainer_style(self.style) == "xla" else None)

        def call(phase, count):
            if count not in blocks:
                blocks[count] = (xs[:count], ys[:count])
            if phase != "train":
                infer(blocks[count][0]).numpy()
                return
            for loss in trainer.train_steps(*blocks[count]):
                self.trained += 1
                finite(self.style, self.trained, loss)

        def multi(phase, steps):
            return multi_calls(steps, lambda count: call(phase, count), known[phase])
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
                finite(style, batch + 1, mean)

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
                finite(style, batch + 1, mean)  # fit logs the running mean: non-finite once a step is

        if not hasattr(self, "_dataset"):
            self._dataset = tf.data.Dataset.from_tensors((self.x, self.y)).repeat()
        began = time.perf_counter()
        self.model.fit(self._dataset, epochs=1, steps_per_epoch=steps + 1, verbose=0, shuffle=False,
                       callbacks=[Clock()])
        return ends[0] - began, list(np.diff(ends))

    def close(self):
        pass
