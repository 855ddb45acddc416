"""Seed 001's MNIST CNN, written the way the document wrote it: TF1 graph code through tf.compat.v1.

conv 5x5x1x16 (SAME, +bias, 2x2 max-pool, ReLU)  -> [batch, 14, 14, 16]
conv 5x5x16x36 (SAME, +bias, 2x2 max-pool, ReLU) -> [batch, 7, 7, 36]
flatten -> [batch, 1764]; fc 128 ReLU; fc 10 (logits)
softmax_cross_entropy_with_logits_v2, mean; tf.compat.v1.train.AdamOptimizer(1e-4).
"""
import tensorflow as tf

from legacy_graph.graph_model import GraphModel, add_endpoint, endpoints

img_size = 28
img_size_flat = img_size * img_size
img_shape = (img_size, img_size)
num_channels = 1
num_classes = 10

filter_size1 = 5
num_filters1 = 16
filter_size2 = 5
num_filters2 = 36
fc_size = 128

learning_rate = 1e-4


def new_weights(shape, name="weights"):
    """Truncated normal (mean 0, stddev 0.05): values beyond 2 stddev are drawn again."""
    return tf.compat.v1.Variable(tf.compat.v1.truncated_normal(shape, stddev=0.05), name=name)


def new_biases(length, name="biases"):
    """A small positive bias (0.05) keeps ReLU units from starting dead."""
    return tf.compat.v1.Variable(tf.constant(0.05, shape=[length]), name=name)


def new_conv_layer(input, num_input_channels, filter_size, num_filters, use_pooling=True, name="conv"):
    """conv (SAME, stride 1) + bias, then 2x2 max-pool (SAME), then ReLU: the document's order."""
    graph = tf.compat.v1.get_default_graph()
    with tf.compat.v1.variable_scope(name):
        shape = [filter_size, filter_size, num_input_channels, num_filters]
        weights = new_weights(shape)
        biases = new_biases(num_filters)
        layer = tf.compat.v1.nn.conv2d(input=input, filter=weights, strides=[1, 1, 1, 1], padding="SAME")
        layer += biases
        add_endpoint(graph, name, layer)
        if use_pooling:
            layer = tf.compat.v1.nn.max_pool(value=layer, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1],
                                             padding="SAME")
            add_endpoint(graph, f"{name}_pool", layer)
        layer = tf.nn.relu(layer)
        add_endpoint(graph, f"{name}_relu", layer)
    return layer, weights, biases


def flatten_layer(layer):
    layer_shape = layer.get_shape()
    num_features = layer_shape[1:4].num_elements()
    layer_flat = tf.reshape(layer, [-1, num_features])  # [batch, 7, 7, 36] -> [batch, 1764]
    add_endpoint(tf.compat.v1.get_default_graph(), "flatten", layer_flat)
    return layer_flat, num_features


def new_fc_layer(input, num_inputs, num_outputs, use_relu=True, name="fc"):
    with tf.compat.v1.variable_scope(name):
        weights = new_weights(shape=[num_inputs, num_outputs])
        biases = new_biases(length=num_outputs)
        layer = tf.matmul(input, weights) + biases
        if use_relu:
            layer = tf.nn.relu(layer)
    add_endpoint(tf.compat.v1.get_default_graph(), name, layer)
    return layer, weights, biases


def build(graph=None, learning_rate=learning_rate, seed=None, inputs=None):
    """Builds the document's graph into `graph` (a new one if None) and returns its handles.

    `inputs`, a pair of tensors (images, one-hot labels) already in `graph` (an iterator's
    get_next(), say), stands in for the two placeholders; images may be flat or [batch, 28, 28, 1].
    """
    graph = graph if graph is not None else tf.Graph()
    with graph.as_default():
        if seed is not None:
            tf.compat.v1.set_random_seed(seed)
        if inputs is None:
            x = tf.compat.v1.placeholder(tf.float32, shape=[None, img_size_flat], name="x")
            y_true = tf.compat.v1.placeholder(tf.float32, shape=[None, num_classes], name="y_true")
        else:
            x, y_true = inputs
        x_image = tf.reshape(x, [-1, img_size, img_size, num_channels])  # [batch, 784] -> [batch, 28, 28, 1]
        y_true_cls = tf.argmax(y_true, axis=1)

        layer_conv1, w_conv1, b_conv1 = new_conv_layer(
            input=x_image, num_input_channels=num_channels, filter_size=filter_size1,
            num_filters=num_filters1, use_pooling=True, name="conv1")
        layer_conv2, w_conv2, b_conv2 = new_conv_layer(
            input=layer_conv1, num_input_channels=num_filters1, filter_size=filter_size2,
            num_filters=num_filters2, use_pooling=True, name="conv2")
        layer_flat, num_features = flatten_layer(layer_conv2)
        layer_fc1, w_fc1, b_fc1 = new_fc_layer(layer_flat, num_features, fc_size, use_relu=True, name="fc1")
        layer_fc2, w_fc2, b_fc2 = new_fc_layer(layer_fc1, fc_size, num_classes, use_relu=False, name="fc2")

        y_pred = tf.nn.softmax(layer_fc2)
        y_pred_cls = tf.argmax(y_pred, axis=1)
        cross_entropy = tf.compat.v1.nn.softmax_cross_entropy_with_logits_v2(logits=layer_fc2, labels=y_true)
        cost = tf.reduce_mean(cross_entropy)
        optimizer = tf.compat.v1.train.AdamOptimizer(learning_rate=learning_rate)
        train_op = optimizer.minimize(cost)
        correct_prediction = tf.equal(y_pred_cls, y_true_cls)
        accuracy = tf.reduce_mean(tf.cast(correct_prediction, tf.float32))

    return GraphModel(
        graph=graph, inputs=x, labels=y_true, training=None, logits=layer_fc2, y_pred_cls=y_pred_cls,
        loss=cost, train_op=train_op, accuracy=accuracy,
        variables=(w_conv1, b_conv1, w_conv2, b_conv2, w_fc1, b_fc1, w_fc2, b_fc2),
        endpoints=endpoints(graph))

