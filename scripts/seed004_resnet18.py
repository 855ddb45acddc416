#!/usr/bin/env python3
"""Seed 004's ResNet18 recipe (compile/fit, Adam 0.01, batch 128, 5 epochs of CIFAR-100, test accuracy
every second epoch) through Model.fit or the legacy graph. On CPU pass --epochs and
--steps-per-epoch for a shortened run; the JSON and PNG record what ran."""
from _epochs import run

if __name__ == "__main__":
    run("resnet18", __doc__, ("fit", "function", "legacy"), epochs=5, validation_freq=2, batch_size=128)
