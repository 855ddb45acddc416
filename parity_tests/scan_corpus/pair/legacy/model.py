# A 2018 TF1 classifier with tf.layers, the original of ../eager/model.py.
import tensorflow as tf


def build(x, y, training):
    with tf.variable_scope("model"):
        h = tf.layers.conv2d(x, 32, 3, padding="same", name="conv1")  # expect: tf-keras-is-keras3
        h = tf.layers.batch_normalization(h, momentum=0.9, epsilon=1e-5, training=training, fused=False,  # expect: tf-keras-is-keras3
                                          name="bn1")
        h = tf.nn.relu(h)
        h = tf.layers.max_pooling2d(h, 2, 2, padding="same", name="pool1")  # expect: tf-keras-is-keras3
        h = tf.reshape(h, [-1, 14 * 14 * 32])
        w = tf.get_variable("w", [14 * 14 * 32, 10], initializer=tf.truncated_normal_initializer(stddev=0.1))
        logits = tf.matmul(h, w)
    loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(labels=y, logits=logits))
    with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
        train_op = tf.train.AdamOptimizer(learning_rate=1e-4).minimize(loss)
    return train_op, loss
