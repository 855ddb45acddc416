"""A 2-layer MLP in the TF1 graph idiom: flatten, fc 32 ReLU, fc 10 (logits); softmax cross-entropy
on one-hot labels, batch mean; tf.compat.v1.train.AdamOptimizer."""
import tensorflow as tf

from legacy_graph import layers
from legacy_graph.graph_model import GraphModel, endpoints

image_shape = (28, 28, 1)
num_classes = 10
hidden = 32
learning_rate = 1e-3


def build(graph=None, learning_rate=learning_rate, seed=None, inputs=None):
    """Builds the graph into `graph` (a new one if None) and returns its handles."""
    graph = graph if graph is not None else tf.Graph()
    with graph.as_default():
        if seed is not None:
            tf.compat.v1.set_random_seed(seed)
        x, y_true = layers.placeholders(image_shape, [num_classes], inputs=inputs)
        flat = layers.endpoint("flatten", tf.reshape(x, [-1, 28 * 28]))  # [batch, 28, 28, 1] -> [batch, 784]
        fc1 = layers.endpoint("fc1", tf.nn.relu(layers.dense(flat, hidden, name="fc1")))
        logits = layers.endpoint("fc2", layers.dense(fc1, num_classes, name="fc2"))
        variables = layers.model_variables()
        loss = tf.reduce_mean(tf.compat.v1.nn.softmax_cross_entropy_with_logits_v2(labels=y_true, logits=logits))
        optimizer = tf.compat.v1.train.AdamOptimizer(learning_rate=learning_rate)
        train_op, gradients = layers.minimize(optimizer, loss)
        y_pred_cls = tf.argmax(logits, axis=1)
        accuracy = tf.reduce_mean(tf.cast(tf.equal(y_pred_cls, tf.argmax(y_true, axis=1)), tf.float32))
    return GraphModel(graph=graph, inputs=x, labels=y_true, training=None, logits=logits, y_pred_cls=y_pred_cls,
                      loss=loss, train_op=train_op, accuracy=accuracy, variables=variables,
                      endpoints=endpoints(graph), gradients=gradients)
