"""The 2-layer MLP in Keras 3; layers named like the graph's variable scopes, so weights pair by name."""
import keras
from keras import layers

image_shape = (28, 28, 1)
num_classes = 10
hidden = 32


def build_model():
    inputs = keras.Input(shape=image_shape, name="x")
    x = layers.Flatten(name="flatten")(inputs)  # [batch, 28, 28, 1] -> [batch, 784]
    x = layers.Dense(hidden, activation="relu", name="fc1")(x)
    return keras.Model(inputs, layers.Dense(num_classes, name="fc2")(x), name="tiny_mlp")


def make_loss():
    return keras.losses.CategoricalCrossentropy(from_logits=True)
