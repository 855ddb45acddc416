"""How the training styles group their steps into calls and read back each step's loss, on any Keras
backend (no TensorFlow import here: the JAX and torch backends run without it)."""
import keras
import numpy as np

# Steps the function style's train() runs per compiled call. Each call has a fixed price
# (argument matching, the call op, the host sync; 0.34 ms for a near-empty tf.function on a
# 2-core Xeon), which mnist_cnn's step felt as 8 to 15%: one call per step against ten, timed
# interleaved.
STEPS_PER_CALL = 10


def same_shapes(block):
    """The (x, y) batches of `block` in order, cut into runs of one shape (an epoch's partial batch
    stands alone), each run a list."""
    runs = []
    for x, y in block:
        if runs and np.shape(runs[-1][-1][0]) == np.shape(x) and np.shape(runs[-1][-1][1]) == np.shape(y):
            runs[-1].append((x, y))
        else:
            runs.append([(x, y)])
    return runs


class StepLosses(keras.callbacks.Callback):
    """Recovers each step's loss from the running mean Model.fit reports after every batch.

    Keras 3 logs the epoch's mean loss so far; step k's loss is k*mean_k - (k-1)*mean_(k-1).
    With float32 means near 1 the recovered value is exact to about k * 6e-8.
    """

    def __init__(self, on_step=None):
        super().__init__()
        self.on_step = on_step
        self.losses = []
        self._previous_total = 0.0

    def on_train_batch_end(self, batch, logs=None):
        total = (batch + 1) * float(logs["loss"])
        self.losses.append(total - self._previous_total)
        self._previous_total = total
        if self.on_step is not None:
            self.on_step(batch, self.losses[-1])


def train_in_blocks(trainer, batches, num_steps, on_step=None):
    """A trainer's train() outside fit: blocks of up to trainer.steps_per_call batches, each run of
    one shape (same_shapes) one trainer.train_steps call and a lone batch one train_step call;
    returns the step losses, calling `on_step(step_index, loss)` after each."""
    losses = []
    while len(losses) < num_steps:
        block = [next(batches) for _ in range(min(trainer.steps_per_call, num_steps - len(losses)))]
        for run in same_shapes(block):
            if len(run) == 1:
                done = [trainer.train_step(*run[0])]
            else:
                done = trainer.train_steps(np.stack([x for x, _ in run]), np.stack([y for _, y in run]))
            # A non-finite loss is seen here, at the end of its block; on_step (a runner's
            # watch) names its step. The block's later steps have run, but are not reported.
            for loss in done:
                losses.append(loss)
                if on_step is not None:
                    on_step(len(losses) - 1, loss)
    return losses


def fit_steps(model, batches, num_steps, on_step=None):
    """Model.fit over the next `num_steps` (x, y) pairs of `batches`, fed from a Python generator;
    returns each step's loss (StepLosses)."""
    recorder = StepLosses(on_step)
    steps = (next(batches) for _ in range(num_steps))
    model.fit(steps, epochs=1, steps_per_epoch=num_steps, verbose=0, shuffle=False, callbacks=[recorder])
    return recorder.losses
