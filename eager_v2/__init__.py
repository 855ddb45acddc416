"""The source documents' models in TF2 style: Keras 3 models trained eagerly, in tf.function,
with XLA (jit_compile=True) and through Model.fit."""
