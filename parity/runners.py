"""The runners of both styles, so every check is written once: GraphRunner drives a legacy TF1
graph, KerasRunner its Keras 3 port.

A runner holds a model with its weights in canonical order and can: count parameters, list
layer output shapes, run a forward pass (also stage by stage), take gradients, and train on
a stream of batches. Images are float32 NHWC; labels are whatever the model's recipe wants.
The interface, method by method, is parity.runner_protocol's.
"""
import collections
import contextlib
import math
import os
from pathlib import Path

import numpy as np

from parity import kinks, outputs
from parity.runtime import import_tensorflow


class _TensorFlow:
    """TensorFlow, imported at its first use: a port verified on another Keras backend, against a
    golden record (parity.golden), runs without it."""

    def __getattr__(self, name):
        return getattr(import_tensorflow(), name)


tf = _TensorFlow()


class Diverged(Exception):
    """A training run reached a non-finite loss at `step` (counted from 1 since the optimizer's
    reset); the run stops there rather than train on NaN weights."""

    def __init__(self, style, step, loss, last_finite=None, seen=None):
        super().__init__(style, step, loss)
        self.style, self.step, self.loss = style, step, float(loss)
        self.last_finite = last_finite   # (step, loss) of the last finite loss, or None
        self.seen = seen                 # where a loop that fetches no loss saw it instead

    def reason(self):
        if self.seen:
            return f"{self.seen} at step {self.step}"
        text = f"loss is {'NaN' if math.isnan(self.loss) else self.loss} at step {self.step}"
        if self.last_finite:
            text += f" (last finite loss {self.last_finite[1]:.6g} at step {self.last_finite[0]})"
        return text

    def __str__(self):
        return f"{self.style} training diverged: {self.reason()}"

    def to_json(self):
        return {"style": self.style, "step": self.step, "loss": None if not math.isfinite(self.loss) else self.loss,
                "loss_text": str(self.loss), "last_finite_step": self.last_finite and self.last_finite[0],
                "last_finite_loss": self.last_finite and self.last_finite[1]}


class _StepWatch:
    """Counts a runner's training steps and raises Diverged at the first non-finite loss."""

    def __init__(self, style):
        self.style = style
        self.reset()

    def reset(self, step=0):
        self.step, self.last_finite = step, None

    def __call__(self, loss):
        self.step += 1
        if not math.isfinite(loss):
            raise Diverged(self.style, self.step, loss, self.last_finite)
        self.last_finite = (self.step, loss)


def run_steps(step, batches, num_steps, watch, on_step=None):
    """Runs `step(x, y)`, one training step returning its loss, on `num_steps` batches of `batches`;
    returns the losses. `watch` (a _StepWatch) raises Diverged at the first non-finite one, before
    `on_step(index, loss)` hears of it."""
    losses = []
    for i in range(num_steps):
        x, y = next(batches)
        losses.append(step(x, y))
        watch(losses[-1])
        if on_step is not None:
            on_step(i, losses[-1])
    return losses


def param_counts(shapes, trainable_mask):
    """(trainable, non-trainable) parameter counts of weights with these shapes."""
    counts = [int(np.prod(s)) for s in shapes]
    trainable = sum(c for c, t in zip(counts, trainable_mask) if t)
    return trainable, sum(counts) - trainable


def _shape(static_shape):
    """A static shape as a tuple of ints and None, also where v2 behaviour is disabled (its dims are
    then Dimension objects, whose int() of an unknown dim fails)."""
    shape = tf.TensorShape(static_shape)
    return tuple(shape.as_list()) if shape.rank is not None else ()


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


