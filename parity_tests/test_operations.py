"""The operations the documents explain, in both styles and checked against each other: the conv
output-size formula, max and average pooling, nearest and bilinear upsampling, ReLU as a layer,
image normalization and batch normalization in training and inference mode."""
import numpy as np
import pytest

from legacy_graph import layers as graph_layers
from parity.runtime import import_tensorflow

tf = import_tensorflow()
import keras  # noqa: E402

RNG = np.random.default_rng(0)


def in_graph(build, *arrays):
    """Builds `build(*placeholders)` in its own tf.Graph and runs it on `arrays` in a Session."""
    graph = tf.Graph()
    with graph.as_default():
        inputs = [tf.compat.v1.placeholder(tf.float32, a.shape) for a in arrays]
        out = build(*inputs)
        init = tf.compat.v1.global_variables_initializer()
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(init)
            return session.run(out, dict(zip(inputs, arrays)))


def images(h, w, c=2, n=2):
    return RNG.uniform(-1, 1, (n, h, w, c)).astype(np.float32)


@pytest.mark.parametrize("padding", ["VALID", "SAME"])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("kernel", [1, 2, 3, 5])
@pytest.mark.parametrize("size", [5, 6, 7, 8, 9])
def test_conv_output_size_formula(size, kernel, stride, padding):
    def formula(n):
        # VALID keeps only full windows; SAME pads so that every input position starts one.
        return (n - kernel) // stride + 1 if padding == "VALID" else -(-n // stride)

    x = images(size, size + 1)
    expected = (formula(size), formula(size + 1))
    w = np.ones((kernel, kernel, 2, 3), np.float32)
    graph = in_graph(lambda t: tf.nn.conv2d(t, w, strides=stride, padding=padding), x)
    layer = keras.layers.Conv2D(3, kernel, strides=stride, padding=padding.lower())
    assert graph.shape[1:3] == expected
    assert tuple(layer(x).shape[1:3]) == expected


@pytest.mark.parametrize("padding", ["VALID", "SAME"])
@pytest.mark.parametrize("size", [7, 8])
def test_max_and_average_pooling(size, padding):
    x = images(size, size)
    graph_max = in_graph(lambda t: graph_layers.max_pool(t, 2, 2, padding), x)
    graph_avg = in_graph(lambda t: tf.nn.avg_pool2d(t, 2, 2, padding), x)
    np.testing.assert_array_equal(graph_max, keras.layers.MaxPool2D(2, 2, padding.lower())(x))
    np.testing.assert_allclose(graph_avg, keras.layers.AveragePooling2D(2, 2, padding.lower())(x), atol=1e-7)
    if padding == "SAME" and size % 2:
        # The window at the border covers one real pixel and one pad: both average the real one only.
        np.testing.assert_allclose(graph_avg[:, -1, -1], x[:, -1, -1], atol=1e-7)


@pytest.mark.parametrize("method", ["nearest", "bilinear"])
def test_upsampling(method):
    x = images(5, 6)
    graph = in_graph(lambda t: graph_layers.upsample(t, 2, method), x)
    eager = keras.layers.UpSampling2D(2, interpolation=method)(x)
    assert graph.shape == (2, 10, 12, 2)
    np.testing.assert_allclose(graph, eager, atol=1e-6)
    if method == "nearest":
        np.testing.assert_array_equal(graph, np.repeat(np.repeat(x, 2, axis=1), 2, axis=2))


def test_relu_as_its_own_layer():
    x = images(4, 4)
    np.testing.assert_array_equal(in_graph(tf.nn.relu, x), keras.layers.ReLU()(x))
    np.testing.assert_array_equal(in_graph(tf.nn.relu6, x * 10), keras.layers.ReLU(6.0)(x * 10))


def test_image_normalization():
    x = images(4, 4, c=3)
    mean, std = np.array([0.1, -0.2, 0.3], np.float32), np.array([0.5, 2.0, 1.5], np.float32)
    graph = in_graph(lambda t: (t - mean) / std, x)
    eager = keras.layers.Normalization(mean=mean, variance=std ** 2)(x)
    np.testing.assert_allclose(graph, eager, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_training_and_inference(training):
    x = images(4, 4, c=3, n=6) * 3 + 1
    gamma, beta = np.array([1.5, 0.5, 2.0], np.float32), np.array([0.1, -0.3, 0.0], np.float32)
    moving_mean, moving_variance = np.array([0.9, 1.1, 1.0], np.float32), np.array([8.0, 9.5, 10.0], np.float32)
    keras_bn = keras.layers.BatchNormalization()
    keras_bn.build(x.shape)
    keras_bn.set_weights([gamma, beta, moving_mean, moving_variance])

    graph = tf.Graph()
    with graph.as_default():
        placeholder = tf.compat.v1.placeholder(tf.float32, x.shape)
        out = graph_layers.batch_norm(placeholder, tf.constant(training), name="bn")
        variables = tf.compat.v1.global_variables("bn")
        updates = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)
        with tf.compat.v1.Session(graph=graph) as session:
            for v, a in zip(variables, (gamma, beta, moving_mean, moving_variance)):
                session.run(v.initializer)
                session.run(v.assign(a))
            graph_out, _ = session.run([out, updates], {placeholder: x})
            graph_stats = session.run(variables[2:])
    eager_out = keras_bn(x, training=training)
    np.testing.assert_allclose(graph_out, eager_out, atol=1e-5)
    np.testing.assert_allclose(graph_stats[0], keras_bn.moving_mean, atol=1e-6)
    np.testing.assert_allclose(graph_stats[1], keras_bn.moving_variance, atol=1e-5)
    moved = not np.allclose(graph_stats[0], moving_mean)
    assert moved == training  # statistics move only while training
