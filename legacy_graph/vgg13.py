"""Seed 000's VGG13 written as a TF1 user would have: raw tf.nn ops on tf.compat.v1 variables.

Like the document, a conv part and an fc part joined by a reshape to 512:
5 units of two 3x3 SAME conv + ReLU and a 2x2 max-pool (64, 128, 256, 512, 512 filters)
-> [batch, 1, 1, 512] -> reshape [batch, 512] -> fc 256 ReLU, fc 128 ReLU, fc 100.
Softmax cross-entropy on logits; tf.compat.v1.train.AdamOptimizer(1e-4).
"""
import tensorflow as tf

from legacy_graph import layers
from legacy_graph.graph_model import GraphModel, endpoints

image_shape = (32, 32, 3)
num_classes = 100
learning_rate = 1e-4
units = (64, 128, 256, 512, 512)
fc_sizes = (256, 128)


def conv_net(x):
    """The conv part: [batch, 32, 32, 3] -> [batch, 1, 1, 512]."""
    with tf.compat.v1.variable_scope("conv_net"):
        for unit, filters in enumerate(units, start=1):
            for i in (1, 2):
                name = f"conv{unit}_{i}"
                x = layers.endpoint(name, tf.nn.relu(layers.conv2d(x, filters, 3, name=name)))
            x = layers.endpoint(f"pool{unit}", layers.max_pool(x))
    return x


def fc_net(x, num_classes):
    with tf.compat.v1.variable_scope("fc_net"):
        for i, size in enumerate(fc_sizes, start=1):
            x = layers.endpoint(f"fc{i}", tf.nn.relu(layers.dense(x, size, name=f"fc{i}")))
        return layers.endpoint(f"fc{len(fc_sizes) + 1}", layers.dense(x, num_classes, name=f"fc{len(fc_sizes) + 1}"))


def build(graph=None, learning_rate=learning_rate, seed=None, num_classes=num_classes, image_shape=image_shape,
          inputs=None):
    """Builds the graph into `graph` (a new one if None) and returns its handles.

    `inputs`, a pair of tensors (images, one-hot labels) already in `graph` (an iterator's
    get_next(), say), stands in for the two placeholders.
    """
    graph = graph if graph is not None else tf.Graph()
    with graph.as_default():
        if seed is not None:
            tf.compat.v1.set_random_seed(seed)
        x, y_true = layers.placeholders(image_shape, [num_classes], inputs=inputs)
        # VGG13 has no batch norm or dropout: the flag changes nothing, and is here so every
        # model is driven alike.
        training = tf.compat.v1.placeholder_with_default(False, shape=[], name="training")
        features = conv_net(x)
        flat = layers.endpoint("reshape", tf.reshape(features, [-1, 512]))  # [batch, 1, 1, 512] -> [batch, 512]
        logits = fc_net(flat, num_classes)
        variables = layers.model_variables()
        loss = tf.reduce_mean(tf.compat.v1.nn.softmax_cross_entropy_with_logits_v2(labels=y_true, logits=logits))
        optimizer = tf.compat.v1.train.AdamOptimizer(learning_rate=learning_rate)
        train_op, gradients = layers.minimize(optimizer, loss)
        y_pred_cls = tf.argmax(logits, axis=1)
        accuracy = tf.reduce_mean(tf.cast(tf.equal(y_pred_cls, tf.argmax(y_true, axis=1)), tf.float32))
    return GraphModel(graph=graph, inputs=x, labels=y_true, training=training, logits=logits, y_pred_cls=y_pred_cls,
                      loss=loss, train_op=train_op, accuracy=accuracy, variables=variables,
                      endpoints=endpoints(graph), gradients=gradients)
