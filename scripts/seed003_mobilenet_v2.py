#!/usr/bin/env python3
"""Seed 003's MobileNetV2 recipe (keras.applications, Adam 1e-3, sparse categorical cross-entropy
on the softmax output, batch 32, a GradientTape loop) in a Keras style or the legacy graph, on
flower_photos or a stated stand-in at the registered input size, test accuracy after every
epoch. The loss is the batch mean, not the document's sum (pitfall loss-sum-vs-mean)."""
from _epochs import run

if __name__ == "__main__":
    run("mobilenet_v2", __doc__, ("function", "eager", "xla", "legacy"), epochs=1, validation_freq=1, batch_size=32)
