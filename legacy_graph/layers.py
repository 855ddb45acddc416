"""The MNIST CNN's helpers idiom, grown for deeper models.

Each helper makes its variables with tf.compat.v1.get_variable inside a variable scope named
like the Keras layer it is ported to, so `conv1/weights` pairs with Keras' `conv1/kernel`.
Weights start glorot-uniform and biases zero: get_variable's default and Keras'.
"""
import tensorflow as tf

from legacy_graph.graph_model import add_endpoint


def new_weights(shape, name="weights"):
    return tf.compat.v1.get_variable(name, shape=shape, initializer=tf.compat.v1.glorot_uniform_initializer())


def new_biases(length, name="biases"):
    return tf.compat.v1.get_variable(name, shape=[length], initializer=tf.compat.v1.zeros_initializer())


def endpoint(name, tensor):
    """Records `tensor` as the named output the parity report walks when the styles part."""
    return add_endpoint(tf.compat.v1.get_default_graph(), name, tensor)

def placeholders(image_shape, label_shape, label_dtype=tf.float32, inputs=None):
    """The image and label placeholders `x` and `y_true` ([None, *shape] each), or, where `inputs`
    is a pair of tensors already in the graph (an iterator's get_next(), say), that pair instead."""
    if inputs is not None:
        return tuple(inputs)
    x = tf.compat.v1.placeholder(tf.float32, shape=[None, *image_shape], name="x")
    y_true = tf.compat.v1.placeholder(label_dtype, shape=[None, *label_shape], name="y_true")
    return x, y_true



def conv2d(input, num_filters, kernel_size, stride=1, padding="SAME", use_bias=True, name="conv"):
    """tf.nn.conv2d with a [k, k, in, out] kernel, then tf.nn.bias_add."""
    kernel = [kernel_size, kernel_size] if isinstance(kernel_size, int) else list(kernel_size)
    with tf.compat.v1.variable_scope(name):
        weights = new_weights(kernel + [int(input.get_shape()[-1]), num_filters])
        layer = tf.nn.conv2d(input, weights, strides=[1, stride, stride, 1], padding=padding)
        if use_bias:
            layer = tf.nn.bias_add(layer, new_biases(num_filters))
    return layer


def depthwise_conv2d(input, kernel_size, stride=1, padding="SAME", use_bias=False, name="depthwise"):
    """tf.nn.depthwise_conv2d with a [k, k, channels, 1] kernel (channel multiplier 1)."""
    channels = int(input.get_shape()[-1])
    with tf.compat.v1.variable_scope(name):
        # `weights` like every kernel: Keras 3's DepthwiseConv2D calls its kernel `kernel`
        # (Keras 2 said `depthwise_kernel`).
        weights = new_weights([kernel_size, kernel_size, channels, 1])
        layer = tf.nn.depthwise_conv2d(input, weights, strides=[1, stride, stride, 1], padding=padding)
        if use_bias:
            layer = tf.nn.bias_add(layer, new_biases(channels))
    return layer


def dense(input, num_outputs, name="fc"):
    with tf.compat.v1.variable_scope(name):
        weights = new_weights([int(input.get_shape()[-1]), num_outputs])
        return tf.nn.bias_add(tf.matmul(input, weights), new_biases(num_outputs))


def max_pool(input, size=2, stride=2, padding="SAME"):
    return tf.nn.max_pool2d(input, ksize=size, strides=stride, padding=padding)


def upsample(input, factor=2, method="nearest"):
    """Enlarges height and width `factor` times: `nearest` repeats pixels, `bilinear` interpolates.

    TF1's resize_bilinear defaulted to half_pixel_centers=False, which shifts the image by half a
    pixel against Keras' UpSampling2D (pitfall `resize-half-pixel-centers`); True matches it.
    """
    height, width = (int(d) * factor for d in input.get_shape()[1:3])
    if method == "nearest":
        return tf.compat.v1.image.resize_nearest_neighbor(input, [height, width])
    if method == "bilinear":
        return tf.compat.v1.image.resize_bilinear(input, [height, width], half_pixel_centers=True)
    raise ValueError(f"unknown upsampling method {method!r}; choose nearest or bilinear")


def batch_norm(input, training, momentum=0.99, epsilon=1e-3, name="bn"):
    """Batch normalization the TF1 way, with Keras' defaults (momentum 0.99, epsilon 1e-3).

    While `training` is true the batch's mean and (biased) variance normalize, and the moving
    averages are updated by ops put in the UPDATE_OPS collection: the train op must depend on
    them, or the moving statistics never move. At inference the moving averages normalize.
    """
    channels = int(input.get_shape()[-1])
    with tf.compat.v1.variable_scope(name):
        gamma = tf.compat.v1.get_variable("gamma", [channels], initializer=tf.compat.v1.ones_initializer())
        beta = tf.compat.v1.get_variable("beta", [channels], initializer=tf.compat.v1.zeros_initializer())
        moving_mean = tf.compat.v1.get_variable("moving_mean", [channels], trainable=False,
                                                initializer=tf.compat.v1.zeros_initializer())
        moving_variance = tf.compat.v1.get_variable("moving_variance", [channels], trainable=False,
                                                    initializer=tf.compat.v1.ones_initializer())
        batch_mean, batch_variance = tf.nn.moments(input, axes=list(range(len(input.get_shape()) - 1)))
        mean, variance = tf.cond(training, lambda: (batch_mean, batch_variance),
                                 lambda: (tf.identity(moving_mean), tf.identity(moving_variance)))
        for variable, value in ((moving_mean, batch_mean), (moving_variance, batch_variance)):
            update = tf.cond(
                training,
                lambda v=variable, x=value: tf.compat.v1.assign(v, v * momentum + x * (1.0 - momentum)),
                lambda v=variable: tf.identity(v))
            tf.compat.v1.add_to_collection(tf.compat.v1.GraphKeys.UPDATE_OPS, update)
        return tf.nn.batch_normalization(input, mean, variance, beta, gamma, epsilon)


def minimize(optimizer, loss, run_update_ops=True):
    """The train op and the gradients it applies; with `run_update_ops` the train op first runs
    the batch-norm updates in UPDATE_OPS.

    run_update_ops=False is the classic TF1 mistake, kept to show what it does.
    """
    grads_and_vars = optimizer.compute_gradients(loss)
    update_ops = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS) if run_update_ops else []
    with tf.control_dependencies(update_ops):
        train_op = optimizer.apply_gradients(grads_and_vars)
    return train_op, [g for g, _ in grads_and_vars]


def model_variables(scope=None):
    """Every variable made so far, in creation order: the canonical order of weight transfer."""
    return tuple(tf.compat.v1.global_variables(scope))
