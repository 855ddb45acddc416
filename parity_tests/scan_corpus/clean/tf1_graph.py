# TF1 graph code written so that TF 2 runs it beside Keras 3.
import tensorflow as tf


def build(learning_rate=1e-4):
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 28, 28, 1], name="x")
        y = tf.compat.v1.placeholder(tf.float32, [None, 10], name="y")
        w = tf.compat.v1.get_variable("w", [5, 5, 1, 16],
                                      initializer=tf.compat.v1.truncated_normal_initializer(stddev=0.05))
        h = tf.nn.relu(tf.nn.conv2d(x, w, strides=1, padding="SAME"))
        h = tf.compat.v1.image.resize_bilinear(h, [56, 56], half_pixel_centers=True)
        logits = tf.reduce_mean(h, axis=[1, 2, 3], keepdims=True) * tf.ones([1, 10])
        loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits))
        optimizer = tf.compat.v1.train.AdamOptimizer(learning_rate=learning_rate)
        with tf.control_dependencies(tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)):
            train_op = optimizer.minimize(loss)
    return graph, train_op
