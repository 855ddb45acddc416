"""Seed 002's convolutional autoencoder written as a TF1 user would have: raw tf.nn ops, and the
standalone decoder built on a code placeholder with the trained variables (variable scopes with
reuse), where the document reused the trained Keras layers.

encoder: 3x3 conv 16 ReLU, 2x2 max-pool, 3x3 conv 8 ReLU, 2x2 max-pool, 3x3 conv 1 ReLU -> code [batch, 7, 7, 1]
decoder: 3x3 conv 8 ReLU, upsample x2, 3x3 conv 16 ReLU, upsample x2, (1, 3) conv 1 sigmoid -> [batch, 28, 28, 1]
Binary cross-entropy of the images with themselves; tf.compat.v1.train.AdamOptimizer(1e-3).
"""
import tensorflow as tf

from legacy_graph import layers
from legacy_graph.graph_model import GraphModel, endpoints

image_shape = (28, 28, 1)
code_shape = (7, 7, 1)
learning_rate = 1e-3


def encoder(x, mark=layers.endpoint):
    """images [batch, 28, 28, 1] -> code [batch, 7, 7, 1]."""
    x = mark("encoder_conv1", tf.nn.relu(layers.conv2d(x, 16, 3, name="encoder_conv1")))
    x = mark("encoder_pool1", layers.max_pool(x))
    x = mark("encoder_conv2", tf.nn.relu(layers.conv2d(x, 8, 3, name="encoder_conv2")))
    x = mark("encoder_pool2", layers.max_pool(x))
    return mark("code", tf.nn.relu(layers.conv2d(x, 1, 3, name="code")))


def decoder(code, mark=layers.endpoint):
    """code [batch, 7, 7, 1] -> (reconstruction, its logits), each [batch, 28, 28, 1]."""
    x = mark("decoder_conv1", tf.nn.relu(layers.conv2d(code, 8, 3, name="decoder_conv1")))
    x = mark("decoder_up1", layers.upsample(x, 2, "nearest"))
    x = mark("decoder_conv2", tf.nn.relu(layers.conv2d(x, 16, 3, name="decoder_conv2")))
    x = mark("decoder_up2", layers.upsample(x, 2, "nearest"))
    logits = layers.conv2d(x, 1, (1, 3), name="decoder_output")
    return mark("decoder_output", tf.nn.sigmoid(logits)), logits


def _unmarked(name, tensor):
    return tensor


def build(graph=None, learning_rate=learning_rate, seed=None, image_shape=image_shape, inputs=None):
    """Builds the autoencoder into `graph` (a new one if None) and returns its handles; the
    standalone encoder and decoder are `build_encoder(graph)` and `build_decoder(graph)`.

    `inputs`, a pair of tensors (images, target images) already in `graph` (an iterator's
    get_next(), say), stands in for the two placeholders.
    """
    graph = graph if graph is not None else tf.Graph()
    with graph.as_default():
        if seed is not None:
            tf.compat.v1.set_random_seed(seed)
        x, y_true = layers.placeholders(image_shape, image_shape, inputs=inputs)
        reconstruction, logits = decoder(encoder(x))
        variables = layers.model_variables()
        # Keras 3 takes the binary cross-entropy of a sigmoid output from its logits (pitfall
        # `keras-softmax-logits`); the mean runs over every pixel of the batch.
        loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y_true, logits=logits))
        optimizer = tf.compat.v1.train.AdamOptimizer(learning_rate=learning_rate)
        train_op, gradients = layers.minimize(optimizer, loss)
    return GraphModel(graph=graph, inputs=x, labels=y_true, training=None, logits=reconstruction, y_pred_cls=None,
                      loss=loss, train_op=train_op, accuracy=None, variables=variables,
                      endpoints=endpoints(graph), gradients=gradients)


def build_encoder(graph):
    """The encoder alone on a new image placeholder, with the autoencoder's variables: (x, code)."""
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, shape=[None, *image_shape], name="x_encode")
        with tf.compat.v1.variable_scope(tf.compat.v1.get_variable_scope(), reuse=True):
            return x, encoder(x, _unmarked)


def build_decoder(graph):
    """The standalone decoder on a code placeholder, with the autoencoder's trained variables:
    (code, reconstruction)."""
    with graph.as_default():
        code = tf.compat.v1.placeholder(tf.float32, shape=[None, *code_shape], name="code_input")
        with tf.compat.v1.variable_scope(tf.compat.v1.get_variable_scope(), reuse=True):
            return code, decoder(code, _unmarked)[0]
