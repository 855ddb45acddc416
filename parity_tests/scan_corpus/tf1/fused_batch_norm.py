import tensorflow as tf


def batch_norm(x, scale, offset):
    y, batch_mean, batch_variance = tf.nn.fused_batch_norm(x, scale, offset, epsilon=1e-3)  # expect: batchnorm-fused-variance
    return y, batch_mean, batch_variance