class GraphRunner:
    """Drives a legacy graph (a parity.legacy.LegacyModel) in its own tf.Graph and Session (no
    global graph mode). Every run but the free-running train op's feeds the model's eval feeds,
    so dropout and other randomness fed through placeholders are off where two styles are compared."""

    style = "legacy"

    def __init__(self, model):
        from parity import legacy

        if not isinstance(model, legacy.LegacyModel):
            model = legacy.normalize(model, model.graph)
        legacy.check_feeds(model)
        self.model = m = model
        self.graph = m.graph
        with self.graph.as_default():
            self._trainable = [v for v in m.variables if v.trainable]
            # The train op's own gradients where the model exposes them: a gradient that is zero in
            # exact arithmetic holds rounding noise, which differs from one gradient graph to another.
            self._gradients = list(m.gradients) if m.gradients is not None else \
                tf.compat.v1.gradients(m.loss, self._trainable)
            if any(g is None for g in self._gradients):
                missing = [v.name for v, g in zip(self._trainable, self._gradients) if g is None]
                raise legacy.LegacyError(f"the loss does not depend on {', '.join(missing[:4])}: are they the "
                                         "model's variables?")
            self._inputs = [tf.compat.v1.placeholder(v.dtype.base_dtype, v.shape) for v in m.variables]
            self._assign_each = [v.assign(p) for v, p in zip(m.variables, self._inputs)]
            self._assign = tf.group(*self._assign_each)
            model_variables = set(id(v) for v in m.variables)
            others = [v for v in tf.compat.v1.global_variables() if id(v) not in model_variables]
            self._reset_optimizer = tf.compat.v1.variables_initializer(others)
            # The optimizer's slots and step counters, for a training checkpoint.
            self._optimizer_variables = others
            self._optimizer_inputs = [tf.compat.v1.placeholder(v.dtype.base_dtype, v.shape) for v in others]
            self._assign_optimizer = tf.group(*[v.assign(p) for v, p in zip(others, self._optimizer_inputs)])
            self._saver = tf.compat.v1.train.Saver(var_list=list(m.variables), max_to_keep=None)
            init = tf.compat.v1.global_variables_initializer()
            self._kink_ops, self._kink_tensors = kinks.kink_ops(self.graph.get_operations())
        # Nothing may add ops from here on: a graph that grows every step is a classic TF1 leak.
        self.graph.finalize()
        self.session = tf.compat.v1.Session(graph=self.graph)
        self.session.run(init)
        self.names = [v.name.split(":")[0] for v in m.variables]
        self.shapes = [_shape(v.shape) for v in m.variables]
        self.trainable_mask = [bool(v.trainable) for v in m.variables]
        if m.checkpoint:
            self._restore(m.checkpoint)
        self._x_shape = _shape(m.inputs.shape)[1:]
        self.watch = _StepWatch(self.style)
        # What the comparisons feed to switch randomness off (dropout's keep_prob = 1.0, say).
        self.held_fixed = [f"{t.name}={_plain(v)}" for t, v in m.eval_feeds.items()]
        # What the walk of the graph's ops found, for the report (parity.graph_trust).
        self.graph_trust = m.graph_trust

    def _restore(self, prefix):
        """The model variables from the Saver checkpoint `prefix`, by name, or by creation order where
        its names are TF1's defaults (parity.transfer.read_checkpoint)."""
        from parity import transfer

        self.set_weights(transfer.read_checkpoint(prefix, self.names, self.shapes))

    @classmethod
    def from_spec(cls, spec, seed=0, graph=None, **options):
        """The model's legacy graph, built into `graph` (a new one if None) with the recipe's learning
        rate; `options` go to its builder (e.g. inputs=(images, labels) tensors already in `graph`)."""
        return cls.from_source(spec.legacy_source(**options), seed, graph)

    @classmethod
    def from_source(cls, source, seed=0, graph=None):
        """The legacy side a parity.legacy.LegacySource describes, in this process."""
        from parity import legacy

        return cls(legacy.build(source, seed, graph))

    def _feed(self, x, y=None, training=None, random=False):
        """The feed of a run: images (reshaped to the input's shape where it is known), labels, the
        training flag, and the model's train feeds where `random` (the free run's train op), else
        its eval feeds."""
        x = np.asarray(x, np.float32)
        if None not in self._x_shape:
            x = x.reshape((-1,) + self._x_shape)
        feed = {**self.model.eval_feeds, **self.model.train_feeds} if random else dict(self.model.eval_feeds)
        feed[self.model.inputs] = x
        if y is not None:
            feed[self.model.labels] = y
        if training is not None and self.model.training is not None:
            feed[self.model.training] = training
        return feed

    def info(self):
        """What a pair's other side is built and checked with, read from the graph: input and output
        shapes, the label format, the optimizer the train op applies, the loss it computes, the feeds
        that switch randomness off and the random ops the loss depends on (parity.legacy)."""
        from parity import legacy

        m = self.model
        return {"input_shape": self._x_shape, "output_shape": _shape(m.logits.shape)[1:],
                "labels": self.label_format(), "optimizer": legacy.optimizer_settings(self.session, m.train_op),
                "loss": legacy.loss_kind(m.loss),
                "eval_feeds": {t.name: _plain(v) for t, v in m.eval_feeds.items()},
                "train_feeds": {t.name: _plain(v) for t, v in m.train_feeds.items()},
                "random_ops": legacy.random_ops(m.loss), "endpoints": list(m.endpoints),
                "training_flag": m.training is not None}

    def label_format(self):
        """"one_hot", "sparse" or "images" (an autoencoder's targets): what the label placeholder takes."""
        labels = self.model.labels
        if len(labels.shape) > 2 and _shape(labels.shape)[1:] == self._x_shape:
            return "images"
        return "one_hot" if labels.dtype.is_floating and len(labels.shape) == 2 else "sparse"

    def param_counts(self):
        return param_counts(self.shapes, self.trainable_mask)

    def layer_shapes(self):
        return collections.OrderedDict((k, _shape(t.shape)) for k, t in self.model.endpoints.items())

    def fingerprint(self):
        """{"legacy graph": a digest of the GraphDef this runner built (its ops, their attributes)}."""
        return {"legacy graph": digest_text(self.graph.as_graph_def().SerializeToString(deterministic=True))}

    def dtypes(self):
        """The graph's dtypes: its outputs', its variables', and each named layer output's."""
        m = self.model
        return {"compute": m.logits.dtype.base_dtype.name,
                "variables": sorted({v.dtype.base_dtype.name for v in m.variables}),
                "layers": sorted({t.dtype.base_dtype.name for t in m.endpoints.values()}), "policy": None}

    def get_weights(self):
        return self.session.run(list(self.model.variables))

    def set_weights(self, values):
        self.session.run(self._assign, dict(zip(self._inputs, values)))

    def set_weight(self, index, value):
        self.session.run(self._assign_each[index], {self._inputs[index]: value})

    def forward(self, x, training=False):
        return self.session.run(self.model.logits, self._feed(x, training=training))

    def loss(self, x, y, training=True):
        return float(self.session.run(self.model.loss, self._feed(x, y, training)))

    def endpoint_values(self, x, training=False):
        values = self.session.run(dict(self.model.endpoints), self._feed(x, training=training))
        return collections.OrderedDict((k, values[k]) for k in self.model.endpoints)

    def loss_and_gradients(self, x, y, training=True):
        loss, grads = self.session.run([self.model.loss, self._gradients], self._feed(x, y, training))
        return float(loss), grads

    def gradients_and_kinks(self, x, y, training=True):
        """Loss, gradients, and the kink ops with their inputs, all from one run (parity.kinks)."""
        loss, grads, values = self.session.run([self.model.loss, self._gradients, self._kink_tensors],
                                               self._feed(x, y, training))
        return float(loss), grads, self._kink_ops, values

    @property
    def step(self):
        """Training steps taken since the optimizer's last reset."""
        return self.watch.step

    def train(self, batches, num_steps, on_step=None):
        """Runs `num_steps` steps of the train op; returns their losses. Raises Diverged at the
        first non-finite loss."""
        fetches = [self.model.train_op, self.model.loss]

        def step(x, y):
            return float(self.session.run(fetches, self._feed(x, y, training=True, random=True))[1])
        return run_steps(step, batches, num_steps, self.watch, on_step)

    def timed_steps(self, x, y, phase, steps):
        """Runs `steps` steps of one fixed batch, "train" (the train op with its training feeds, as
        the free run) or "infer" (the outputs); returns (each step's seconds, the last loss or None).
        The feed is made once, outside the clock, so the time is Session.run's. For a legacy side in
        a process of its own (parity.isolated), the loop runs there and only the times come back."""
        import time

        train = phase == "train"
        feed = self._feed(x, y, training=True, random=True) if train else self._feed(x)
        fetches = [self.model.train_op, self.model.loss] if train else self.model.logits
        times, loss = [], None
        for _ in range(steps):
            began = time.perf_counter()
            value = self.session.run(fetches, feed)
            times.append(time.perf_counter() - began)
            if train:
                loss = float(value[1])
                if not np.isfinite(loss):
                    break
        return times, loss

    def train_step_with_gradients(self, x, y):
        """One step of the model's train op; returns its loss and the gradients it applied."""
        _, loss, grads = self.session.run([self.model.train_op, self.model.loss, self._gradients],
                                          self._feed(x, y, training=True))
        return float(loss), grads

    def reset_optimizer(self):
        self.session.run(self._reset_optimizer)
        self.watch.reset()

    def training_state(self):
        """(name, value) of every variable training changes: the model's, then the optimizer's."""
        names = self.names + [v.name.split(":")[0] for v in self._optimizer_variables]
        values = self.session.run(list(self.model.variables) + self._optimizer_variables)
        return list(zip(names, values))

    def restore_training_state(self, state, step):
        """Puts back what training_state() returned, the step count `step` included."""
        values = _match_state(state, self.training_state())
        count = len(self.names)
        self.set_weights(values[:count])
        self.session.run(self._assign_optimizer, dict(zip(self._optimizer_inputs, values[count:])))
        self.watch.reset(step)

    def predict(self, x, batch_size=256, batch_statistics=False):
        """Outputs in batches of `batch_size`; with `batch_statistics`, batch norm normalizes each batch
        by its own statistics (training mode), and the moving statistics stay as they were."""
        return np.concatenate([self.forward(x[i:i + batch_size], training=batch_statistics)
                               for i in range(0, len(x), batch_size)])

    def save(self, path):
        """Writes a TF1 Saver checkpoint with the prefix `path` (its folder made if missing) and the
        folder's `checkpoint` index naming it; returns the prefix. The files are written in a
        temporary folder beside them and moved into place, the index last, so an interrupted save
        leaves no checkpoint behind rather than half of one."""
        import shutil
        import tempfile

        prefix = Path(path)
        prefix.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{prefix.name}.", suffix=".partial", dir=prefix.parent))
        try:
            with self.graph.as_default():
                self._saver.save(self.session, str(staging / prefix.name), write_meta_graph=False,
                                 write_state=False)
            files = sorted(staging.iterdir(), key=lambda f: f.suffix == ".index")
            mask = outputs.umask()
            for f in files:
                os.chmod(f, 0o666 & ~mask)
                os.replace(f, prefix.parent / f.name)
            tf.compat.v1.train.update_checkpoint_state(str(prefix.parent), str(prefix))
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        outputs.record(prefix, "TF1 Saver checkpoint: .index, .data-*, and the folder's checkpoint file")
        return str(prefix)

    def close(self):
        self.session.close()


