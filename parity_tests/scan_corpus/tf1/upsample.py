import tensorflow as tf


def decoder(code):
    up = tf.image.resize_bilinear(code, [14, 14])  # expect: resize-half-pixel-centers
    up = tf.image.resize_images(up, [28, 28])  # expect: resize-half-pixel-centers
    return up
