"""Seed 000's VGG13 in Keras 3, as the document wrote it: a conv Sequential and an fc Sequential
joined by a reshape to 512, trained with a custom GradientTape loop (Adam 1e-4).

Port notes: the document's `keras.optimizers.Adam(lr=1e-4)` raises in Keras 3 (pitfall
`keras3-lr-keyword`); layers are named so their weights pair with the graph tree's scopes.
"""
import collections

import keras
import numpy as np
from keras import layers, ops

image_shape = (32, 32, 3)
num_classes = 100
units = (64, 128, 256, 512, 512)


def conv_layers():
    """Five units of two 3x3 same-padded ReLU convs and a 2x2 max-pool."""
    stack = []
    for unit, filters in enumerate(units, start=1):
        stack += [layers.Conv2D(filters, (3, 3), padding="same", activation="relu", name=f"conv{unit}_{i}")
                  for i in (1, 2)]
        stack.append(layers.MaxPool2D(pool_size=(2, 2), strides=2, padding="same", name=f"pool{unit}"))
    return stack


def fc_layers(num_classes=num_classes):
    return [layers.Dense(256, activation="relu", name="fc1"),
            layers.Dense(128, activation="relu", name="fc2"),
            layers.Dense(num_classes, name="fc3")]


class VGG13(keras.Model):
    """The document's two Sequentials as one model: conv_net, reshape to 512, fc_net."""

    def __init__(self, num_classes=num_classes, name="vgg13", **kwargs):
        super().__init__(name=name, **kwargs)
        self.conv_net = keras.Sequential(conv_layers(), name="conv_net")
        self.fc_net = keras.Sequential(fc_layers(num_classes), name="fc_net")

    def call(self, inputs, training=None):
        out = self.conv_net(inputs, training=training)
        out = ops.reshape(out, [-1, 512])  # [batch, 1, 1, 512] -> [batch, 512]
        return self.fc_net(out, training=training)


def build_model(num_classes=num_classes, image_shape=image_shape):
    model = VGG13(num_classes)
    model(np.zeros((1, *image_shape), np.float32))  # creates the weights, as the document's build() did
    return model


def endpoints(model, x, training=False):
    """Every layer's output by name, for the parity report."""
    out = collections.OrderedDict()
    for layer in model.conv_net.layers:
        x = out[layer.name] = layer(x, training=training)
    x = out["reshape"] = ops.reshape(x, [-1, 512])
    for layer in model.fc_net.layers:
        x = out[layer.name] = layer(x, training=training)
    return out


def make_loss():
    return keras.losses.CategoricalCrossentropy(from_logits=True)

