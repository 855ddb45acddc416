"""Replays the documents end to end with either tree: seed 001's stages, printouts and plots, and
the epoch-based recipes of the others."""
import time
from pathlib import Path

import numpy as np

from parity import plots, report, runtime

# The document's stages: (iterations to add, show example errors, show confusion matrix) and its figures.
STAGES = ((0, False, False), (1, False, False), (99, False, False), (900, True, False), (9000, True, True))
DOCUMENT = {0: 10.2, 1: 8.9, 100: 63.9, 1000: 94.2, 10000: 98.8}


def replay_seed001(run, data, out_dir, label, dataset_name, log=print, stages=STAGES):
    """Drives `run` (legacy or eager Seed001) through the document's stages.

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
    """Raises runners.Diverged when a Seed001 run's weights are no longer finite. The document's
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
    from parity import suite
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
                    row["test_reconstruction_loss"] = round(suite.reconstruction_loss(runner, data), 5)
                else:
                    row["test_accuracy"] = round(suite.accuracy_percent(runner, data), 2)
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
