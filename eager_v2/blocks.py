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
