"""Seed 001's MNIST CNN, written the way the document wrote it: TF1 graph code through tf.compat.v1.

conv 5x5x1x16 (SAME, +bias, 2x2 max-pool, ReLU)  -> [batch, 14, 14, 16]
conv 5x5x16x36 (SAME, +bias, 2x2 max-pool, ReLU) -> [batch, 7, 7, 36]
flatten -> [batch, 1764]; fc 128 ReLU; fc 10 (logits)
softmax_cross_entropy_with_logits_v2, mean; tf.compat.v1.train.AdamOptimizer(1e-4).
"""
import time
from datetime import timedelta

import numpy as np
import tensorflow as tf

from legacy_graph.graph_model import GraphModel, add_endpoint, endpoints
from parity import evaluation

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
train_batch_size = 64
test_batch_size = 256


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


class Seed001(evaluation.TestReport):
    """The document's session workflow: optimize(), print_test_accuracy(), the plots, and a Saver.

    `data` is what `input_data.read_data_sets(..., one_hot=True)` returns.
    """

    def __init__(self, data, learning_rate=learning_rate, train_batch_size=train_batch_size, seed=None,
                 class_names=None):
        self.data = data
        self.train_batch_size = train_batch_size
        self.class_names = class_names
        self.model = build(tf.Graph(), learning_rate=learning_rate, seed=seed)
        with self.model.graph.as_default():
            self.saver = tf.compat.v1.train.Saver(var_list=list(self.model.variables), max_to_keep=None)
            init = tf.compat.v1.global_variables_initializer()
        self.session = tf.compat.v1.Session(graph=self.model.graph)
        self.session.run(init)
        self.total_iterations = 0

    def optimize(self, num_iterations, log=print, progress=None):
        """Runs `num_iterations` Adam steps on training batches; returns the seconds it took."""
        m = self.model
        start_time = time.time()
        for i in range(self.total_iterations, self.total_iterations + num_iterations):
            x_batch, y_true_batch = self.data.train.next_batch(self.train_batch_size)
            feed_dict_train = {m.inputs: x_batch, m.labels: y_true_batch}
            self.session.run(m.train_op, feed_dict=feed_dict_train)
            if i % 100 == 0:
                acc = self.session.run(m.accuracy, feed_dict=feed_dict_train)
                log(f"Optimization Iteration: {i + 1:>6}, Training Accuracy: {acc:>6.1%}")
            if progress is not None:
                progress.update(1)
        self.total_iterations += num_iterations
        time_dif = time.time() - start_time
        log("Time usage: " + str(timedelta(seconds=int(round(time_dif)))))
        return time_dif

    def predict_cls(self, images, batch_size=test_batch_size):
        """Predicted classes, in batches of `batch_size` as the document evaluated."""
        cls_pred = np.zeros(shape=len(images), dtype=np.int64)
        for i in range(0, len(images), batch_size):
            j = min(i + batch_size, len(images))
            cls_pred[i:j] = self.session.run(self.model.y_pred_cls, feed_dict={self.model.inputs: images[i:j]})
        return cls_pred

    def layer_output(self, name, image):
        """One image's output of a named layer (for example `conv1_relu`): [H, W, C]."""
        values = self.session.run(self.model.endpoints[name], feed_dict={self.model.inputs: [image]})
        return values[0]

    def conv_weights(self, name):
        """A conv layer's filters, [h, w, in, out]."""
        weights = {v.name: v for v in self.model.variables}[f"{name}/weights:0"]
        return self.session.run(weights)

    def save(self, path):
        # Saver builds ops on use: outside its graph it would act as if eager and refuse.
        with self.model.graph.as_default():
            return self.saver.save(self.session, str(path))

    def restore(self, path):
        with self.model.graph.as_default():
            self.saver.restore(self.session, str(path))

    def close(self):
        self.session.close()