class KerasRunner:
    """Drives a Keras 3 model, training it in one of eager, function, xla or fit.

    `pairings` (parity.mapping) puts the weights in the legacy side's order and layout: then
    get_weights, set_weights and every gradient speak the legacy variables' order and shapes, and
    each check compares the two sides item by item. Random layers (dropout, Gaussian noise) are
    held off in every call that compares the styles, and on in training."""

    def __init__(self, model, make_optimizer, loss_fn, style="function", endpoints=None, input_shape=None,
                 pairings=None):
        Trainer = trainer_class()
        self._trainer_class = Trainer
        self.model = model
        self.style = style
        self._make_optimizer = make_optimizer
        self.loss_fn = loss_fn
        self.trainer = Trainer(model, make_optimizer(), loss_fn, style)
        self.watch = _StepWatch(style)
        native = list(model.weights)
        self.weights = [native[p.keras_index] for p in pairings] if pairings else native
        self._axes = [p.transpose for p in pairings] if pairings else [None] * len(native)
        self.names = [w.path for w in self.weights]
        self.shapes = [tuple(np.empty(tuple(w.shape)).transpose(a).shape) if a else tuple(w.shape)
                       for w, a in zip(self.weights, self._axes)]
        self.trainable_mask = [w.trainable for w in self.weights]
        self._random = _random_layers(model)
        self.held_fixed = [layer.name for layer in self._random]  # switched off in the comparisons
        self._x_shape = tuple(input_shape or model.inputs[0].shape[1:])
        # endpoints(x, training) -> OrderedDict of named outputs; functional models get one for free.
        self._endpoints = endpoints or _functional_endpoints(model)
        probe = np.zeros((2, *self._x_shape), np.float32)
        values = self._endpoints(probe, False)
        self._endpoint_shapes = collections.OrderedDict((k, (None, *tuple(v.shape[1:]))) for k, v in values.items())
        self._dtypes = {"compute": _dtype_name(model(probe, training=False)),
                        "variables": sorted({_dtype_name(w) for w in self.weights}),
                        "layers": sorted({_dtype_name(v) for v in values.values()}),
                        "policy": model.dtype_policy.name}

    def _images(self, x):
        """Images in the model's input shape ([batch, 784] and [batch, 28, 28, 1] both reach it)."""
        x = np.asarray(x, np.float32)
        return x.reshape((-1, *self._x_shape)) if None not in self._x_shape else x

    def _to_legacy(self, values, trainable_only=False):
        axes = [a for a, t in zip(self._axes, self.trainable_mask) if t] if trainable_only else self._axes
        return [np.transpose(v, a) if a else v for v, a in zip(values, axes)]

    def _from_legacy(self, values, trainable_only=False):
        axes = [a for a, t in zip(self._axes, self.trainable_mask) if t] if trainable_only else self._axes
        return [np.transpose(v, np.argsort(a)) if a else v for v, a in zip(values, axes)]

    @classmethod
    def from_spec(cls, spec, seed=0, style="function", epsilon=None, **options):
        import keras

        from eager_v2 import optimizers

        eager = spec.eager()
        keras.utils.set_random_seed(seed)
        model = eager.build_model(**options)
        epsilon = spec.recipe.epsilon if epsilon is None else epsilon

        def make_optimizer():
            return optimizers.adam(spec.recipe.learning_rate, epsilon)

        endpoints = None
        if hasattr(eager, "endpoints"):
            def endpoints(x, training):
                return eager.endpoints(model, x, training)
        # A subclassed model has no inputs to read its shape from; the builder's image_shape, where
        # given, is the shape it was built at.
        shape = options.get("image_shape") or (None if getattr(model, "inputs", None) else spec.input_shape)
        return cls(model, make_optimizer, eager.make_loss(), style, endpoints, input_shape=shape)

    def param_counts(self):
        return param_counts(self.shapes, self.trainable_mask)

    def layer_shapes(self):
        return collections.OrderedDict(self._endpoint_shapes)

    def dtypes(self):
        """The port's dtypes: its outputs', its weights', its named layer outputs', and its dtype policy
        (mixed_float16 computes in float16 over float32 weights)."""
        return dict(self._dtypes)

    def fingerprint(self):
        """Digests of what decides the port's training: the model (each layer's class and settings,
        and a subclassed model's own code), the optimizer's settings and the loss."""
        return {"port model": digest_text(_model_description(self.model)),
                "port optimizer": digest_text(_describe(self._make_optimizer())),
                "port loss": digest_text(_describe(self.loss_fn))}

    def get_weights(self):
        return self._to_legacy([w.numpy() for w in self.weights])

    def set_weights(self, values):
        for w, v in zip(self.weights, self._from_legacy(values)):
            w.assign(v)

    def forward(self, x, training=False):
        with randomness_off(self._random):
            return _numpy(self.model(self._images(x), training=training))

    def endpoint_values(self, x, training=False):
        with randomness_off(self._random):
            values = self._endpoints(self._images(x), training)
        return collections.OrderedDict((k, _numpy(v)) for k, v in values.items())

    def gradients_and_kinks(self, x, y, training=True):
        """Loss and gradients taken in graph mode (a tf.function), as the legacy graph takes them:
        eagerly taken gradients can part from any graph's (pitfall `eager-vs-graph-gradients`);
        and the kink ops of the traced forward pass with their inputs, all from one call
        (parity.kinks). On another Keras backend, its trainer's compiled gradient function, and
        no graph to read kink ops from: none are listed, and a gradient that parts is reported
        without that excuse."""
        if not _tensorflow_backend():
            return (*self._backend_gradients(x, y, training), [], [])
        if not hasattr(self, "_kinked_gradients"):
            variables = [w for w, t in zip(self.weights, self.trainable_mask) if t]
            traced_ops = {}

            @tf.function(reduce_retracing=True)
            def kinked_gradients(x, y, training):
                with tf.GradientTape() as tape:
                    loss = self.loss_fn(y, self.model(x, training=training))
                ops, tensors = kinks.kink_ops(tf.compat.v1.get_default_graph().get_operations())
                traced_ops[bool(training)] = ops
                return loss, tape.gradient(loss, variables), tensors
            self._kinked_gradients, self._traced_kink_ops = kinked_gradients, traced_ops
        with randomness_off(self._random):
            loss, grads, values = self._kinked_gradients(tf.constant(self._images(x)), tf.constant(y),
                                                         bool(training))
        return float(loss), self._to_legacy([g.numpy() for g in grads], trainable_only=True), \
            self._traced_kink_ops[bool(training)], [v.numpy() for v in values]

    def _backend_gradients(self, x, y, training):
        with randomness_off(self._random):
            loss, grads = self.trainer.gradients(self._images(x), y, training)
        order = {id(v): i for i, v in enumerate(self.model.trainable_variables)}
        mine = [w for w, t in zip(self.weights, self.trainable_mask) if t]
        return loss, self._to_legacy([grads[order[id(w)]] for w in mine], trainable_only=True)

    @property
    def step(self):
        """Training steps taken since the optimizer's last reset."""
        return self.watch.step

    def train(self, batches, num_steps, on_step=None):
        """Runs `num_steps` training steps; returns their losses. Raises Diverged at the first
        non-finite loss."""
        def watched(i, loss):
            self.watch(loss)
            if on_step is not None:
                on_step(i, loss)
        return self.trainer.train(((self._images(x), y) for x, y in batches), num_steps, watched)

    def forced_step(self, x, y, gradients):
        """Loss and own gradients on (x, y) at the current weights; then applies `gradients`
        (given in the order of the trainable weights) with this model's optimizer."""
        order = {id(v): i for i, v in enumerate(self.model.trainable_variables)}
        mine = [w for w, t in zip(self.weights, self.trainable_mask) if t]
        by_model_order = [None] * len(mine)
        for w, g in zip(mine, self._from_legacy(gradients, trainable_only=True)):
            by_model_order[order[id(w)]] = g
        with randomness_off(self._random):
            loss, grads = self.trainer.forced_step(self._images(x), y, by_model_order)
        return loss, self._to_legacy([grads[order[id(w)]] for w in mine], trainable_only=True)

    def reset_optimizer(self):
        self.trainer = self._trainer_class(self.model, self._make_optimizer(), self.loss_fn, self.style)
        self.watch.reset()

    def training_state(self):
        """(name, value) of every variable training changes: the model's, then the optimizer's."""
        optimizer = list(self.trainer.optimizer.variables)
        return [(w.path, w.numpy()) for w in self.weights] + [(v.path, np.asarray(v.numpy())) for v in optimizer]

    def restore_training_state(self, state, step):
        """Puts back what training_state() returned, the step count `step` included."""
        values = _match_state(state, self.training_state())
        for variable, value in zip(self.weights + list(self.trainer.optimizer.variables), values):
            variable.assign(value)
        self.watch.reset(step)

    def predict(self, x, batch_size=256, batch_statistics=False):
        """Outputs in batches of `batch_size`; with `batch_statistics`, batch norm normalizes each batch
        by its own statistics (training mode), and the moving statistics stay as they were: a
        training-mode call moves Keras' batch-norm statistics, so they are put back."""
        saved = [w.numpy() for w in self.weights] if batch_statistics else None
        try:
            return np.concatenate([self.forward(x[i:i + batch_size], training=batch_statistics)
                                   for i in range(0, len(x), batch_size)])
        finally:
            if saved is not None:
                for w, v in zip(self.weights, saved):
                    w.assign(v)

    def save(self, path):
        """Writes the weights to `path`, which must end in .weights.h5 (Keras 3's only format),
        whole or not at all (parity.outputs)."""
        return self.save_model(self.model, path)

    @staticmethod
    def save_model(model, path):
        with outputs.atomic(path, "Keras weights", suffix=".weights.h5") as tmp:
            model.save_weights(str(tmp))
        return str(path)

    def close(self):
        pass


