"""Replays the documents end to end with either tree, driving the model trees from outside: seed
001's workflow (optimize, print_test_accuracy, the plots, a Saver) in the TF1 graph and in Keras,
its stages, printouts and plots; the other documents' own training code (seeds 000, 002, 003, 004),
ported to Keras 3; and the epoch-based recipes of seeds 000, 002, 003 and 004 in every style."""
import time
from datetime import timedelta
from pathlib import Path

import numpy as np

from parity import evaluation, plots, registry, report, runtime

SEED001 = "mnist_cnn"
TEST_BATCH_SIZE = 256  # seed 001 predicts the test set in batches of 256


class Seed001:
    """The document's test report and context management, shared by both trees' workflows.

    `data` is what `input_data.read_data_sets(..., one_hot=True)` returns. Subclasses give
    `_train(num_iterations, log, progress)`, `predict_cls(images)`, `layer_output`, `conv_weights`,
    `save`, `restore` and `close`.
    """

    def __init__(self, data, learning_rate=None, train_batch_size=None, class_names=None):
        recipe = registry.get(SEED001).recipe
        self.data = data
        self.learning_rate = recipe.learning_rate if learning_rate is None else learning_rate
        self.train_batch_size = train_batch_size or recipe.batch_size
        self.class_names = class_names
        self.total_iterations = 0

    def optimize(self, num_iterations, log=print, progress=None):
        """Runs `num_iterations` training steps, logging every 100th as the document did; returns
        the seconds they took."""
        start_time = time.time()
        self._train(num_iterations, log, progress)
        self.total_iterations += num_iterations
        time_dif = time.time() - start_time
        log("Time usage: " + str(timedelta(seconds=int(round(time_dif)))))
        return time_dif

    def print_test_accuracy(self, show_example_errors=False, show_confusion_matrix=False, out_dir=None,
                            prefix="", log=print):
        """The document's test report, in batches of 256; example errors and the confusion matrix
        are also written as PNG files when `out_dir` is given."""
        labels = self.data.test.labels
        return evaluation.print_test_accuracy(
            self.data.test.images, np.argmax(labels, axis=1), self.predict_cls(self.data.test.images),
            labels.shape[1], show_example_errors, show_confusion_matrix, out_dir, prefix, self.class_names, log)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class GraphSeed001(Seed001):
    """The document's session workflow on legacy_graph.mnist_cnn's graph."""

    def __init__(self, data, learning_rate=None, train_batch_size=None, seed=None, class_names=None):
        from legacy_graph import mnist_cnn

        tf = runtime.import_tensorflow()
        super().__init__(data, learning_rate, train_batch_size, class_names)
        self.model = mnist_cnn.build(tf.Graph(), learning_rate=self.learning_rate, seed=seed)
        with self.model.graph.as_default():
            self.saver = tf.compat.v1.train.Saver(var_list=list(self.model.variables), max_to_keep=None)
            init = tf.compat.v1.global_variables_initializer()
        self.session = tf.compat.v1.Session(graph=self.model.graph)
        self.session.run(init)

    def _train(self, num_iterations, log, progress):
        """`num_iterations` Adam steps on training batches, each 100th logging the batch's accuracy."""
        m = self.model
        for i in range(self.total_iterations, self.total_iterations + num_iterations):
            x_batch, y_true_batch = self.data.train.next_batch(self.train_batch_size)
            feed_dict_train = {m.inputs: x_batch, m.labels: y_true_batch}
            self.session.run(m.train_op, feed_dict=feed_dict_train)
            if i % 100 == 0:
                acc = self.session.run(m.accuracy, feed_dict=feed_dict_train)
                log(f"Optimization Iteration: {i + 1:>6}, Training Accuracy: {acc:>6.1%}")
            if progress is not None:
                progress.update(1)

    def predict_cls(self, images, batch_size=TEST_BATCH_SIZE):
        """Predicted classes, in batches of `batch_size` as the document evaluated."""
        cls_pred = np.zeros(shape=len(images), dtype=np.int64)
        for i in range(0, len(images), batch_size):
            j = min(i + batch_size, len(images))
            cls_pred[i:j] = self.session.run(self.model.y_pred_cls, feed_dict={self.model.inputs: images[i:j]})
        return cls_pred

    def layer_output(self, name, image):
        """One image's output of a named layer (for example `conv1_relu`): [H, W, C]."""
        values = self.session.run(self.model.endpoints[name], feed_dict={self.model.inputs: [image]})
        return values[0]

    def conv_weights(self, name):
        """A conv layer's filters, [h, w, in, out]."""
        weights = {v.name: v for v in self.model.variables}[f"{name}/weights:0"]
        return self.session.run(weights)

    def save(self, path):
        # Saver builds ops on use: outside its graph it would act as if eager and refuse.
        with self.model.graph.as_default():
            return self.saver.save(self.session, str(path))

    def restore(self, path):
        with self.model.graph.as_default():
            self.saver.restore(self.session, str(path))

    def close(self):
        self.session.close()


