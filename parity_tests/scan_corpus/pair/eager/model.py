# The port of ../legacy/model.py, with the mistakes a port makes.
import keras


def build_model():
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Conv2D(32, 3, name="conv1")(inputs)  # expect: same-padding-asymmetric
    x = keras.layers.BatchNormalization(name="bn1")(x)  # expect: applications-bn-momentum
    x = keras.layers.ReLU()(x)
    x = keras.layers.MaxPool2D(2, 2, padding="same", name="pool1")(x)
    x = keras.layers.Flatten()(x)
    logits = keras.layers.Dense(10, use_bias=False,
                                kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.05))(x)  # expect: truncated-normal-stddev
    return keras.Model(inputs, logits)


def make_optimizer():
    return keras.optimizers.Adam(learning_rate=1e-3, epsilon=1e-7)  # expect: keras3-lr-keyword, adam-epsilon


def make_loss():
    return keras.losses.CategoricalCrossentropy(from_logits=True, reduction="sum")  # expect: loss-sum-vs-mean
