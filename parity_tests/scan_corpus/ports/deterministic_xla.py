import tensorflow as tf
from tensorflow import keras

tf.keras.utils.set_random_seed(0)
tf.config.experimental.enable_op_determinism()  # expect: determinism-xla-maxpool
model = keras.Sequential([keras.layers.Conv2D(8, 3, padding="same"), keras.layers.MaxPooling2D(),
                          keras.layers.Flatten(), keras.layers.Dense(10)])
model.compile(optimizer=keras.optimizers.Adam(epsilon=1e-8), loss="mse", jit_compile=True)
