#!/usr/bin/env python3
"""Seed 000's VGG13 recipe (Adam 1e-4, batch 128, test accuracy after every epoch; the document runs
50 epochs of CIFAR-100) in the legacy graph or a Keras style. On CPU pass --epochs and
--steps-per-epoch for a shortened run; the JSON and PNG record what ran."""
from _epochs import run

if __name__ == "__main__":
    run("vgg13", __doc__, ("function", "eager", "xla", "legacy"), epochs=50, validation_freq=1, batch_size=128)
