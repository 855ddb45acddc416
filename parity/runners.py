"""One interface over both styles, so every check is written once.

A runner holds a model with its weights in canonical order and can: count parameters, list
layer output shapes, run a forward pass (also stage by stage), take gradients, and train on
a stream of batches. Images are float32 NHWC; labels are whatever the model's recipe wants.
"""
import collections
import math
import os
from pathlib import Path

import numpy as np

from parity import kinks, outputs
from parity.runtime import import_tensorflow

tf = import_tensorflow()


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


def param_counts(shapes, trainable_mask):
    """(trainable, non-trainable) parameter counts of weights with these shapes."""
    counts = [int(np.prod(s)) for s in shapes]
    trainable = sum(c for c, t in zip(counts, trainable_mask) if t)
    return trainable, sum(counts) - trainable


def _shape(static_shape):
    return tuple(None if d is None else int(d) for d in static_shape)


class GraphRunner:
    """Drives a legacy GraphModel in its own tf.Graph and Session (no global graph mode)."""

    style = "legacy"

    def __init__(self, model):
        self.model = m = model
        self.graph = m.graph
        with self.graph.as_default():
            self._trainable = [v for v in m.variables if v.trainable]
            # The train op's own gradients where the model exposes them: a gradient that is zero in
            # exact arithmetic holds rounding noise, which differs from one gradient graph to another.
            self._gradients = list(m.gradients) if m.gradients is not None else \
                tf.compat.v1.gradients(m.loss, self._trainable)
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
        self._x_shape = _shape(m.x.shape)[1:]
        self.watch = _StepWatch(self.style)

    @classmethod
    def from_spec(cls, spec, seed=0, graph=None, **options):
        """The model's legacy graph, built into `graph` (a new one if None) with the recipe's learning
        rate; `options` go to its builder (e.g. inputs=(images, labels) tensors already in `graph`)."""
        legacy = spec.legacy()
        return cls(legacy.build(graph if graph is not None else tf.Graph(), learning_rate=spec.recipe.learning_rate,
                                seed=seed, **options))

    def _feed(self, x, y=None, training=None):
        feed = {self.model.x: np.asarray(x, np.float32).reshape((-1,) + self._x_shape)}
        if y is not None:
            feed[self.model.y_true] = y
        if training is not None and self.model.training is not None:
            feed[self.model.training] = training
        return feed

    def param_counts(self):
        return param_counts(self.shapes, self.trainable_mask)

    def layer_shapes(self):
        return collections.OrderedDict((k, _shape(t.shape)) for k, t in self.model.endpoints.items())

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
        losses = []
        fetches = [self.model.train_op, self.model.loss]
        for i in range(num_steps):
            x, y = next(batches)
            _, loss = self.session.run(fetches, self._feed(x, y, training=True))
            losses.append(float(loss))
            self.watch(losses[-1])
            if on_step is not None:
                on_step(i, losses[-1])
        return losses

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
    """Drives a Keras 3 model, training it in one of eager, function, xla or fit."""

    def __init__(self, model, make_optimizer, loss_fn, style="function", endpoints=None, input_shape=None):
        from eager_v2.training import Trainer

        self._trainer_class = Trainer
        self.model = model
        self.style = style
        self._make_optimizer = make_optimizer
        self.loss_fn = loss_fn
        self.trainer = Trainer(model, make_optimizer(), loss_fn, style)
        self.watch = _StepWatch(style)
        self.weights = list(model.weights)
        self.names = [w.path for w in self.weights]
        self.shapes = [tuple(w.shape) for w in self.weights]
        self.trainable_mask = [w.trainable for w in self.weights]
        # endpoints(x, training) -> OrderedDict of named outputs; functional models get one for free.
        self._endpoints = endpoints or _functional_endpoints(model)
        input_shape = input_shape or tuple(model.inputs[0].shape[1:])
        probe = np.zeros((2, *input_shape), np.float32)
        self._endpoint_shapes = collections.OrderedDict(
            (k, (None, *tuple(v.shape[1:]))) for k, v in self._endpoints(probe, False).items())

    @classmethod
    def from_spec(cls, spec, seed=0, style="function", epsilon=None, **options):
        import keras

        eager = spec.eager()
        keras.utils.set_random_seed(seed)
        model = eager.build_model(**options)
        epsilon = spec.recipe.epsilon if epsilon is None else epsilon

        def make_optimizer():
            return eager.make_optimizer(learning_rate=spec.recipe.learning_rate, epsilon=epsilon)

        endpoints = None
        if hasattr(eager, "endpoints"):
            def endpoints(x, training):
                return eager.endpoints(model, x, training)
        runner = cls(model, make_optimizer, eager.make_loss(), style, endpoints, input_shape=spec.input_shape)
        return runner

    def param_counts(self):
        return param_counts(self.shapes, self.trainable_mask)

    def layer_shapes(self):
        return collections.OrderedDict(self._endpoint_shapes)

    def get_weights(self):
        return [w.numpy() for w in self.weights]

    def set_weights(self, values):
        for w, v in zip(self.weights, values):
            w.assign(v)

    def forward(self, x, training=False):
        return self.model(np.asarray(x, np.float32), training=training).numpy()

    def endpoint_values(self, x, training=False):
        values = self._endpoints(np.asarray(x, np.float32), training)
        return collections.OrderedDict((k, np.asarray(v)) for k, v in values.items())

    def loss_and_gradients(self, x, y, training=True):
        """Loss and gradients taken in graph mode (a tf.function), as the legacy graph takes them:
        eagerly taken gradients can part from any graph's (pitfall `eager-vs-graph-gradients`)."""
        if not hasattr(self, "_graph_gradients"):
            variables = [w for w, t in zip(self.weights, self.trainable_mask) if t]

            @tf.function(reduce_retracing=True)
            def graph_gradients(x, y, training):
                with tf.GradientTape() as tape:
                    loss = self.loss_fn(y, self.model(x, training=training))
                return loss, tape.gradient(loss, variables)
            self._graph_gradients = graph_gradients
        loss, grads = self._graph_gradients(tf.constant(x, tf.float32), tf.constant(y), bool(training))
        return float(loss), [g.numpy() for g in grads]

    def gradients_and_kinks(self, x, y, training=True):
        """As loss_and_gradients, and the kink ops of the traced forward pass with their inputs, all
        from one call (parity.kinks)."""
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
        loss, grads, values = self._kinked_gradients(tf.constant(x, tf.float32), tf.constant(y), bool(training))
        return float(loss), [g.numpy() for g in grads], self._traced_kink_ops[bool(training)], \
            [v.numpy() for v in values]

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
        return self.trainer.train(batches, num_steps, watched)

    def forced_step(self, x, y, gradients):
        """Loss and own gradients on (x, y) at the current weights; then applies `gradients`
        (given in the order of the trainable weights) with this model's optimizer."""
        order = {id(v): i for i, v in enumerate(self.model.trainable_variables)}
        mine = [w for w, t in zip(self.weights, self.trainable_mask) if t]
        by_model_order = [None] * len(mine)
        for w, g in zip(mine, gradients):
            by_model_order[order[id(w)]] = g
        loss, grads = self.trainer.forced_step(np.asarray(x, np.float32), y, by_model_order)
        return loss, [grads[order[id(w)]] for w in mine]

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
        saved = self.get_weights() if batch_statistics else None
        try:
            return np.concatenate([self.forward(x[i:i + batch_size], training=batch_statistics)
                                   for i in range(0, len(x), batch_size)])
        finally:
            if saved is not None:
                self.set_weights(saved)

    def save(self, path):
        """Writes the weights to `path`, which must end in .weights.h5 (Keras 3's only format),
        whole or not at all (parity.outputs)."""
        with outputs.atomic(path, "Keras weights", suffix=".weights.h5") as tmp:
            self.model.save_weights(str(tmp))
        return str(path)

    def close(self):
        pass


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
