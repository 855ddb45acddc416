"""Seed 004's ResNet18 variant written as a TF1 user would have: raw tf.nn ops, batch norm with
moving statistics updated through UPDATE_OPS, and a training flag placeholder.

prelayer: 3x3 conv 64, BN, ReLU, 2x2 max-pool      -> [batch, 16, 16, 64]
reslayer: 4 stages of 2 basic blocks, 64/128/256/512 filters, strides 1/2/2/2 -> [batch, 2, 2, 512]
basic block: 3x3 conv(stride) BN ReLU 3x3 conv BN, plus a 1x1 conv(stride) shortcut in every
block (the document's variant), add, ReLU. Global average pool, fc 100.
Softmax cross-entropy on logits; tf.compat.v1.train.AdamOptimizer(0.01).
"""
import tensorflow as tf

from legacy_graph import layers
from legacy_graph.graph_model import GraphModel, endpoints

image_shape = (32, 32, 3)
num_classes = 100
learning_rate = 0.01
stages = ((64, 2, 1), (128, 2, 2), (256, 2, 2), (512, 2, 2))  # filters, blocks, first stride


def basic_block(input, filter_num, stride, training, name):
    with tf.compat.v1.variable_scope(name):
        out = layers.conv2d(input, filter_num, 3, stride, name="conv1")
        out = tf.nn.relu(layers.batch_norm(out, training, name="bn1"))
        out = layers.conv2d(out, filter_num, 3, 1, name="conv2")
        out = layers.batch_norm(out, training, name="bn2")
        identity = layers.conv2d(input, filter_num, 1, stride, padding="VALID", name="downsample")
        return tf.nn.relu(out + identity)


def build(graph=None, learning_rate=learning_rate, seed=None, num_classes=num_classes, image_shape=image_shape,
          run_update_ops=True, inputs=None):
    """Builds the graph into `graph` (a new one if None) and returns its handles.

    run_update_ops=False builds the classic TF1 mistake: a train op that never runs the
    batch-norm updates. `inputs`, a pair of tensors (images, one-hot labels) already in
    `graph` (an iterator's get_next(), say), stands in for the two placeholders.
    """
    graph = graph if graph is not None else tf.Graph()
    with graph.as_default():
        if seed is not None:
            tf.compat.v1.set_random_seed(seed)
        x, y_true = layers.placeholders(image_shape, [num_classes], inputs=inputs)
        training = tf.compat.v1.placeholder_with_default(False, shape=[], name="training")
        with tf.compat.v1.variable_scope("prelayer"):
            out = tf.nn.relu(layers.batch_norm(layers.conv2d(x, 64, 3, name="conv"), training, name="bn"))
            out = layers.endpoint("prelayer", layers.max_pool(out))
        with tf.compat.v1.variable_scope("reslayer"):
            for i, (filters, blocks, stride) in enumerate(stages, start=1):
                with tf.compat.v1.variable_scope(f"layer{i}/blocks"):
                    for b in range(blocks):
                        out = basic_block(out, filters, stride if b == 0 else 1, training, f"block{b}")
                        layers.endpoint(f"reslayer/layer{i}/blocks/block{b}", out)
        pooled = layers.endpoint("avgpool", tf.reduce_mean(out, axis=[1, 2]))  # [batch, 2, 2, 512] -> [batch, 512]
        logits = layers.endpoint("fc", layers.dense(pooled, num_classes, name="fc"))
        variables = layers.model_variables()
        loss = tf.reduce_mean(tf.compat.v1.nn.softmax_cross_entropy_with_logits_v2(labels=y_true, logits=logits))
        optimizer = tf.compat.v1.train.AdamOptimizer(learning_rate=learning_rate)
        train_op, gradients = layers.minimize(optimizer, loss, run_update_ops)
        y_pred_cls = tf.argmax(logits, axis=1)
        accuracy = tf.reduce_mean(tf.cast(tf.equal(y_pred_cls, tf.argmax(y_true, axis=1)), tf.float32))
    return GraphModel(graph=graph, inputs=x, labels=y_true, training=training, logits=logits, y_pred_cls=y_pred_cls,
                      loss=loss, train_op=train_op, accuracy=accuracy, variables=variables,
                      endpoints=endpoints(graph), gradients=gradients)
