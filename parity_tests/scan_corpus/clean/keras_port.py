# A Keras 3 port done as the catalogue says.
import keras


def build_model():
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Conv2D(32, 3, padding="same", name="conv1",
                            kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.05),
                            bias_initializer=keras.initializers.Constant(0.05))(inputs)
    x = keras.layers.BatchNormalization(momentum=0.99, epsilon=1e-3, name="bn1")(x)
    x = keras.layers.MaxPool2D(2, 2, padding="same", name="pool1")(x)
    x = keras.layers.UpSampling2D(interpolation="bilinear")(x)
    x = keras.layers.Flatten()(x)
    return keras.Model(inputs, keras.layers.Dense(10, name="fc")(x))


def make_optimizer():
    return keras.optimizers.Adam(learning_rate=1e-4, epsilon=1e-8)


def make_loss():
    return keras.losses.CategoricalCrossentropy(from_logits=True)


class StepLosses(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        self.last = logs


def save(model):
    model.save_weights("model.weights.h5")
    model.save("model.keras")