def _tensorflow_backend():
    import keras

    return keras.backend.backend() == "tensorflow"


def trainer_class():
    """The Keras backend's trainer: eager_v2.training.Trainer on TensorFlow, JaxTrainer on JAX,
    TorchTrainer on torch."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        from eager_v2.training import Trainer

        return Trainer
    if backend == "jax":
        from eager_v2.jax_training import JaxTrainer

        return JaxTrainer
    if backend == "torch":
        from eager_v2.torch_training import TorchTrainer

        return TorchTrainer
    raise RuntimeError(f"Keras backend {backend!r}: tf-parity trains ports on the tensorflow, jax and torch backends")


def _dtype_name(value):
    import keras

    dtype = value.dtype if hasattr(value, "dtype") else keras.ops.convert_to_tensor(value).dtype
    return keras.backend.standardize_dtype(dtype)


def _numpy(value):
    import keras

    return np.asarray(keras.ops.convert_to_numpy(value))


# Keras layers that draw random numbers in training, and the attribute that switches each off.
RANDOM_LAYERS = {"Dropout": "rate", "SpatialDropout1D": "rate", "SpatialDropout2D": "rate",
                 "SpatialDropout3D": "rate", "GaussianDropout": "rate", "AlphaDropout": "rate",
                 "GaussianNoise": "stddev"}


def _random_layers(model):
    return [layer for layer in model._flatten_layers(include_self=False, recursive=True)
            if type(layer).__name__ in RANDOM_LAYERS]


@contextlib.contextmanager
def randomness_off(layers):
    """The dropout and noise `layers` (of a model) pass their input through while the block runs, also
    in training mode: the comparisons of the two styles run so, the legacy side with its eval feeds.
    (A tf.function traced inside the block keeps them off: such functions are only called here.)"""
    saved = [getattr(layer, RANDOM_LAYERS[type(layer).__name__]) for layer in layers]
    try:
        for layer in layers:
            setattr(layer, RANDOM_LAYERS[type(layer).__name__], 0.0)
        yield
    finally:
        for layer, value in zip(layers, saved):
            setattr(layer, RANDOM_LAYERS[type(layer).__name__], value)


def _match_state(state, current):
    """The values of `state` ((name, value) pairs from a checkpoint) in the order of `current`,
    after checking that both hold the same variables in the same order: the same shapes and last
    name components (Keras numbers its objects per process: `adam_3/iteration` is `adam/iteration`)."""
    if len(state) != len(current):
        raise ValueError(f"the checkpoint holds {len(state)} variables, the model and optimizer {len(current)}")
    for (name, value), (own, mine) in zip(state, current):
        if name.rsplit("/", 1)[-1] != own.rsplit("/", 1)[-1] or np.shape(value) != np.shape(mine):
            raise ValueError(f"the checkpoint's {name} {np.shape(value)} does not fit {own} {np.shape(mine)}")
    return [value for _, value in state]


def _functional_endpoints(model):
    """endpoints(x, training) giving every layer's output of a functional `model`, by layer name."""
    import keras

    outputs = collections.OrderedDict(
        (layer.name, layer.output) for layer in model.layers if not isinstance(layer, keras.layers.InputLayer))
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    probe = keras.Model(inputs, outputs)

    def endpoints(x, training):
        values = probe(x, training=training)
        return collections.OrderedDict((k, values[k]) for k in outputs)
    return endpoints


