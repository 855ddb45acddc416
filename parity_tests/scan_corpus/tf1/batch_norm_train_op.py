# Batch norm with tf.layers and a train op that forgets UPDATE_OPS (2017 answers).
import tensorflow as tf


def build(x, y, is_training):
    h = tf.layers.conv2d(x, 64, 3, padding="same", use_bias=False)  # expect: tf-keras-is-keras3
    h = tf.layers.batch_normalization(h, training=is_training)  # expect: tf-keras-is-keras3, batchnorm-fused-variance
    h = tf.nn.relu(h)
    logits = tf.layers.dense(tf.layers.flatten(h), 10)  # expect: tf-keras-is-keras3
    loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(labels=y, logits=logits))
    train_op = tf.train.AdamOptimizer(1e-3).minimize(loss)  # expect: batchnorm-update-ops
    return train_op, loss
