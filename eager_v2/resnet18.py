"""Seed 004's ResNet18 variant in Keras 3, as the document wrote it: BasicBlock and ResBlock
layers and a subclassed ResNet, trained with compile/fit (Adam 0.01, categorical
cross-entropy from logits on one-hot labels, validation every second epoch).

The document's variant puts a 1x1 conv shortcut in every block, even where shapes already
match. Port notes: `Adam(lr=0.01)` raises in Keras 3 (pitfall `keras3-lr-keyword`); the
shortcut sum is an Add layer made in __init__ rather than `keras.layers.add(...)` inside
call(), which would make a new layer on every call; `training` is passed on explicitly.
"""
import collections

import keras
import numpy as np
from keras import layers

image_shape = (32, 32, 3)
num_classes = 100


class BasicBlock(layers.Layer):
    """conv3x3(stride) BN ReLU conv3x3 BN, plus a 1x1 conv(stride) shortcut; add; ReLU."""

    def __init__(self, filter_num, stride=1, **kwargs):
        super().__init__(**kwargs)
        self.conv1 = layers.Conv2D(filter_num, (3, 3), strides=stride, padding="same", name="conv1")
        self.bn1 = layers.BatchNormalization(name="bn1")
        self.relu = layers.Activation("relu")
        self.conv2 = layers.Conv2D(filter_num, (3, 3), strides=1, padding="same", name="conv2")
        self.bn2 = layers.BatchNormalization(name="bn2")
        self.downsample = layers.Conv2D(filter_num, (1, 1), strides=stride, name="downsample")
        self.add = layers.Add()

    def call(self, inputs, training=None):
        out = self.relu(self.bn1(self.conv1(inputs), training=training))
        out = self.bn2(self.conv2(out), training=training)
        identity = self.downsample(inputs)
        return self.relu(self.add([out, identity]))


class ResBlock(layers.Layer):
    """`blocks` BasicBlocks; the first one carries the stride."""

    def __init__(self, filter_num, blocks, stride=1, **kwargs):
        super().__init__(**kwargs)
        self.resblock = keras.Sequential(
            [BasicBlock(filter_num, stride if i == 0 else 1, name=f"block{i}") for i in range(blocks)],
            name="blocks")

    def call(self, inputs, training=None):
        return self.resblock(inputs, training=training)


class ResNet(keras.Model):
    def __init__(self, blockdim, num_classes=num_classes, name="resnet18", **kwargs):
        super().__init__(name=name, **kwargs)
        self.prelayer = keras.Sequential([
            layers.Conv2D(64, (3, 3), strides=1, padding="same", name="conv"),
            layers.BatchNormalization(name="bn"),
            layers.Activation("relu", name="relu"),
            layers.MaxPool2D(pool_size=(2, 2), strides=2, padding="same", name="pool"),
        ], name="prelayer")
        self.reslayer = keras.Sequential([
            ResBlock(64, blockdim[0], name="layer1"),
            ResBlock(128, blockdim[1], 2, name="layer2"),
            ResBlock(256, blockdim[2], 2, name="layer3"),
            ResBlock(512, blockdim[3], 2, name="layer4"),
        ], name="reslayer")
        self.avgpool = layers.GlobalAveragePooling2D(name="avgpool")
        self.dense = layers.Dense(num_classes, name="fc")

    def call(self, inputs, training=None):
        x = self.prelayer(inputs, training=training)
        x = self.reslayer(x, training=training)
        return self.dense(self.avgpool(x))


def build_model(num_classes=num_classes, image_shape=image_shape):
    model = ResNet([2, 2, 2, 2], num_classes)
    model(np.zeros((1, *image_shape), np.float32))  # creates the weights, as the document's build() did
    return model


def endpoints(model, x, training=False):
    """The stem's, every block's, the pool's and the logits' outputs by name."""
    out = collections.OrderedDict()
    x = out["prelayer"] = model.prelayer(x, training=training)
    for stage in model.reslayer.layers:
        for block in stage.resblock.layers:
            x = out[f"reslayer/{stage.name}/blocks/{block.name}"] = block(x, training=training)
    x = out["avgpool"] = model.avgpool(x)
    out["fc"] = model.dense(x)
    return out


def make_loss():
    return keras.losses.CategoricalCrossentropy(from_logits=True)

