"""How the compiled training styles group their steps into calls, on either Keras backend (no
TensorFlow import here: the JAX backend runs without it)."""
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
