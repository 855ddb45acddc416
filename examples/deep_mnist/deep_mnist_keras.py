"""Deep MNIST for experts by hand in Keras 3: the same layers, named like the endpoints the legacy
builder names, taking the same flat 784-pixel input."""
import keras
from keras import layers


def build_model():
    inputs = keras.Input(shape=(784,), name="x")
    x = layers.Reshape((28, 28, 1), name="x_image")(inputs)  # [batch, 784] -> [batch, 28, 28, 1]
    x = layers.Conv2D(32, 5, padding="same", activation="relu", name="conv1")(x)
    x = layers.MaxPool2D(2, padding="same", name="pool1")(x)
    x = layers.Conv2D(64, 5, padding="same", activation="relu", name="conv2")(x)
    x = layers.MaxPool2D(2, padding="same", name="pool2")(x)
    x = layers.Flatten(name="flatten")(x)  # [batch, 7, 7, 64] -> [batch, 3136], the order tf.reshape gives
    x = layers.Dense(1024, activation="relu", name="fc1")(x)
    x = layers.Dropout(0.5, name="dropout")(x)
    logits = layers.Dense(10, name="fc2")(x)
    return keras.Model(inputs, logits, name="deep_mnist")


def make_optimizer():
    # tf.train.AdamOptimizer's epsilon is 1e-8; Keras' default is 1e-7.
    return keras.optimizers.Adam(learning_rate=1e-4, epsilon=1e-8)