class KerasSeed001(Seed001):
    """The document's workflow with eager_v2.mnist_cnn's Keras model; `style` is one of eager,
    function, xla, fit."""

    def __init__(self, data, style="function", learning_rate=None, train_batch_size=None, seed=None,
                 class_names=None):
        import keras

        from eager_v2 import mnist_cnn, optimizers
        from eager_v2.training import Trainer

        super().__init__(data, learning_rate, train_batch_size, class_names)
        if seed is not None:
            keras.utils.set_random_seed(seed)
        self.image_shape = registry.get(SEED001).input_shape
        self.model = mnist_cnn.build_model()
        optimizer = optimizers.adam(self.learning_rate, registry.get(SEED001).recipe.epsilon)
        self.trainer = Trainer(self.model, optimizer, mnist_cnn.make_loss(), style)

    def _images(self, x):
        return x.reshape(-1, *self.image_shape)  # [batch, 784] -> [batch, 28, 28, 1]

    def _batches(self):
        while True:
            x, y = self.data.train.next_batch(self.train_batch_size)
            yield self._images(x), y

    def _train(self, num_iterations, log, progress):
        """`num_iterations` training steps. Every 100th logs the batch's training accuracy, as the
        document did; Model.fit runs whole loops, so in the `fit` style that line gives the batch's
        loss instead."""
        batches = self._batches()
        first = self.total_iterations

        def on_step(i, loss):
            if (first + i) % 100 == 0:
                log(f"Optimization Iteration: {first + i + 1:>6}, Training Loss: {loss:.4f}")
            if progress is not None:
                progress.update(1)

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

    def _accuracy(self, x, y_one_hot):
        logits = self.model(x, training=False)
        return float(np.mean(np.argmax(logits, axis=1) == np.argmax(y_one_hot, axis=1)))

    def predict_cls(self, images, batch_size=TEST_BATCH_SIZE):
        logits = self.model.predict(self._images(images), batch_size=batch_size, verbose=0)
        return np.argmax(logits, axis=1)

    def layer_output(self, name, image):
        import keras

        probe = keras.Model(self.model.input, self.model.get_layer(name).output)
        return probe(self._images(image), training=False).numpy()[0]

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

# The document's stages: (iterations to add, show example errors, show confusion matrix) and its figures.
STAGES = ((0, False, False), (1, False, False), (99, False, False), (900, True, False), (9000, True, True))
DOCUMENT = {0: 10.2, 1: 8.9, 100: 63.9, 1000: 94.2, 10000: 98.8}


