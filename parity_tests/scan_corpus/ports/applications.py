import tensorflow as tf

base = tf.keras.applications.MobileNetV2(weights=None, classes=5, input_shape=(224, 224, 3))  # expect: applications-bn-momentum
