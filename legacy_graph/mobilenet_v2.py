"""Seed 003's MobileNetV2 written as a TF1 user would have: raw tf.nn ops, batch norm with
moving statistics updated through UPDATE_OPS, a training flag placeholder, sparse labels.

stem: 3x3 conv 32 stride 2, BN, ReLU6                    -> [batch, 32, 32, 32] at 64x64
17 inverted residual blocks (expansion, filters, stride in `blocks`): 1x1 expand conv BN ReLU6
(not in block 0), zero padding before a stride-2 depthwise conv, 3x3 depthwise conv BN ReLU6,
1x1 projection conv BN with no activation, and a residual add where the block keeps its shape.
head: 1x1 conv 1280, BN, ReLU6, global average pool, fc 5 with softmax.
Every conv is bias-free; batch norm uses momentum 0.999 and epsilon 1e-3 as the application
does. Sparse categorical cross-entropy (batch mean, or the document's sum);
tf.compat.v1.train.AdamOptimizer(1e-3).

Variable scopes and endpoints carry the application's layer names, so weights pair by name and
every layer's output can be compared.
"""
import tensorflow as tf

from legacy_graph import layers
from legacy_graph.graph_model import GraphModel, endpoints

image_shape = (64, 64, 3)
num_classes = 5
learning_rate = 1e-3
first_filters = 32
last_filters = 1280
bn_momentum = 0.999
bn_epsilon = 1e-3
pool_name = "global_average_pooling2d"
blocks = (  # expansion, filters, stride of blocks 0 to 16
    (1, 16, 1),
    (6, 24, 2), (6, 24, 1),
    (6, 32, 2), (6, 32, 1), (6, 32, 1),
    (6, 64, 2), (6, 64, 1), (6, 64, 1), (6, 64, 1),
    (6, 96, 1), (6, 96, 1), (6, 96, 1),
    (6, 160, 2), (6, 160, 1), (6, 160, 1),
    (6, 320, 1),
)


def conv(input, filters, kernel_size, name, stride=1):
    """Bias-free SAME conv, recorded under its layer name."""
    return layers.endpoint(name, layers.conv2d(input, filters, kernel_size, stride, use_bias=False, name=name))


def bn(input, training, name):
    """Batch norm with the application's momentum and epsilon, recorded under its layer name."""
    out = layers.batch_norm(input, training, momentum=bn_momentum, epsilon=bn_epsilon, name=name)
    return layers.endpoint(name, out)


def relu6(input, name):
    return layers.endpoint(name, tf.nn.relu6(input))


def depthwise_conv(input, stride, name):
    """Bias-free 3x3 depthwise conv: SAME at stride 1, VALID after explicit padding at stride 2."""
    out = layers.depthwise_conv2d(input, 3, stride, padding="SAME" if stride == 1 else "VALID", name=name)
    return layers.endpoint(name, out)


def correct_pad(input, kernel_size=3):
    """((top, bottom), (left, right)) zero padding that makes a stride-2 VALID conv downsample
    like the application: one pixel at the bottom and right on even sizes, one each side on odd."""
    pads = []
    for size in input.get_shape()[1:3]:
        half = kernel_size // 2
        adjust = 1 if size is None else 1 - int(size) % 2
        pads.append((half - adjust, half))
    return tuple(pads)


def zero_pad(input, name):
    (top, bottom), (left, right) = correct_pad(input)
    return layers.endpoint(name, tf.pad(input, [[0, 0], [top, bottom], [left, right], [0, 0]]))


def inverted_res_block(input, expansion, filters, stride, block_id, training):
    """Expand (1x1), depthwise (3x3, stride), project (1x1, linear); add the input where shapes keep."""
    in_channels = int(input.get_shape()[-1])
    x = input
    if block_id:
        prefix = f"block_{block_id}_"
        x = conv(x, expansion * in_channels, 1, f"{prefix}expand")
        x = bn(x, training, f"{prefix}expand_BN")
        x = relu6(x, f"{prefix}expand_relu")
    else:
        prefix = "expanded_conv_"
    if stride == 2:
        x = zero_pad(x, f"{prefix}pad")
    x = depthwise_conv(x, stride, f"{prefix}depthwise")
    x = bn(x, training, f"{prefix}depthwise_BN")
    x = relu6(x, f"{prefix}depthwise_relu")
    x = conv(x, filters, 1, f"{prefix}project")
    x = bn(x, training, f"{prefix}project_BN")
    if in_channels == filters and stride == 1:
        x = layers.endpoint(f"{prefix}add", input + x)
    return x


def build(graph=None, learning_rate=learning_rate, seed=None, num_classes=num_classes, image_shape=image_shape,
          reduction="mean", run_update_ops=True, inputs=None):
    """Builds the graph into `graph` (a new one if None) and returns its handles.

    reduction="sum" is the document's summed loss; run_update_ops=False builds the classic TF1
    mistake: a train op that never runs the batch-norm updates. `inputs`, a pair of tensors
    (images, int64 class indices) already in `graph` (an iterator's get_next(), say), stands in
    for the two placeholders.
    """
    if reduction not in ("mean", "sum"):
        raise ValueError(f"unknown reduction {reduction!r}; choose mean or sum")
    graph = graph if graph is not None else tf.Graph()
    with graph.as_default():
        if seed is not None:
            tf.compat.v1.set_random_seed(seed)
        x, y_true = layers.placeholders(image_shape, [], tf.int64, inputs=inputs)
        training = tf.compat.v1.placeholder_with_default(False, shape=[], name="training")
        out = conv(x, first_filters, 3, "Conv1", stride=2)
        out = relu6(bn(out, training, "bn_Conv1"), "Conv1_relu")
        for block_id, (expansion, filters, stride) in enumerate(blocks):
            out = inverted_res_block(out, expansion, filters, stride, block_id, training)
        out = conv(out, last_filters, 1, "Conv_1")
        out = relu6(bn(out, training, "Conv_1_bn"), "out_relu")
        pooled = layers.endpoint(pool_name, tf.reduce_mean(out, axis=[1, 2]))  # [batch, h, w, 1280] -> [batch, 1280]
        logits = layers.dense(pooled, num_classes, name="predictions")
        # The application ends in softmax, so the model's output (GraphModel.logits) is the
        # class probabilities; the pre-softmax `logits` stay for the loss.
        probabilities = layers.endpoint("predictions", tf.nn.softmax(logits))
        variables = layers.model_variables()
        # Keras 3's from_logits=False loss of a softmax layer's output reads the logits the layer
        # attached to it, so it never clips; clipping the probabilities to [1e-7, 1 - 1e-7] and
        # taking their log would part from it wherever a probability saturates.
        per_example = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y_true, logits=logits)
        # The document sums over the batch: gradients batch-size times the mean's (pitfall `loss-sum-vs-mean`).
        loss = tf.reduce_sum(per_example) if reduction == "sum" else tf.reduce_mean(per_example)
        optimizer = tf.compat.v1.train.AdamOptimizer(learning_rate=learning_rate)
        train_op, gradients = layers.minimize(optimizer, loss, run_update_ops)
        y_pred_cls = tf.argmax(probabilities, axis=1)
        accuracy = tf.reduce_mean(tf.cast(tf.equal(y_pred_cls, y_true), tf.float32))
    return GraphModel(graph=graph, inputs=x, labels=y_true, training=training, logits=probabilities,
                      y_pred_cls=y_pred_cls, loss=loss, train_op=train_op, accuracy=accuracy, variables=variables,
                      endpoints=endpoints(graph), gradients=gradients)