def replay_seed001(run, data, out_dir, label, dataset_name, log=print, stages=STAGES):
    """Drives `run` (a GraphSeed001 or KerasSeed001) through the document's stages.

    Writes the document's plots as PNGs and `seed001_<label>.json` into `out_dir`; returns the JSON dict.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    log(f"Size of:\n- Training-set:\t\t{len(data.train.labels)}\n- Test-set:\t\t{len(data.test.labels)}\n"
        f"- Validation-set:\t{len(data.validation.labels)}")
    cls_true = np.argmax(data.test.labels, axis=1)
    plots.plot_images(out_dir / f"{label}_sample_images.png", data.test.images[:9], cls_true[:9],
                      class_names=run.class_names)
    rows, total_seconds = [], 0.0
    for iterations, errors, confusion in stages:
        if iterations:
            total_seconds += run.optimize(iterations, log=log)
            _check_finite(run, label)
        result = run.print_test_accuracy(errors, confusion, out_dir, prefix=f"{label}_", log=log)
        rows.append({"iterations": run.total_iterations, "accuracy": round(100 * result.accuracy, 2),
                     "document_mnist_accuracy": DOCUMENT.get(run.total_iterations),
                     "train_seconds": round(total_seconds, 1)})
    image1, image2 = data.test.images[0], data.test.images[13]
    plots.plot_conv_weights(out_dir / f"{label}_conv1_weights.png", run.conv_weights("conv1"),
                            title="conv1 filters")
    plots.plot_conv_layer(out_dir / f"{label}_conv1_output.png", run.layer_output("conv1_relu", image1),
                          title="conv1 output, test image 0")
    w2 = run.conv_weights("conv2")
    for channel in (0, 1):
        plots.plot_conv_weights(out_dir / f"{label}_conv2_weights_channel{channel}.png", w2, channel,
                                title=f"conv2 filters, input channel {channel}")
    for index, image in ((0, image1), (13, image2)):
        plots.plot_conv_layer(out_dir / f"{label}_conv2_output_image{index}.png",
                              run.layer_output("conv2_relu", image), title=f"conv2 output, test image {index}")
    versions = runtime.versions()
    summary = {"document": "001_d2bc43d61ee1ed74.txt", "style": label, "dataset": dataset_name,
               "device": runtime.device_description(), **versions, "batch_size": run.train_batch_size,
               "stages": rows}
    report.write_json(out_dir / f"seed001_{label}.json", summary)
    log("\niterations  accuracy  document (MNIST)  train time")
    for r in rows:
        doc = f"{r['document_mnist_accuracy']:.1f}%" if r["document_mnist_accuracy"] is not None else "-"
        log(f"{r['iterations']:>10}  {r['accuracy']:>7.2f}%  {doc:>16}  {r['train_seconds']:>8.1f} s")
    return summary


def _check_finite(run, label):
    """Raises runners.Diverged when a seed 001 run's weights are no longer finite. The document's
    optimize() fetches no loss, so divergence is caught after each of its stages, not at its step."""
    from parity.runners import Diverged

    for name in ("conv1", "conv2"):
        if not np.all(np.isfinite(run.conv_weights(name))):
            raise Diverged(label, run.total_iterations, float("nan"),
                           seen=f"{name}'s weights are no longer finite (checked after each of the document's stages)")


def replay_epochs(spec, style, data, epochs, steps_per_epoch, batch_size, out_dir, seed=0, validation_freq=1,
                  log=print, progress=None):
    """Trains `spec`'s model in `style` for `epochs` of `steps_per_epoch` batches, testing every
    `validation_freq` epochs (accuracy, or for an autoencoder the reconstruction loss). The legacy
    graph runs its train op; the Keras styles run eager_v2.training's loops: a GradientTape step
    (eager, tf.function or XLA), as seeds 000 and 003 wrote it, or Model.fit (`fit`), as seeds 002
    and 004 did. Writes `<model>_<style>.json`, a loss PNG and, for an autoencoder, its
    reconstructions."""
    from parity import metrics, suite
    from parity.runners import GraphRunner, KerasRunner

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    reconstruction = spec.task == "reconstruction"
    runner = GraphRunner.from_spec(spec, seed=seed) if style == "legacy" else \
        KerasRunner.from_spec(spec, seed=seed, style=style)
    batches = data.batches(batch_size, seed)
    rows, losses, seconds = [], [], 0.0
    try:
        for epoch in range(1, epochs + 1):
            bar = progress(steps_per_epoch, f"{spec.name} {style} epoch {epoch}/{epochs}") if progress else None
            began = time.perf_counter()
            epoch_losses = runner.train(batches, steps_per_epoch,
                                        lambda i, loss: bar and bar.update(1, f"loss {loss:.4f}"))
            seconds += time.perf_counter() - began
            if bar:
                bar.close()
            losses += epoch_losses
            row = {"epoch": epoch, "steps": epoch * steps_per_epoch, "mean_loss": float(np.mean(epoch_losses)),
                   "train_seconds": round(seconds, 1)}
            if epoch % validation_freq == 0 or epoch == epochs:
                if reconstruction:
                    row["test_reconstruction_loss"] = round(metrics.reconstruction_loss(runner, data), 5)
                else:
                    row["test_accuracy"] = round(metrics.accuracy_percent(runner, data), 2)
            rows.append(row)
            log(f"{epoch} loss: {row['mean_loss']:.4f}" +
                (f"  acc: {row['test_accuracy']:.2f}%" if "test_accuracy" in row else "") +
                (f"  test loss: {row['test_reconstruction_loss']:.5f}" if "test_reconstruction_loss" in row else ""))
        if reconstruction:
            shown = data.x_test[:suite.RECONSTRUCTION_IMAGES]
            plots.plot_reconstructions(out_dir / f"{spec.name}_{style}_reconstructions.png",
                                       {"original": shown, style: runner.predict(shown)},
                                       f"{spec.name}, {style}: test images over their reconstructions")
    finally:
        runner.close()
    versions = runtime.versions()
    summary = {"model": spec.name, "document": spec.document, "style": style, "dataset": data.dataset.name,
               "dataset_note": data.dataset.note, "device": runtime.device_description(), **versions,
               "batch_size": batch_size, "steps_per_epoch": steps_per_epoch,
               "ms_per_step": round(1000 * seconds / max(len(losses), 1), 1), "epochs": rows}
    report.write_json(out_dir / f"{spec.name}_{style}.json", summary)
    plots.plot_loss_curves(out_dir / f"{spec.name}_{style}_loss.png", {style: losses},
                           f"{spec.name}, {style}, {data.dataset.name}")
    return summary


# The other documents' own training code, ported to Keras 3: each builds Adam from its model's recipe.

def _adam(name):
    from eager_v2 import optimizers

    recipe = registry.get(name).recipe
    return optimizers.adam(recipe.learning_rate, recipe.epsilon)


def train_seed000(model, train_batches, test_batches, epochs, num_classes=None, style="function", log=print):
    """Seed 000's loop on eager_v2.vgg13's model: per epoch, Adam steps over the training batches
    (the loss every 100 steps), then test accuracy. Batches are (images, integer labels) pairs.

    Returns the test accuracy after each epoch.
    """
    from eager_v2 import vgg13
    from eager_v2.training import Trainer

    trainer = Trainer(model, _adam("vgg13"), vgg13.make_loss(), style)
    num_classes = num_classes or registry.get("vgg13").num_classes
    accuracies = []
    for epoch in range(epochs):
        for step, (x, y) in enumerate(train_batches()):
            loss = trainer.train_step(x, np.eye(num_classes, dtype=np.float32)[y])
            if step % 100 == 0:
                log(f"{epoch} {step} loss: {loss:.4f}")
        total = total_correct = 0
        for x, y in test_batches():
            pred = np.argmax(model(x, training=False), axis=1)
            total_correct += int(np.sum(pred == y))
            total += len(y)
        accuracies.append(total_correct / total)
        log(f"acc: {accuracies[-1]:.4f}")
    return accuracies


def train_seed002(model, images, epochs=1, batch_size=64, verbose=2):
    """Seed 002's fit on eager_v2.conv_autoencoder's model: images against themselves,
    validation_split 0.1, EarlyStopping(patience=2) on the loss. Returns the History."""
    import keras

    from eager_v2 import conv_autoencoder

    model.compile(optimizer=_adam("conv_autoencoder"), loss=conv_autoencoder.make_loss(), jit_compile=False)
    early_stopping = keras.callbacks.EarlyStopping(patience=2, monitor="loss")
    return model.fit(images, images, batch_size=batch_size, epochs=epochs, validation_split=0.1,
                     callbacks=[early_stopping], verbose=verbose)


def train_seed003(model, batches, num_steps, reduction="sum", log=print):
    """Seed 003's loop on eager_v2.mobilenet_v2's model: `num_steps` eager GradientTape steps with
    Adam on (images, labels) from `batches`, logging each step's loss; returns the step losses.

    Adam gets epsilon 1e-8 like the legacy graph (the document kept Keras' 1e-7); the loop stays
    eager as the document's was.
    """
    from eager_v2 import mobilenet_v2
    from eager_v2.training import Trainer

    trainer = Trainer(model, _adam("mobilenet_v2"), mobilenet_v2.make_loss(reduction), style="eager")
    return trainer.train(iter(batches), num_steps, on_step=lambda i, loss: log(f"loss: {loss}"))


def train_seed004(model, train_data, test_data, epochs=5, validation_freq=2, steps_per_epoch=None, verbose=2):
    """Seed 004's recipe on eager_v2.resnet18's model: compile with Adam and from-logits categorical
    cross-entropy, fit with validation every `validation_freq` epochs, then evaluate. Data are
    tf.data datasets (or anything fit accepts) of (images, one-hot labels).

    Returns (History, [test loss, test accuracy]).
    """
    from eager_v2 import resnet18

    model.compile(optimizer=_adam("resnet18"), loss=resnet18.make_loss(), metrics=["accuracy"], jit_compile=False)
    history = model.fit(train_data, epochs=epochs, validation_data=test_data, validation_freq=validation_freq,
                        steps_per_epoch=steps_per_epoch, shuffle=False, verbose=verbose)
    return history, model.evaluate(test_data, verbose=verbose)
