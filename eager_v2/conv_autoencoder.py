"""Seed 002's convolutional autoencoder in Keras 3, as the document built it with the functional
API: an autoencoder trained on images against themselves (Adam, binary cross-entropy, batch 64,
one epoch with EarlyStopping on the loss), an encoder model sharing its first layers, and a
standalone decoder model made by calling the trained decoder layers on a new 7x7x1 input.

Port notes: layers are named (the document relied on positions, `CAE_coder.layers[6:]`, which
shift when a layer is added); Adam gets the TF1 optimizer's epsilon (pitfall `adam-epsilon`).
"""
import keras
from keras import layers

image_shape = (28, 28, 1)
code_shape = (7, 7, 1)
DECODER_LAYERS = ("decoder_conv1", "decoder_up1", "decoder_conv2", "decoder_up2", "decoder_output")


def build_model(image_shape=image_shape):
    """The autoencoder: [batch, 28, 28, 1] images -> reconstructions, through a 7x7x1 code."""
    inputs = layers.Input(shape=image_shape, name="inputs")
    code = layers.Conv2D(16, (3, 3), activation="relu", padding="same", name="encoder_conv1")(inputs)
    code = layers.MaxPool2D((2, 2), padding="same", name="encoder_pool1")(code)
    code = layers.Conv2D(8, (3, 3), activation="relu", padding="same", name="encoder_conv2")(code)
    code = layers.MaxPool2D((2, 2), padding="same", name="encoder_pool2")(code)
    code = layers.Conv2D(1, (3, 3), activation="relu", padding="same", name="code")(code)
    decode = layers.Conv2D(8, (3, 3), activation="relu", padding="same", name="decoder_conv1")(code)
    decode = layers.UpSampling2D((2, 2), name="decoder_up1")(decode)
    decode = layers.Conv2D(16, (3, 3), activation="relu", padding="same", name="decoder_conv2")(decode)
    decode = layers.UpSampling2D((2, 2), name="decoder_up2")(decode)
    outputs = layers.Conv2D(1, (1, 3), activation="sigmoid", padding="same", name="decoder_output")(decode)
    return keras.Model(inputs, outputs, name="conv_autoencoder")


def build_encoder(model):
    """The encoder model, sharing the autoencoder's layers."""
    return keras.Model(model.input, model.get_layer("code").output, name="encoder")


def build_decoder(model):
    """A standalone decoder on a new 7x7x1 input, calling the autoencoder's trained decoder layers."""
    code = keras.Input(shape=code_shape, name="code")
    x = code
    for name in DECODER_LAYERS:
        x = model.get_layer(name)(x)
    return keras.Model(code, x, name="decoder")


def make_loss():
    return keras.losses.BinaryCrossentropy()

