"""Runs the six parity checks for one model and assembles the report of DESIGN.md."""
import time
from dataclasses import dataclass
from typing import Optional

import numpy as np

from parity import checks, datasets, registry, tolerances as tolerances_module, transfer
from parity.datasets import adapt


@dataclass
class ParityConfig:
    model: str
    dataset: str = "auto"
    data_dir: Optional[str] = None
    steps: Optional[int] = None            # None: the model's parity_steps
    accuracy_steps: Optional[int] = None   # None: the model's shortened recipe
    seed: int = 0
    eager_style: str = "function"
    batch_size: Optional[int] = None       # None: the model's parity batch size, else the document's


@dataclass
class TrainingData:
    """What both styles train and test on, in the form the model's recipe asks for."""
    dataset: datasets.Dataset
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray       # integer classes
    labels: str

    def encode(self, y):
        if self.labels == "one_hot":
            return np.eye(self.dataset.num_classes, dtype=np.float32)[y]
        return y

    def batches(self, batch_size, seed):
        """An endless stream of training batches; the same seed gives the same stream."""
        from legacy_graph.input_data import DataSet

        data = DataSet(self.x_train, self.encode(self.y_train), reshape=False, seed=seed)
        while True:
            yield data.next_batch(batch_size)


def prepare_data(spec, dataset_name="auto", data_dir=None):
    """Loads the model's data (`auto`: the first of spec.data that is present), fits a stand-in
    to the model's input, and holds out the validation images as input_data did (5,000 of MNIST)."""
    name = datasets.resolve(dataset_name, data_dir, spec.data)
    data = datasets.DATASETS[name].load(data_dir, explicit=dataset_name != "auto",
                                        image_size=tuple(spec.input_shape[:2]))
    data = adapt.fit_to_model(data, tuple(spec.input_shape), spec.num_classes, resize=spec.resize_proxy)
    validation = min(5000, len(data.x_train) // 10)
    return TrainingData(data, data.x_train[validation:], data.y_train[validation:], data.x_test, data.y_test,
                        spec.recipe.labels)


def build_runners(spec, seed, eager_style, epsilon=None):
    from parity.runners import GraphRunner, KerasRunner

    return (GraphRunner.from_spec(spec, seed=seed),
            KerasRunner.from_spec(spec, seed=seed, style=eager_style, epsilon=epsilon))


def train_in_segments(runner, batches, boundaries, on_step):
    """Trains through each boundary step in turn; returns all losses and the weights at each boundary."""
    losses, snapshots, done = [], [], 0
    for end in boundaries:
        if end > done:
            losses += runner.train(batches, end - done, lambda i, loss, base=done: on_step(base + i, loss))
            done = end
        snapshots.append(runner.get_weights())
    return losses, snapshots


def accuracy_percent(runner, data):
    logits = runner.predict(data.x_test)
    return 100.0 * float(np.mean(np.argmax(logits, axis=1) == data.y_test))


def run(config: ParityConfig, progress=None, log=print):
    """Runs every check; returns (report dict, loss curves dict)."""
    from parity import runtime

    spec = registry.get(config.model)
    tol = tolerances_module.for_model(spec.name)
    data = prepare_data(spec, config.dataset, config.data_dir)
    log(f"data: {data.dataset.summary()}")
    batch_size = config.batch_size or spec.parity_batch_size or spec.recipe.batch_size
    steps = config.steps or spec.parity_steps
    accuracy_steps = config.accuracy_steps or spec.accuracy_steps
    legacy, eager = build_runners(spec, config.seed, config.eager_style)
    results = [checks.parameters(spec, legacy, eager), checks.layer_shapes(legacy, eager)]
    curves, timings, accuracies = {}, {}, {}
    try:
        transfer.transfer(legacy, eager)
    except transfer.TransferError as e:
        reason = f"weights cannot be transferred: {e}"
        results += [checks.not_run(n, reason) for n in ("forward", "gradients", "training_steps", "accuracy")]
    else:
        x = data.x_train[:batch_size]
        y = data.encode(data.y_train[:batch_size])
        modes = ("inference", "training") if spec.batch_norm else ("inference",)
        results.append(checks.forward(legacy, eager, x, tol, modes))
        results.append(checks.gradients(legacy, eager, x, y, tol))

        start = legacy.get_weights()
        total = max(steps, accuracy_steps)
        boundaries = [min(tol.early_steps, steps), steps, total]
        runs = {}
        for name, runner in (("legacy", legacy), (config.eager_style, eager)):
            runner.set_weights(start)
            runner.reset_optimizer()
            bar = progress(total, f"{spec.name} {name:>8}") if progress else None
            began = time.perf_counter()
            losses, snapshots = train_in_segments(runner, data.batches(batch_size, config.seed), boundaries,
                                                  lambda i, loss: bar and bar.update(1, f"loss {loss:.4f}"))
            timings[name] = time.perf_counter() - began
            if bar:
                bar.close()
            runs[name] = (losses, snapshots)
            curves[name] = losses
            accuracies[name] = accuracy_percent(runner, data)
        (losses_l, snaps_l), (losses_e, snaps_e) = runs["legacy"], runs[config.eager_style]
        results.append(checks.training_steps(
            legacy.names, losses_l[:steps], losses_e[:steps], snaps_l[0], snaps_e[0],
            snaps_l[1], snaps_e[1], start, tol, trainable_mask=legacy.trainable_mask))
        results.append(checks.accuracy(accuracies["legacy"], accuracies[config.eager_style], total, tol))
    finally:
        legacy.close()

    versions = runtime.versions()
    styles = {}
    for key, name, runner in (("legacy", "legacy", legacy), ("eager", config.eager_style, eager)):
        trainable, non_trainable = runner.param_counts()
        entry = {"style": name, "trainable_params": trainable, "non_trainable_params": non_trainable,
                 "layer_shapes": {k: list(v) for k, v in runner.layer_shapes().items()}}
        if name in timings:
            steps = len(curves[name])
            entry.update(train_seconds=round(timings[name], 3),
                         ms_per_step=round(1000 * timings[name] / steps, 3),
                         test_accuracy=round(accuracies[name], 2))
        styles[key] = entry
    report = {
        "model": spec.name,
        "dataset": data.dataset.name,
        "dataset_source": data.dataset.source,
        "dataset_note": data.dataset.note,
        "device": runtime.device_description(),
        "tensorflow": versions["tensorflow"],
        "keras": versions["keras"],
        "settings": {"steps": steps, "accuracy_steps": accuracy_steps, "batch_size": batch_size,
                     "seed": config.seed, "eager_style": config.eager_style,
                     "optimizer": f"{spec.recipe.optimizer}(learning_rate={spec.recipe.learning_rate:g}, "
                                  f"epsilon={spec.recipe.epsilon:g})"},
        "styles": styles,
        "checks": [c.to_json() for c in results],
        "passed": all(c.passed for c in results),
    }
    return report, curves
