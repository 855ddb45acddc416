"""Figures written as PNG files: the document's plots, and both styles' loss curves."""
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from parity import outputs  # noqa: E402


def save(fig, path):
    """Writes `fig` to `path` as PNG, whole or not at all (parity.outputs)."""
    try:
        with outputs.atomic(path, "figure") as tmp:
            fig.savefig(tmp, dpi=100, bbox_inches="tight", format="png")
    finally:
        plt.close(fig)
    return Path(path)


def _label(classes, names):
    return [names[c] if names else str(c) for c in classes]


def plot_images(path, images, cls_true, cls_pred=None, class_names=None, title=None):
    """Up to nine images in a 3x3 grid with true (and predicted) labels."""
    fig, axes = plt.subplots(3, 3, figsize=(6, 6.6))
    fig.subplots_adjust(hspace=0.45, wspace=0.3)
    true = _label(cls_true, class_names)
    pred = _label(cls_pred, class_names) if cls_pred is not None else None
    for i, ax in enumerate(axes.flat):
        if i < len(images):
            image = np.asarray(images[i])
            side = int(math.isqrt(image.size)) if image.ndim == 1 else None
            image = image.reshape(side, side) if side else np.squeeze(image)
            ax.imshow(image, cmap="binary")
            ax.set_xlabel(f"True: {true[i]}" if pred is None else f"True: {true[i]}\nPred: {pred[i]}", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title)
    return save(fig, path)


def plot_confusion_matrix(path, cm, class_names=None, title="Confusion matrix"):
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    im = ax.matshow(cm, cmap="viridis")
    fig.colorbar(im)
    ticks = np.arange(len(cm))
    labels = class_names or [str(i) for i in ticks]
    ax.set_xticks(ticks, labels, rotation=90, fontsize=8)
    ax.set_yticks(ticks, labels, fontsize=8)
    ax.set_xlabel("Predicted")
    ax.set_ylabel("True")
    for (i, j), value in np.ndenumerate(cm):
        ax.text(j, i, str(value), ha="center", va="center", fontsize=6,
                color="white" if value < cm.max() / 2 else "black")
    ax.set_title(title)
    return save(fig, path)


def plot_conv_weights(path, weights, input_channel=0, title=None):
    """A conv layer's filters [h, w, in, out] for one input channel, on one colour scale."""
    w_min, w_max = np.min(weights), np.max(weights)
    num_filters = weights.shape[3]
    grids = math.ceil(math.sqrt(num_filters))
    fig, axes = plt.subplots(grids, grids, figsize=(6, 6))
    for i, ax in enumerate(axes.flat):
        if i < num_filters:
            ax.imshow(weights[:, :, input_channel, i], vmin=w_min, vmax=w_max,
                      interpolation="nearest", cmap="seismic")
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title)
    return save(fig, path)


def plot_conv_layer(path, values, title=None):
    """One image's feature maps [H, W, C]."""
    num_filters = values.shape[-1]
    grids = math.ceil(math.sqrt(num_filters))
    fig, axes = plt.subplots(grids, grids, figsize=(6, 6))
    for i, ax in enumerate(axes.flat):
        if i < num_filters:
            ax.imshow(values[:, :, i], interpolation="nearest", cmap="binary")
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title)
    return save(fig, path)


def plot_loss_curves(path, curves, title):
    """Overlays the per-step losses of each style; a lower panel shows how far they drift apart."""
    names = list(curves)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6.5), sharex=True,
                                      gridspec_kw={"height_ratios": [2, 1]})
    styles = ["-", "--", ":", "-."]
    for i, name in enumerate(names):
        losses = np.asarray(curves[name])
        top.plot(np.arange(1, len(losses) + 1), losses, styles[i % 4], label=name, linewidth=1)
    top.set_ylabel("training loss")
    top.set_title(title)
    top.legend()
    if len(names) >= 2:
        a, b = (np.asarray(curves[n], np.float64) for n in names[:2])
        n = min(len(a), len(b))
        diff = np.maximum(np.abs(a[:n] - b[:n]), 1e-12)
        bottom.semilogy(np.arange(1, n + 1), diff, linewidth=0.8, label=f"|{names[0]} - {names[1]}|")
        bottom.set_ylabel("|loss difference|\n(zeros drawn at 1e-12)")
        bottom.legend(fontsize=8, loc="lower right")
    bottom.set_xlabel("step")
    return save(fig, path)


def plot_accuracy_traces(path, traces, batch_statistics, title):
    """Test accuracy against step for each style ({style: {step: percent}}); stars for the
    accuracies with batch statistics ({style: {step: percent}}), where given."""
    fig, ax = plt.subplots(figsize=(8, 4))
    for i, (name, trace) in enumerate(traces.items()):
        line, = ax.plot(list(trace), list(trace.values()), ["-o", "--s", ":^", "-.v"][i % 4], label=name)
        if batch_statistics.get(name):
            ax.plot(list(batch_statistics[name]), list(batch_statistics[name].values()), "*", markersize=12,
                    color=line.get_color(), label=f"{name}, batch statistics")
    ax.set_xlabel("step")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title)
    ax.legend()
    return save(fig, path)


def plot_reconstructions(path, rows, title):
    """Rows of images, one row per entry of `rows` ({"original": ..., "legacy": ..., ...})."""
    names = list(rows)
    count = len(next(iter(rows.values())))
    fig, axes = plt.subplots(len(names), count, figsize=(2 * count, 2.1 * len(names)), squeeze=False)
    for r, name in enumerate(names):
        for c in range(count):
            ax = axes[r][c]
            ax.imshow(np.squeeze(rows[name][c]), cmap="gray", vmin=0.0, vmax=1.0)
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(name)
    fig.suptitle(title)
    return save(fig, path)
