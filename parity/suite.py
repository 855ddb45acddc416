"""Runs the six parity checks for one model and assembles the report of DESIGN.md."""
import time
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from parity import checkpoints, checks, datasets, registry, tolerances as tolerances_module, transfer
from parity.datasets import adapt


@dataclass
class ParityConfig:
    model: str                             # a registered model's name, or a user's pair's (see `spec`)
    dataset: str = "auto"
    data_dir: Optional[str] = None
    steps: Optional[int] = None            # None: the model's parity_steps
    accuracy_steps: Optional[int] = None   # None: the model's shortened recipe
    seed: int = 0
    eager_style: str = "function"
    batch_size: Optional[int] = None       # None: the model's parity batch size, else the document's
    checkpoint_every: Optional[int] = None  # free runs write a checkpoint every N steps
    resume: bool = False                   # free runs continue from their checkpoints
    checkpoint_prefix: str = "results/parity.json"   # checkpoints go beside this report path
    spec: Optional[registry.ModelSpec] = None  # a user's pair (parity.config); None: registry.get(model)
    # (spec, seed, eager_style) -> (spec, legacy runner, Keras runner), in place of building both
    # sides (parity.golden records the legacy side, or replays it).
    runners: Optional[Callable] = None

    def batch(self, spec):
        return self.batch_size or spec.parity_batch_size or spec.recipe.batch_size


@dataclass
class TrainingData:
    """What both styles train and test on, in the form the model's recipe asks for."""
    dataset: datasets.Dataset
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray       # integer classes
    labels: str              # "one_hot", "sparse", or "images" (an autoencoder's targets are its inputs)
    num_classes: int         # the model's outputs (a stand-in may use fewer classes)

    def targets(self, x, y):
        """What the model trains against for images `x` of classes `y`."""
        if self.labels == "images":
            return x
        if self.labels == "one_hot":
            return np.eye(self.num_classes, dtype=np.float32)[y]
        return y

    def batch_at(self, k, batch_size):
        """The k-th slice of `batch_size` training images, in file order, and its targets."""
        x = self.x_train[k * batch_size:(k + 1) * batch_size]
        return x, self.targets(x, self.y_train[k * batch_size:(k + 1) * batch_size])

    def batches(self, batch_size, seed):
        """An endless stream of training batches; the same seed gives the same stream."""
        from legacy_graph.input_data import DataSet

        data = DataSet(self.x_train, np.arange(len(self.x_train)), reshape=False, seed=seed)
        while True:
            x, index = data.next_batch(batch_size)
            yield x, self.targets(x, self.y_train[index])


