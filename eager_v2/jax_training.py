"""The training styles on Keras' JAX backend: a stateless step (Model.stateless_call, jax.value_and_grad,
Optimizer.stateless_apply), run as it is (eager), under jax.jit (function and xla: JAX compiles
every jitted function with XLA), or through Model.fit. Same interface as training.Trainer."""
import jax
import keras
import numpy as np

from eager_v2.blocks import fit_steps, train_in_blocks

STYLES = ("eager", "function", "xla", "fit")


class JaxTrainer:
    """Trains `model` with `optimizer` and `loss_fn` in one of STYLES; every style reports the loss
    of each step, computed before that step's update.

    In the function and xla styles, train() runs up to `steps_per_call` steps in one jitted call
    scanning the step over the stacked batches (train_steps, jax.lax.scan), with one dispatch and one
    host sync per block (eager_v2.blocks.STEPS_PER_CALL is the TensorFlow Trainer's). The default is
    one call per step: on XLA's CPU backend the scanned step ran 12 times slower (mnist_cnn, batch 64:
    455 ms against 37 ms a step), as XLA leaves the backward convolutions in the while loop's body in
    dimension orders its fast convolution does not take (f01b_i01o->01bf) and emits them as plain
    loops; outside a loop it transposes them to b01f_01io->b01f. The scanned step's losses equal one
    call per step's; its convolution gradients, compiled in another module, differ in the last bits
    (7.5e-7 of their largest element in mnist_cnn's first step)."""

    def __init__(self, model, optimizer, loss_fn, style="function", steps_per_call=None):
        if style not in STYLES:
            raise ValueError(f"unknown training style {style!r}; choose one of {', '.join(STYLES)}")
        self.model, self.optimizer, self.loss_fn, self.style = model, optimizer, loss_fn, style
        self.steps_per_call = max(1, steps_per_call or 1) if style in ("function", "xla") else 1
        self.optimizer.build(model.trainable_variables)
        if style == "fit":
            model.compile(optimizer=optimizer, loss=loss_fn, jit_compile=True)
        compile_ = (lambda f: f) if style == "eager" else jax.jit
        self._step = compile_(self._stateless_step)
        self._steps = compile_(self._stateless_steps)
        self._value_and_grad = {
            mode: compile_(jax.value_and_grad(lambda *a, mode=mode: self._loss(*a, training=mode), has_aux=True))
            for mode in (True, False)}

    def _loss(self, trainable, non_trainable, x, y, training=True):
        y_pred, non_trainable = self.model.stateless_call(trainable, non_trainable, x, training=training)
        return self.loss_fn(y, y_pred), non_trainable

    def _stateless_step(self, state, x, y):
        trainable, non_trainable, slots = state
        (loss, non_trainable), grads = jax.value_and_grad(self._loss, has_aux=True)(trainable, non_trainable, x, y)
        trainable, slots = self.optimizer.stateless_apply(slots, grads, trainable)
        return loss, (trainable, non_trainable, slots)

    def _stateless_steps(self, state, xs, ys):
        """One step per leading index of the stacked batches `xs`, `ys`; returns their losses and the state."""
        def step(state, batch):
            loss, state = self._stateless_step(state, *batch)
            return state, loss

        state, losses = jax.lax.scan(step, state, (xs, ys))
        return losses, state

    def _groups(self):
        return self.model.trainable_variables, self.model.non_trainable_variables, self.optimizer.variables

    def _state(self):
        return tuple([v.value for v in group] for group in self._groups())

    def _write(self, state):
        for group, values in zip(self._groups(), state):
            for variable, value in zip(group, values):
                variable.assign(value)

    def gradients(self, x, y, training=True):
        """Loss and gradients at the current weights, in training or inference mode; nothing is updated."""
        trainable, non_trainable, _ = self._state()
        (loss, _), grads = self._value_and_grad[bool(training)](trainable, non_trainable, np.asarray(x), np.asarray(y))
        return float(loss), [np.asarray(g) for g in grads]

    def forced_step(self, x, y, gradients):
        """Computes this model's loss and gradients on (x, y), then applies the given `gradients`
        instead of its own (teacher forcing: both styles then follow one trajectory)."""
        trainable, non_trainable, _ = self._state()
        (loss, non_trainable), grads = self._value_and_grad[True](trainable, non_trainable, np.asarray(x),
                                                                  np.asarray(y))
        for variable, value in zip(self.model.non_trainable_variables, non_trainable):
            variable.assign(value)
        self.optimizer.apply([keras.ops.convert_to_tensor(g) for g in gradients], self.model.trainable_variables)
        return float(loss), [np.asarray(g) for g in grads]

    def train_step(self, x, y):
        """One step on one batch; returns its loss as a float."""
        if self.style == "fit":
            return self.train(iter([(x, y)]), 1)[0]
        loss, state = self._step(self._state(), jax.numpy.asarray(x), jax.numpy.asarray(y))
        self._write(state)
        return float(loss)

    def train_steps(self, xs, ys):
        """len(xs) steps, step i on (xs[i], ys[i]), in one call; returns their losses as floats."""
        losses, state = self._steps(self._state(), jax.numpy.asarray(xs), jax.numpy.asarray(ys))
        self._write(state)
        return [float(loss) for loss in np.asarray(losses)]

    def train(self, batches, num_steps, on_step=None):
        """Runs `num_steps` steps on the (x, y) pairs `batches` yields; returns the step losses.
        `on_step(step_index, loss)` is called after every step."""
        if self.style == "fit":
            return fit_steps(self.model, batches, num_steps, on_step)
        return train_in_blocks(self, batches, num_steps, on_step)
