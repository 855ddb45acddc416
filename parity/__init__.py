"""tf-parity: proves, model by model, that a TF1 graph model and its TF2 / Keras 3 port agree."""
__version__ = "0.1.0"
