import tensorflow as tf

tf.compat.v1.disable_eager_execution()  # expect: placeholder-needs-graph

with tf.Graph().as_default():
    x = tf.compat.v1.placeholder(tf.float32, [None, 784])
