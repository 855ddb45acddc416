"""Seed 001's MNIST CNN as a Keras 3 model, with the document's initializers and layer order
(conv + bias, then 2x2 max-pool, then ReLU)."""
import time
from datetime import timedelta

import numpy as np
import keras
from keras import layers

from eager_v2 import optimizers
from parity import evaluation

img_size = 28
num_channels = 1
num_classes = 10
learning_rate = 1e-4
# tf.compat.v1.train.AdamOptimizer's epsilon. Keras' Adam defaults to 1e-7; leaving it there
# changes the update of every weight whose gradient is small (pitfall `adam-epsilon`).
adam_epsilon = 1e-8
train_batch_size = 64
test_batch_size = 256


def _conv_block(x, filters, kernel_size, name):
    x = layers.Conv2D(filters, kernel_size, padding="same", name=name,
                      kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.05),
                      bias_initializer=keras.initializers.Constant(0.05))(x)
    x = layers.MaxPool2D(pool_size=2, strides=2, padding="same", name=f"{name}_pool")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def _dense(units, activation, name):
    return layers.Dense(units, activation=activation, name=name,
                        kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.05),
                        bias_initializer=keras.initializers.Constant(0.05))


def build_model(num_classes=num_classes):
    """The network as a functional Keras model taking [batch, 28, 28, 1] images, giving logits."""
    inputs = keras.Input(shape=(img_size, img_size, num_channels), name="x_image")
    x = _conv_block(inputs, 16, 5, "conv1")   # -> [batch, 14, 14, 16]
    x = _conv_block(x, 36, 5, "conv2")        # -> [batch, 7, 7, 36]
    x = layers.Flatten(name="flatten")(x)     # -> [batch, 1764]
    x = _dense(128, "relu", "fc1")(x)
    logits = _dense(num_classes, None, "fc2")(x)
    return keras.Model(inputs, logits, name="mnist_cnn")


def make_optimizer(learning_rate=learning_rate, epsilon=adam_epsilon, fused=True):
    """Adam with TF1's epsilon; TF's fused update kernel unless `fused=False` (pitfall keras-adam-unfused)."""
    return optimizers.adam(learning_rate, epsilon, fused)


def make_loss():
    return keras.losses.CategoricalCrossentropy(from_logits=True)


class Seed001(evaluation.TestReport):
    """The document's workflow with the Keras model: optimize(), print_test_accuracy(), the plots.

    `data` is what `input_data.read_data_sets(..., one_hot=True)` returns; `style` is one of
    eager, function, xla, fit.
    """

    def __init__(self, data, style="function", learning_rate=learning_rate,
                 train_batch_size=train_batch_size, seed=None, class_names=None):
        if seed is not None:
            keras.utils.set_random_seed(seed)
        self.data = data
        self.train_batch_size = train_batch_size
        self.class_names = class_names
        self.model = build_model()
        from eager_v2.training import Trainer
        self.trainer = Trainer(self.model, make_optimizer(learning_rate), make_loss(), style)
        self.total_iterations = 0

    def _batches(self):
        while True:
            x, y = self.data.train.next_batch(self.train_batch_size)
            yield x.reshape(-1, img_size, img_size, num_channels), y  # [batch, 784] -> [batch, 28, 28, 1]

    def optimize(self, num_iterations, log=print, progress=None):
        """Runs `num_iterations` training steps; returns the seconds they took.

        Every 100th step logs the batch's training accuracy, as the document did; Model.fit
        runs whole loops, so in the `fit` style that line gives the batch's loss instead.
        """
        batches = self._batches()
        first = self.total_iterations

        def on_step(i, loss):
            if (first + i) % 100 == 0:
                log(f"Optimization Iteration: {first + i + 1:>6}, Training Loss: {loss:.4f}")
            if progress is not None:
                progress.update(1)

        start_time = time.time()
        if self.trainer.style == "fit":
            self.trainer.train(batches, num_iterations, on_step)
        else:
            for i in range(num_iterations):
                x_batch, y_batch = next(batches)
                self.trainer.train_step(x_batch, y_batch)
                if (first + i) % 100 == 0:
                    acc = self._accuracy(x_batch, y_batch)
                    log(f"Optimization Iteration: {first + i + 1:>6}, Training Accuracy: {acc:>6.1%}")
                if progress is not None:
                    progress.update(1)
        self.total_iterations += num_iterations
        time_dif = time.time() - start_time
        log("Time usage: " + str(timedelta(seconds=int(round(time_dif)))))
        return time_dif

    def _accuracy(self, x, y_one_hot):
        logits = self.model(x, training=False)
        return float(np.mean(np.argmax(logits, axis=1) == np.argmax(y_one_hot, axis=1)))

    def predict_cls(self, images, batch_size=test_batch_size):
        images = images.reshape(-1, img_size, img_size, num_channels)
        logits = self.model.predict(images, batch_size=batch_size, verbose=0)
        return np.argmax(logits, axis=1)

    def layer_output(self, name, image):
        probe = keras.Model(self.model.input, self.model.get_layer(name).output)
        return probe(image.reshape(1, img_size, img_size, num_channels), training=False).numpy()[0]

    def conv_weights(self, name):
        return self.model.get_layer(name).kernel.numpy()

    def save(self, path):
        path = str(path)
        if not path.endswith(".weights.h5"):
            path += ".weights.h5"
        self.model.save_weights(path)
        return path

    def restore(self, path):
        self.model.load_weights(str(path))

    def close(self):
        pass
