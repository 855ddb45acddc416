"""The four ways to train a Keras 3 model: eager GradientTape, tf.function, XLA, Model.fit."""
import numpy as np
import tensorflow as tf
import keras

from eager_v2.blocks import STEPS_PER_CALL, StepLosses, train_in_blocks  # noqa: F401 (STEPS_PER_CALL: the API)

STYLES = ("eager", "function", "xla", "fit")


class Trainer:
    """Trains `model` with `optimizer` and `loss_fn` in one of STYLES; every style reports the
    loss of each step, computed before that step's update.

    In the function style, train() runs up to `steps_per_call` (default STEPS_PER_CALL) steps in
    one call of a tf.function looping over the stacked batches, and returns every step's loss: the
    same kernels on the same numbers as one call per step (train_step), bit for bit, with one call
    and one host sync per block. 1 gives one call per step. The xla style does the same in one
    XLA-compiled call where `steps_per_call` is given (XLA compiles the loop into a while loop);
    its default is one call per step."""

    def __init__(self, model, optimizer, loss_fn, style="function", steps_per_call=None):
        if style not in STYLES:
            raise ValueError(f"unknown training style {style!r}; choose one of {', '.join(STYLES)}")
        self.model, self.optimizer, self.loss_fn, self.style = model, optimizer, loss_fn, style
        self.steps_per_call = {"function": max(1, steps_per_call or STEPS_PER_CALL),
                               "xla": max(1, steps_per_call or 1)}.get(style, 1)
        self.optimizer.build(model.trainable_variables)
        if style == "fit":
            model.compile(optimizer=optimizer, loss=loss_fn, jit_compile=False)
        else:
            step = self._step
            # reduce_retracing: a new batch size (an epoch's last, partial batch) traces once more
            # with the batch dimension left unknown, not once per size.
            if style == "function":
                step = tf.function(step, reduce_retracing=True)
                self._compiled_steps = tf.function(self._steps, reduce_retracing=True)
            elif style == "xla":
                step = tf.function(step, jit_compile=True, reduce_retracing=True)
                self._compiled_steps = tf.function(self._steps, jit_compile=True, reduce_retracing=True)
            self._compiled_step = step

    def _step(self, x, y):
        with tf.GradientTape() as tape:
            logits = self.model(x, training=True)
            loss = self.loss_fn(y, logits)
            if self.model.losses:
                loss += tf.add_n(self.model.losses)
        grads = tape.gradient(loss, self.model.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.model.trainable_variables))
        return loss

    def _steps(self, xs, ys):
        """One step per leading index of the stacked batches `xs`, `ys`; returns their losses."""
        count = tf.shape(xs)[0]
        losses = tf.TensorArray(tf.float32, size=count)
        for i in tf.range(count):
            losses = losses.write(i, tf.cast(self._step(xs[i], ys[i]), tf.float32))
        return losses.stack()

    def train_steps(self, xs, ys):
        """len(xs) steps, step i on (xs[i], ys[i]), in one call (function and xla styles); returns
        their losses as floats."""
        losses = self._compiled_steps(tf.convert_to_tensor(xs), tf.convert_to_tensor(ys))
        return [float(loss) for loss in losses.numpy()]

    def forced_step(self, x, y, gradients):
        """Computes this model's loss and gradients on (x, y), then applies the given `gradients`
        instead of its own (teacher forcing: both styles then follow one trajectory)."""
        if not hasattr(self, "_forced"):
            step = self._forced_step
            if self.style == "xla":
                step = tf.function(step, jit_compile=True)
            elif self.style != "eager":
                step = tf.function(step)
            self._forced = step
        loss, grads = self._forced(tf.convert_to_tensor(x), tf.convert_to_tensor(y),
                                   [tf.convert_to_tensor(g) for g in gradients])
        return float(loss), [g.numpy() for g in grads]

    def _forced_step(self, x, y, gradients):
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            loss = self.loss_fn(y, self.model(x, training=True))
            if self.model.losses:
                loss += tf.add_n(self.model.losses)
        grads = tape.gradient(loss, variables)
        self.optimizer.apply_gradients(zip(gradients, variables))
        return loss, grads

    def train_step(self, x, y):
        """One step on one batch; returns its loss as a float."""
        if self.style == "fit":
            return self.train(iter([(x, y)]), 1)[0]
        return float(self._compiled_step(tf.convert_to_tensor(x), tf.convert_to_tensor(y)))

    def train(self, batches, num_steps, on_step=None):
        """Runs `num_steps` steps on the (x, y) pairs `batches` yields; returns the step losses.

        `on_step(step_index, loss)` is called after every step.
        """
        if self.style == "fit":
            return self._fit(batches, num_steps, on_step)
        return train_in_blocks(self, batches, num_steps, on_step)

    def _fit(self, batches, num_steps, on_step):
        first = next(batches)
        signature = tuple(tf.TensorSpec((None, *np.shape(a)[1:]), tf.as_dtype(np.asarray(a).dtype))
                          for a in first)

        def generate():
            yield first
            for _ in range(num_steps - 1):
                yield next(batches)

        dataset = tf.data.Dataset.from_generator(generate, output_signature=signature)
        recorder = StepLosses(on_step)
        self.model.fit(dataset, epochs=1, steps_per_epoch=num_steps, verbose=0, shuffle=False,
                       callbacks=[recorder])
        return recorder.losses
