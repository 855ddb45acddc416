"""Replays seed 001 end to end (the document's stages, printouts and plots) with either tree."""
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
