import tensorflow as tf


def loss_of(probabilities, labels):
    # Clipped so the log stays finite, as many 2017 answers advised.
    return tf.reduce_mean(-tf.reduce_sum(labels * tf.log(tf.clip_by_value(probabilities, 1e-10, 1.0)), axis=1))  # expect: keras-softmax-logits
