# A 2019 Keras 2 port as tf_upgrade_v2 leaves it.
import tensorflow as tf
from tensorflow import keras

model = keras.Sequential([keras.layers.Dense(10, input_shape=(784,))])
optimizer = tf.keras.optimizers.Adam(lr=1e-4, decay=1e-6)  # expect: keras3-lr-keyword, adam-epsilon
sgd = keras.optimizers.SGD(lr=0.01, momentum=0.9)  # expect: keras3-lr-keyword
legacy = tf.keras.optimizers.legacy.Adam(learning_rate=1e-4, epsilon=1e-8)  # expect: keras3-lr-keyword
model.compile(optimizer="adam", loss="categorical_crossentropy")  # expect: adam-epsilon