def digest_text(data):
    """A short SHA-256 of `data` (text or bytes): what fingerprints compare."""
    import hashlib

    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()[:16]


def _without_names(value):
    """A Keras config with its generated names left out ("dense_3" depends on what the process built
    before); the names a user gave stay in the layers' order."""
    if isinstance(value, dict):
        return {k: _without_names(v) for k, v in sorted(value.items()) if k not in ("name", "inbound_nodes")}
    if isinstance(value, (list, tuple)):
        return [_without_names(v) for v in value]
    return value


def _describe(obj):
    """Text identifying a Keras object or a function: its config where it has one, else its code."""
    import inspect
    import json

    config = getattr(obj, "get_config", None)
    if callable(config):
        try:
            return type(obj).__qualname__ + json.dumps(_without_names(config()), sort_keys=True, default=str)
        except Exception:  # a user's class whose get_config is not implemented
            pass
    target = obj if inspect.isfunction(obj) or inspect.ismethod(obj) else type(obj)
    try:
        return getattr(target, "__qualname__", "") + inspect.getsource(target)
    except (OSError, TypeError):
        return getattr(target, "__qualname__", type(obj).__name__)


def _model_description(model):
    """Each layer's class and settings, in order, and a subclassed model's code."""
    import inspect

    layers = [_describe(layer) for layer in model._flatten_layers(include_self=False)]
    own = ""
    if type(model).__module__.split(".")[0] != "keras":
        try:
            own = inspect.getsource(type(model))
        except (OSError, TypeError):
            own = type(model).__qualname__
    return "\n".join([type(model).__qualname__, own, *layers])

