"""Deep MNIST for experts, as a 2017 user wrote it, run through TensorFlow 2's compat.v1 the way the
migration guide's first step does: default variable names (`Variable` ... `Variable_7`), v2
behaviour disabled at import, dropout fed through a `keep_prob` placeholder, a Saver checkpoint.

This is the code being migrated: tf-parity reads it through `build()` (the code route) or through
the `.meta` graph and checkpoint `train_and_save()` writes (the saved-graph route).
"""
import tensorflow.compat.v1 as tf

tf.disable_v2_behavior()


def weight_variable(shape):
    initial = tf.truncated_normal(shape, stddev=0.1)
    return tf.Variable(initial)


def bias_variable(shape):
    initial = tf.constant(0.1, shape=shape)
    return tf.Variable(initial)


def conv2d(x, W):
    return tf.nn.conv2d(x, W, strides=[1, 1, 1, 1], padding='SAME')


def max_pool_2x2(x):
    return tf.nn.max_pool(x, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding='SAME')


def build():
    """The graph, and the tensors a tf-parity pair names."""
    x = tf.placeholder(tf.float32, shape=[None, 784])
    y_ = tf.placeholder(tf.float32, shape=[None, 10])

    W_conv1 = weight_variable([5, 5, 1, 32])
    b_conv1 = bias_variable([32])
    x_image = tf.reshape(x, [-1, 28, 28, 1])
    h_conv1 = tf.nn.relu(conv2d(x_image, W_conv1) + b_conv1)
    h_pool1 = max_pool_2x2(h_conv1)

    W_conv2 = weight_variable([5, 5, 32, 64])
    b_conv2 = bias_variable([64])
    h_conv2 = tf.nn.relu(conv2d(h_pool1, W_conv2) + b_conv2)
    h_pool2 = max_pool_2x2(h_conv2)

    W_fc1 = weight_variable([7 * 7 * 64, 1024])
    b_fc1 = bias_variable([1024])
    h_pool2_flat = tf.reshape(h_pool2, [-1, 7 * 7 * 64])
    h_fc1 = tf.nn.relu(tf.matmul(h_pool2_flat, W_fc1) + b_fc1)

    keep_prob = tf.placeholder(tf.float32)
    h_fc1_drop = tf.nn.dropout(h_fc1, keep_prob)

    W_fc2 = weight_variable([1024, 10])
    b_fc2 = bias_variable([10])
    y_conv = tf.matmul(h_fc1_drop, W_fc2) + b_fc2

    cross_entropy = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y_, logits=y_conv))
    train_step = tf.train.AdamOptimizer(1e-4).minimize(cross_entropy)
    return {"inputs": x, "labels": y_, "logits": y_conv, "loss": cross_entropy, "train_op": train_step,
            "train_feeds": {keep_prob: 0.5}, "eval_feeds": {keep_prob: 1.0},
            "endpoints": {"conv1": h_conv1, "pool1": h_pool1, "conv2": h_conv2, "pool2": h_pool2,
                          "fc1": h_fc1, "fc2": y_conv}}


def train_and_save(path, images, labels, steps=20, batch_size=50):
    """The script's training loop: `steps` Adam steps with dropout, then saver.save(sess, path), which
    writes the checkpoint and its .meta graph."""
    with tf.Graph().as_default():
        tf.set_random_seed(0)
        model = build()
        keep_prob = next(iter(model["train_feeds"]))
        saver = tf.train.Saver()
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            for i in range(steps):
                start = (i * batch_size) % len(images)
                batch = (images[start:start + batch_size], labels[start:start + batch_size])
                sess.run(model["train_op"], feed_dict={model["inputs"]: batch[0], model["labels"]: batch[1],
                                                       keep_prob: 0.5})
            return saver.save(sess, path)


if __name__ == "__main__":
    # The script as it ran: MNIST came from tensorflow.examples.tutorials.mnist.input_data, which
    # TensorFlow 2 removed; tf-parity's stand-in keeps read_data_sets(), and takes Fashion-MNIST
    # where MNIST is not on the machine. Writes checkpoints/model (+ .meta) beside this file.
    import argparse
    import os
    import sys

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    from parity.datasets import tutorial

    parser = argparse.ArgumentParser(description="train Deep MNIST for experts and save its checkpoint")
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    data = tutorial.read_data_sets("auto", one_hot=True)
    path = train_and_save(os.path.join(os.path.dirname(os.path.abspath(__file__)), "checkpoints", "model"),
                          data.train.images, data.train.labels, steps=args.steps)
    print(f"saved {path} and {path}.meta")
