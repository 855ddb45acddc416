import tensorflow as tf


def loss_of(labels, logits):
    return tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))  # expect: loss-sum-vs-mean
