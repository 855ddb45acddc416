import tensorflow as tf
from tensorflow import keras

loss_object = keras.losses.SparseCategoricalCrossentropy(reduction="sum")  # expect: loss-sum-vs-mean, loss-reduction
bce = keras.losses.BinaryCrossentropy()  # expect: loss-reduction
init = keras.initializers.TruncatedNormal()  # expect: truncated-normal-stddev


def step_loss(labels, predictions):
    return tf.reduce_sum(keras.losses.sparse_categorical_crossentropy(labels, predictions))  # expect: loss-sum-vs-mean
