# The 2018 "Build a CNN with tf.layers" estimator tutorial, cut down.
import tensorflow as tf


def cnn_model_fn(features, labels, mode):
    input_layer = tf.reshape(features["x"], [-1, 28, 28, 1])
    conv1 = tf.layers.conv2d(inputs=input_layer, filters=32, kernel_size=[5, 5], padding="same",  # expect: tf-keras-is-keras3
                             activation=tf.nn.relu)
    pool1 = tf.layers.max_pooling2d(inputs=conv1, pool_size=[2, 2], strides=2)  # expect: tf-keras-is-keras3
    flat = tf.reshape(pool1, [-1, 14 * 14 * 32])
    dense = tf.layers.dense(inputs=flat, units=1024, activation=tf.nn.relu)  # expect: tf-keras-is-keras3
    logits = tf.layers.dense(inputs=dense, units=10)  # expect: tf-keras-is-keras3
    loss = tf.losses.sparse_softmax_cross_entropy(labels=labels, logits=logits)
    optimizer = tf.train.GradientDescentOptimizer(learning_rate=0.001)
    return optimizer.minimize(loss=loss, global_step=tf.train.get_global_step())
