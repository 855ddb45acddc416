"""Seed 001's MNIST CNN as a Keras 3 model, with the document's initializers and layer order
(conv + bias, then 2x2 max-pool, then ReLU)."""
import keras
from keras import layers

img_size = 28
num_channels = 1
num_classes = 10


def _conv_block(x, filters, kernel_size, name):
    x = layers.Conv2D(filters, kernel_size, padding="same", name=name,
                      kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.05),
                      bias_initializer=keras.initializers.Constant(0.05))(x)
    x = layers.MaxPool2D(pool_size=2, strides=2, padding="same", name=f"{name}_pool")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def _dense(units, activation, name):
    return layers.Dense(units, activation=activation, name=name,
                        kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.05),
                        bias_initializer=keras.initializers.Constant(0.05))


def build_model(num_classes=num_classes):
    """The network as a functional Keras model taking [batch, 28, 28, 1] images, giving logits."""
    inputs = keras.Input(shape=(img_size, img_size, num_channels), name="x_image")
    x = _conv_block(inputs, 16, 5, "conv1")   # -> [batch, 14, 14, 16]
    x = _conv_block(x, 36, 5, "conv2")        # -> [batch, 7, 7, 36]
    x = layers.Flatten(name="flatten")(x)     # -> [batch, 1764]
    x = _dense(128, "relu", "fc1")(x)
    logits = _dense(num_classes, None, "fc2")(x)
    return keras.Model(inputs, logits, name="mnist_cnn")


def make_loss():
    return keras.losses.CategoricalCrossentropy(from_logits=True)

