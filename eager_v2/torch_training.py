"""The training styles on Keras' torch backend. The model's variables are torch parameters; a step is
the forward pass in training mode, the loss, torch.autograd.grad of it, then Optimizer.apply under
torch.no_grad(), as Keras' own torch trainer does (batch-norm statistics move in the forward pass).
eager runs that step as it is; fit is Model.fit (jit_compile=False). Same interface as
training.Trainer.

PyTorch has no graph function in TensorFlow's sense, so function and xla run the eager step: on
torch the three are one style, under TensorFlow's names so that a run may ask for any of them.
torch.compile of the step (what Keras' jit_compile=True means on torch) was measured with torch
2.13 on a 2-core CPU shared with other jobs, and left out: mnist_cnn compiled in 36 s (10 s from
inductor's warm cache) and again in 15 s for each new batch size (an epoch's last batch), then ran
13 ms steps against eager's 20; conv_autoencoder compiled in 67 s, then 221 s and 59 s for two
more batch sizes, and its compiled steps were slower than the eager ones; resnet18 (subclassed,
with batch norm) reached Dynamo's recompile limit."""
import keras
import numpy as np
import torch

from eager_v2.blocks import fit_steps, train_in_blocks

STYLES = ("eager", "function", "xla", "fit")


class TorchTrainer:
    """Trains `model` with `optimizer` and `loss_fn` in one of STYLES; every style reports the loss
    of each step, computed before that step's update. `steps_per_call` is the other trainers'
    argument: with no compiled function to call, every step here is a call of its own."""

    def __init__(self, model, optimizer, loss_fn, style="function", steps_per_call=None):
        if style not in STYLES:
            raise ValueError(f"unknown training style {style!r}; choose one of {', '.join(STYLES)}")
        self.model, self.optimizer, self.loss_fn, self.style = model, optimizer, loss_fn, style
        self.steps_per_call = 1
        self.optimizer.build(model.trainable_variables)
        if style == "fit":
            model.compile(optimizer=optimizer, loss=loss_fn, jit_compile=False)

    def _loss_and_gradients(self, x, y, training=True):
        """The loss (the model's own losses added, as in training) and its gradients, in the order of
        model.trainable_variables. Batch-norm statistics move as a training-mode call moves them."""
        variables = self.model.trainable_variables
        loss = self.loss_fn(y, self.model(x, training=training))
        if self.model.losses:
            loss = loss + sum(self.model.losses)
        grads = torch.autograd.grad(loss, [v.value for v in variables])
        return loss.detach(), list(grads)

    def _apply(self, gradients):
        with torch.no_grad():
            self.optimizer.apply(gradients, self.model.trainable_variables)

    @staticmethod
    def _tensors(x, y):
        return keras.ops.convert_to_tensor(np.asarray(x)), keras.ops.convert_to_tensor(np.asarray(y))

    @staticmethod
    def _numpy(tensors):
        return [t.detach().cpu().numpy() for t in tensors]

    def gradients(self, x, y, training=True):
        """Loss and gradients at the current weights, in training or inference mode; nothing is updated
        (the non-trainable state a training-mode call moves, batch-norm statistics and seeds, is put back)."""
        state = self.model.non_trainable_variables
        saved = [v.value.detach().clone() for v in state]
        try:
            loss, grads = self._loss_and_gradients(*self._tensors(x, y), training=bool(training))
        finally:
            for variable, value in zip(state, saved):
                variable.assign(value)
        return float(loss), self._numpy(grads)

    def forced_step(self, x, y, gradients):
        """Computes this model's loss and gradients on (x, y), then applies the given `gradients`
        instead of its own (teacher forcing: both styles then follow one trajectory)."""
        loss, grads = self._loss_and_gradients(*self._tensors(x, y))
        self._apply([keras.ops.convert_to_tensor(np.asarray(g)) for g in gradients])
        return float(loss), self._numpy(grads)

    def train_step(self, x, y):
        """One step on one batch; returns its loss as a float."""
        if self.style == "fit":
            return self.train(iter([(x, y)]), 1)[0]
        loss, grads = self._loss_and_gradients(*self._tensors(x, y))
        self._apply(grads)
        return float(loss)

    def train(self, batches, num_steps, on_step=None):
        """Runs `num_steps` steps on the (x, y) pairs `batches` yields; returns the step losses.
        `on_step(step_index, loss)` is called after every step."""
        if self.style == "fit":
            return fit_steps(self.model, batches, num_steps, on_step)
        return train_in_blocks(self, batches, num_steps, on_step)
