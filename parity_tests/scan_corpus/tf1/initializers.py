import tensorflow as tf


def weight_variable(shape):
    return tf.get_variable("W", shape, initializer=tf.truncated_normal_initializer())  # expect: truncated-normal-stddev
