#!/usr/bin/env python3
"""Seed 002's convolutional autoencoder recipe (Adam 1e-3, binary cross-entropy of the images with
themselves, batch 64, one epoch) through Model.fit or the legacy graph, with the test
reconstruction loss and the document's figure: test images over their reconstructions."""
from _epochs import run

if __name__ == "__main__":
    run("conv_autoencoder", __doc__, ("fit", "function", "legacy"), epochs=1, validation_freq=1, batch_size=64)