def prepare_data(spec, dataset_name="auto", data_dir=None):
    """Loads the model's data (`auto`: the first of spec.data that is present; a path ending in
    .npz: a user's own arrays), fits a stand-in to the model's input, and holds out the validation
    images as input_data did (5,000 of MNIST)."""
    if str(dataset_name).endswith(".npz"):
        data = datasets.load_arrays(dataset_name)
    else:
        name = datasets.resolve(dataset_name, data_dir, spec.data)
        data = datasets.DATASETS[name].load(data_dir, explicit=dataset_name != "auto",
                                            image_size=tuple(spec.input_shape[:2]) if len(spec.input_shape) == 3
                                            else None)
    data = adapt.fit_to_model(data, image_shape(spec, data), spec.num_classes or data.num_classes,
                              resize=spec.resize_proxy)
    validation = min(5000, len(data.x_train) // 10)
    return TrainingData(data, data.x_train[validation:], data.y_train[validation:], data.x_test, data.y_test,
                        spec.recipe.labels, spec.num_classes)


def image_shape(spec, data):
    """The image shape data is fitted to: the model's input, or where the model takes flat vectors
    ([None, 784]) the data's own images when they hold as many values (the runners reshape)."""
    shape = tuple(spec.input_shape)
    if len(shape) == 3:
        return shape
    if int(np.prod(shape)) == int(np.prod(data.image_shape)):
        return tuple(data.image_shape)
    raise datasets.DataError(f"the model takes inputs of shape {shape} ({int(np.prod(shape))} values), {data.name}'s "
                             f"images are {'x'.join(map(str, data.image_shape))}: give data whose images hold as "
                             "many values (--dataset FILE.npz)")


def build_runners(spec, seed, eager_style, epsilon=None):
    """(legacy, Keras) runners of a registered model."""
    from parity import pair

    return pair.build_runners(spec, seed, eager_style, epsilon)[1:]


def prepare(config, log=print):
    """(spec, data, legacy, eager) of a parity run. A registered model's data is loaded first; a
    user's pair's after its legacy side is built, whose graph says what data it takes."""
    from parity import pair

    spec = config.spec or registry.get(config.model)
    build = config.runners or pair.build_runners
    if spec.pair_legacy is None:
        data = prepare_data(spec, config.dataset, config.data_dir)
        log(f"data: {data.dataset.summary()}")
        spec, legacy, eager = build(spec, config.seed, config.eager_style)
        return spec, data, legacy, eager
    spec, legacy, eager = build(spec, config.seed, config.eager_style)
    try:
        data = prepare_data(spec, config.dataset, config.data_dir)
    except BaseException:
        legacy.close()
        raise
    log(f"data: {data.dataset.summary()}")
    return spec, data, legacy, eager


def train_in_segments(runner, batches, boundaries, on_step=lambda i, loss: None):
    """Trains through each boundary step in turn; returns all losses and the weights at each boundary."""
    losses, snapshots, done = [], [], 0
    for end in boundaries:
        if end > done:
            losses += runner.train(batches, end - done, lambda i, loss, base=done: on_step(base + i, loss))
            done = end
        snapshots.append(runner.get_weights())
    return losses, snapshots


def accuracy_percent(runner, data, batch_statistics=False):
    """Test accuracy in percent; NaN where a prediction is not finite (argmax would read a NaN
    row as class 0). `batch_statistics`: see the runners' predict()."""
    logits = runner.predict(data.x_test, batch_statistics=batch_statistics)
    if not np.all(np.isfinite(logits)):
        return float("nan")
    return 100.0 * float(np.mean(np.argmax(logits, axis=1) == data.y_test))


def chance_percent(y):
    """What always answering the most frequent class scores on labels `y`, in percent."""
    return 100.0 * float(np.bincount(y).max()) / len(y)


def reconstruction_loss(runner, data):
    """Mean binary cross-entropy of the test images against their reconstructions."""
    p = np.clip(runner.predict(data.x_test).astype(np.float64), 1e-7, 1 - 1e-7)
    x = data.x_test
    return float(np.mean(-(x * np.log(p) + (1 - x) * np.log(1 - p))))


ACCURACY_CHECKPOINT_STRIDE = 10


def scoring_steps(spec, steps):
    """The steps of a free run of `steps` whose weights score the test set: the last alone, or with
    spec.accuracy_checkpoints = K > 1 the last K, 10 steps apart (fewer in a short run)."""
    count = 1
    if spec.task == "classification":
        count = min(spec.accuracy_checkpoints, 1 + (steps - 1) // ACCURACY_CHECKPOINT_STRIDE)
    return [steps - ACCURACY_CHECKPOINT_STRIDE * (count - 1 - k) for k in range(count)]


# The two styles' free runs take turns in blocks of this many steps, so that a shared machine's
# drift weighs on both ms/step figures alike: run one after the other, the second style's could
# land in a slower spell of the machine and read up to a third slower than the first's.
FREE_RUN_BLOCK = 100


def free_run(spec, runner, data, batches, steps, on_step=None, keeper=None, state=None):
    """Trains from the runner's step (0, or where a checkpoint left it) to `steps` on `batches`;
    returns the losses, the seconds spent training, the test figure and the steps whose weights
    were tested. With several scoring steps (scoring_steps) the test accuracy is read over the
    run's tail: test image i is scored by the weights after the (i % K)-th of the K steps, so the
    K checkpoints share the test set and the figure costs one pass over it, as the last step's
    alone would. `keeper` writes checkpoints along the way; `state` is what one held. Raises
    runners.Diverged at the first non-finite loss."""
    blocks = free_run_blocks(spec, runner, data, batches, steps, on_step, keeper, state)
    while True:
        try:
            next(blocks)
        except StopIteration as done:
            return done.value


def free_run_blocks(spec, runner, data, batches, steps, on_step=None, keeper=None, state=None,
                    block=FREE_RUN_BLOCK):
    """free_run as a generator that yields after every `block` steps, for two runs to take turns;
    its return value is free_run's."""
    ends = scoring_steps(spec, steps)
    count = len(ends)
    state = state or checkpoints.RunState()
    state.extra.setdefault("correct", 0)
    state.extra.setdefault("scored", 0)
    for k, end in enumerate(ends):
        if k < state.extra["scored"]:
            continue
        while runner.step < end:
            checkpoints.train_to(runner, batches, min(end, runner.step + block), state, on_step, keeper)
            yield
        if count > 1:
            logits = runner.predict(data.x_test[k::count], batch_statistics=spec.accuracy_batch_statistics)
            state.extra["correct"] += int(np.sum(np.argmax(logits, axis=1) == data.y_test[k::count]))
            state.extra["scored"] = k + 1
    metric = 100.0 * state.extra["correct"] / len(data.x_test) if count > 1 else test_metric(spec, runner, data)
    return state.losses, state.seconds, metric, ends


def checkpoint_settings(spec, config, style):
    """What a resumed parity free run must share with the run that wrote its checkpoint."""
    return {"command": "parity", "model": spec.name, "style": style, "seed": config.seed,
            "batch_size": config.batch(spec),
            "accuracy_steps": config.accuracy_steps or spec.accuracy_steps}


def test_metric(spec, runner, data):
    """Test accuracy in percent (read with batch statistics where the spec says so), or
    (reconstruction) the test reconstruction loss."""
    if spec.task == "reconstruction":
        return reconstruction_loss(runner, data)
    return accuracy_percent(runner, data, spec.accuracy_batch_statistics)


RECONSTRUCTION_IMAGES = 5
BATCH_STATISTICS = "batch statistics (batch norm in training mode over test batches of 256)"
# Batches the gradients check may move on to when the first crosses a kink (parity.kinks).
GRADIENT_SPARE_BATCHES = 3


def _optimizer(spec):
    r = spec.recipe
    if spec.pair_legacy is not None:
        return r.optimizer
    return f"{r.optimizer}(learning_rate={r.learning_rate:g}, epsilon={r.epsilon:g})"


def _keeper(spec, config, style, data):
    """The checkpoint writer of a style's free run, or None when the run keeps no checkpoints."""
    if not config.checkpoint_every:
        return None
    return checkpoints.Keeper(checkpoints.path_for(config.checkpoint_prefix, style), config.checkpoint_every,
                              {**checkpoint_settings(spec, config, style), "dataset": data.dataset.name})


def _style_free_run(spec, config, name, runner, start, data, steps, progress, log):
    """One style's free run from the weights `start`, or from its checkpoint when resuming, as a
    generator that yields between blocks of steps (`_take_turns`); returns (losses, seconds, test
    figure). A Diverged it raises carries the losses before it (.losses)."""
    from parity.runners import Diverged

    runner.set_weights(start)
    runner.reset_optimizer()
    batches = data.batches(config.batch(spec), config.seed)
    keeper, state = _keeper(spec, config, name, data), checkpoints.RunState()
    if config.resume and keeper is not None and keeper.path.exists():
        state = keeper.resume(runner, batches)
        log(f"{name}: resumed from {keeper.path} at step {runner.step}")
    if "metric" in state.extra:  # this style's free run had finished
        return state.losses, state.seconds, state.extra["metric"]
    bar = progress(steps, f"{spec.name} {name:>8}", initial=runner.step) if progress else None
    try:
        losses, seconds, metric, _ = yield from free_run_blocks(
            spec, runner, data, batches, steps, lambda i, loss: bar and bar.update(1, f"loss {loss:.4f}"), keeper,
            state)
    except Diverged as e:
        e.losses = state.losses
        raise
    finally:
        if bar:
            bar.close()
    if keeper is not None:
        keeper.save(runner, checkpoints.RunState(losses, seconds, {"metric": metric}))
    return losses, seconds, metric


def _take_turns(runs):
    """Advances each generator of `runs` (name -> generator) by one block in turn until all have
    returned; returns name -> ("done", value) or ("diverged", the Diverged it raised)."""
    from parity.runners import Diverged

    outcomes, active = {}, dict(runs)
    while active:
        for name, run in list(active.items()):
            try:
                next(run)
            except StopIteration as done:
                outcomes[name] = ("done", done.value)
            except Diverged as e:
                outcomes[name] = ("diverged", e)
            else:
                continue
            del active[name]
    return outcomes


def run(config: ParityConfig, progress=None, log=print):
    """Runs every check; returns (report dict, loss curves by style, test reconstructions by
    style for an autoencoder, else {})."""
    from parity import runtime
    from parity.runners import Diverged

    spec, data, legacy, eager = prepare(config, log)
    tol = tolerances_module.for_spec(spec)
    batch_size = config.batch(spec)
    steps = config.steps or spec.parity_steps
    accuracy_steps = config.accuracy_steps or spec.accuracy_steps
    curves, timings, accuracies, reconstructions, diverged, moving = {}, {}, {}, {}, [], {}
    try:
        results = [checks.parameters(spec, legacy, eager), checks.layer_shapes(legacy, eager)]
        # A user's pair is paired by order and shape (parity.mapping), its names its own.
        transfer.transfer(legacy, eager, match_names=spec.pair_legacy is None)
    except transfer.TransferError as e:
        reason = f"weights cannot be transferred: {e}"
        final = "reconstruction" if spec.task == "reconstruction" else "accuracy"
        results += [checks.not_run(n, reason) for n in ("forward", "gradients", "training_steps", final)]
    else:
        x, y = data.batch_at(0, batch_size)
        modes = ("inference", "training") if spec.batch_norm else ("inference",)
        results.append(checks.forward(legacy, eager, x, tol, modes))
        dead = checks.dead_variables(legacy, x, y, tol)
        more = (data.batch_at(k, batch_size) for k in range(1, 1 + GRADIENT_SPARE_BATCHES))
        results.append(checks.gradients(legacy, eager, x, y, tol, dead=dead, more_batches=more))

        start = legacy.get_weights()
        for runner in (legacy, eager):
            runner.set_weights(start)
            runner.reset_optimizer()
        bar = progress(steps, f"{spec.name} teacher-forced") if progress else None
        records = checks.teacher_forced_steps(legacy, eager, data.batches(batch_size, config.seed), steps,
                                              lambda i, loss: bar and bar.update(1, f"loss {loss:.4f}"))
        if bar:
            bar.close()
        results.append(checks.training_steps(legacy.names, legacy.trainable_mask, records, tol, dead))
        if not np.isfinite(records[-1].loss_l):
            last = (len(records) - 1, records[-2].loss_l) if len(records) > 1 else None
            stop = Diverged("legacy", len(records), records[-1].loss_l, last)
            diverged.append({"style": "legacy", "phase": "teacher-forced steps", "step": stop.step,
                             "reason": stop.reason()})

        stops, runners = {}, (("legacy", legacy), (config.eager_style, eager))
        outcomes = _take_turns({name: _style_free_run(spec, config, name, runner, start, data, accuracy_steps,
                                                      progress, log) for name, runner in runners})
        for name, runner in runners:
            kind, value = outcomes[name]
            if kind == "done":
                curves[name], timings[name], accuracies[name] = value
                stops[name] = None
            else:
                stops[name], curves[name] = value, value.losses
                diverged.append({"style": name, "phase": "free run", "step": value.step, "reason": value.reason()})
                log(f"{spec.name} {name}: {value}")
            if spec.task == "reconstruction" and stops[name] is None:
                reconstructions[name] = runner.predict(data.x_test[:RECONSTRUCTION_IMAGES])
            if spec.accuracy_batch_statistics and stops[name] is None:
                moving[name] = accuracy_percent(runner, data)  # for the report: what inference scores
        final = "reconstruction" if spec.task == "reconstruction" else "accuracy"
        if any(stops.values()):
            results.append(checks.diverged(final, accuracy_steps, stops))
            reconstructions = {}
        else:
            drift = np.abs(np.asarray(curves["legacy"]) - np.asarray(curves[config.eager_style]))
            free_running = {"free_running_loss_diff_first_10_steps": float(drift[:10].max()),
                            "free_running_max_loss_diff": float(drift.max())}
            if spec.task == "reconstruction":
                results.append(checks.reconstruction(accuracies["legacy"], accuracies[config.eager_style],
                                                     accuracy_steps, tol, free_running))
            else:
                results.append(checks.accuracy(accuracies["legacy"], accuracies[config.eager_style], accuracy_steps,
                                               tol, free_running, chance=chance_percent(data.y_test),
                                               checkpoints=scoring_steps(spec, accuracy_steps),
                                               reading=BATCH_STATISTICS if spec.accuracy_batch_statistics else None))
    finally:
        legacy.close()

    versions = runtime.versions()
    styles = {}
    for key, name, runner in (("legacy", "legacy", legacy), ("eager", config.eager_style, eager)):
        trainable, non_trainable = runner.param_counts()
        entry = {"style": name, "trainable_params": trainable, "non_trainable_params": non_trainable,
                 "layer_shapes": {k: list(v) for k, v in runner.layer_shapes().items()}}
        if name in timings:
            entry.update(train_seconds=round(timings[name], 3),
                         ms_per_step=round(1000 * timings[name] / len(curves[name]), 3),
                         **({"test_reconstruction_loss": round(accuracies[name], 5)}
                            if spec.task == "reconstruction" else {"test_accuracy": round(accuracies[name], 2)}))
        if name in moving:
            entry["test_accuracy_moving_statistics"] = round(moving[name], 2)
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
                     "seed": config.seed, "eager_style": config.eager_style, "optimizer": _optimizer(spec),
                     "randomness_held_fixed": {"legacy": legacy.held_fixed, "eager": eager.held_fixed}},
        "styles": styles,
        "checks": [c.to_json() for c in results],
        "passed": all(c.passed for c in results),
        "diverged": diverged,
    }
    if reconstructions:
        reconstructions["original"] = data.x_test[:RECONSTRUCTION_IMAGES]
    return report, curves, reconstructions
