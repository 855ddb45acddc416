"""One interface over both styles, so every check is written once.

A runner holds a model with its weights in canonical order and can: count parameters, list
layer output shapes, run a forward pass (also stage by stage), take gradients, and train on
a stream of batches. Images are float32 NHWC; labels are whatever the model's recipe wants.
"""
import collections

import numpy as np

from parity import kinks
from parity.runtime import import_tensorflow

tf = import_tensorflow()


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

    def train(self, batches, num_steps, on_step=None):
        losses = []
        fetches = [self.model.train_op, self.model.loss]
        for i in range(num_steps):
            x, y = next(batches)
            _, loss = self.session.run(fetches, self._feed(x, y, training=True))
            losses.append(float(loss))
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

    def predict(self, x, batch_size=256):
        return np.concatenate([self.forward(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])

    def save(self, path):
        """Writes a TF1 Saver checkpoint with the prefix `path`; returns the prefix."""
        with self.graph.as_default():
            return self._saver.save(self.session, str(path), write_meta_graph=False)

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

    def train(self, batches, num_steps, on_step=None):
        return self.trainer.train(batches, num_steps, on_step)

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

    def predict(self, x, batch_size=256):
        return np.concatenate([self.forward(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])

    def save(self, path):
        """Writes the weights to `path`, which must end in .weights.h5 (Keras 3's only format),
        through a temporary file so that an interrupted save leaves nothing behind."""
        import os
        from pathlib import Path

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".partial-{os.getpid()}-{path.name}")
        try:
            self.model.save_weights(str(tmp))
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()
        return str(path)

    def close(self):
        pass


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
