"""Runs the six parity checks for one model (docs/checks.md says what each compares and why) and
assembles their report."""
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from parity import checks, free_runs, metrics, registry, runtime, tolerances as tolerances_module, transfer
from parity.runners import Diverged
from parity.training_data import prepare_data


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

    def steps_for(self, spec):
        """Teacher-forced steps of the training_steps check."""
        return self.steps or spec.parity_steps

    def accuracy_steps_for(self, spec):
        """Steps of each style's free run before the test figure is read."""
        return self.accuracy_steps or spec.accuracy_steps


RECONSTRUCTION_IMAGES = 5
BATCH_STATISTICS = "batch statistics (batch norm in training mode over test batches of 256)"
# Batches the gradients check may move on to when the first crosses a kink (parity.kinks).
GRADIENT_SPARE_BATCHES = 3


@dataclass
class Outcome:
    """What running the checks found, for the report: the checks in order, and per style (the
    legacy style and the eager style by name) what its free run gave."""
    checks: list = field(default_factory=list)           # checks.Check, in the order of docs/checks.md
    curves: dict = field(default_factory=dict)           # free-running losses, to where a run diverged
    seconds: dict = field(default_factory=dict)          # seconds each free run trained (runs that finished)
    metrics: dict = field(default_factory=dict)          # the test figure after each free run
    moving: dict = field(default_factory=dict)           # accuracy with the moving statistics, where the
    #                                                      figure was read with batch statistics
    reconstructions: dict = field(default_factory=dict)  # an autoencoder's test reconstructions
    diverged: list = field(default_factory=list)         # {style, phase, step, reason} of each stopped run


def prepare(config, log=print):
    """(spec, data, legacy, eager) of a parity run. A registered model's data is loaded first; a
    user's pair's after its legacy side is built, whose graph says what data it takes."""
    from parity import pair

    spec = config.spec or registry.get(config.model)
    build = config.runners or pair.build_runners
    if spec.pair_legacy is None:
        data = prepare_data(spec, config.dataset, config.data_dir)
        data.check_batch_size(config.batch(spec))
        log(f"data: {data.dataset.summary()}")
        spec, legacy, eager = build(spec, config.seed, config.eager_style)
        return spec, data, legacy, eager
    spec, legacy, eager = build(spec, config.seed, config.eager_style)
    try:
        data = prepare_data(spec, config.dataset, config.data_dir)
        data.check_batch_size(config.batch(spec))
    except BaseException:
        legacy.close()
        raise
    log(f"data: {data.dataset.summary()}")
    return spec, data, legacy, eager


def run(config: ParityConfig, progress=None, log=print):
    """Runs every check; returns (report dict, loss curves by style, test reconstructions by
    style for an autoencoder, else {})."""
    spec, data, legacy, eager = prepare(config, log)
    try:
        outcome = run_checks(spec, config, data, legacy, eager, progress, log)
    finally:
        legacy.close()
    report = assemble_report(spec, config, data, legacy, eager, outcome)
    reconstructions = outcome.reconstructions
    if reconstructions:
        reconstructions["original"] = data.x_test[:RECONSTRUCTION_IMAGES]
    return report, outcome.curves, reconstructions


def _final_check(spec):
    return "reconstruction" if spec.task == "reconstruction" else "accuracy"


def run_checks(spec, config, data, legacy, eager, progress=None, log=print):
    """Runs the six checks in order on the two sides; returns their Outcome. Where the weights
    cannot be transferred, the checks that need the same weights on both sides are not run."""
    tol = tolerances_module.for_spec(spec)
    start = legacy.get_weights()
    free_runs.check_resumable(spec, config, (("legacy", legacy), (config.eager_style, eager)), start, data)
    dtypes = (legacy.dtypes(), eager.dtypes())
    outcome = Outcome(checks=[checks.parameters(spec, legacy, eager), checks.layer_shapes(legacy, eager, dtypes)])
    try:
        # A user's pair is paired by order and shape (parity.mapping), its names its own.
        transfer.transfer(legacy, eager, match_names=spec.pair_legacy is None)
    except transfer.TransferError as e:
        reason = f"weights cannot be transferred: {e}"
        outcome.checks += [checks.not_run(n, reason) for n in ("forward", "gradients", "training_steps",
                                                              _final_check(spec))]
        return outcome
    batch_size = config.batch(spec)
    x, y = data.batch_at(0, batch_size)
    modes = ("inference", "training") if spec.batch_norm else ("inference",)
    outcome.checks.append(checks.forward(legacy, eager, x, tol, modes, checks.dtype_difference(*dtypes)))
    dead = checks.dead_variables(legacy, x, y, tol)
    more = (data.batch_at(k, batch_size) for k in range(1, 1 + GRADIENT_SPARE_BATCHES))
    outcome.checks.append(checks.gradients(legacy, eager, x, y, tol, dead=dead, more_batches=more))
    outcome.checks.append(_training_steps(spec, config, data, legacy, eager, start, tol, dead, outcome, progress))
    outcome.checks.append(_free_runs(spec, config, data, legacy, eager, start, tol, outcome, progress, log))
    return outcome


def _training_steps(spec, config, data, legacy, eager, start, tol, dead, outcome, progress):
    """Check 5 from the weights `start`; a legacy loss that turns non-finite is noted in
    outcome.diverged."""
    steps = config.steps_for(spec)
    for runner in (legacy, eager):
        runner.set_weights(start)
        runner.reset_optimizer()
    bar = progress(steps, f"{spec.name} teacher-forced") if progress else None
    records = checks.teacher_forced_steps(legacy, eager, data.batches(config.batch(spec), config.seed), steps,
                                          lambda i, loss: bar and bar.update(1, f"loss {loss:.4f}"))
    if bar:
        bar.close()
    if not np.isfinite(records[-1].loss_l):
        last = (len(records) - 1, records[-2].loss_l) if len(records) > 1 else None
        stop = Diverged("legacy", len(records), records[-1].loss_l, last)
        outcome.diverged.append({"style": "legacy", "phase": "teacher-forced steps", "step": stop.step,
                                 "reason": stop.reason()})
    return checks.training_steps(legacy.names, legacy.trainable_mask, records, tol, dead)


def _free_runs(spec, config, data, legacy, eager, start, tol, outcome, progress, log):
    """Check 6: both styles' free runs from the weights `start`, taking turns, then their test
    figures compared; fills the outcome's per-style figures."""
    steps = config.accuracy_steps_for(spec)
    stops, runners = {}, (("legacy", legacy), (config.eager_style, eager))
    turns = free_runs.take_turns({name: free_runs.style_free_run(spec, config, name, runner, start, data, steps,
                                                                 progress, log) for name, runner in runners})
    for name, runner in runners:
        kind, value = turns[name]
        if kind == "done":
            outcome.curves[name], outcome.seconds[name], outcome.metrics[name] = value
            stops[name] = None
        else:
            stops[name], outcome.curves[name] = value, value.losses
            outcome.diverged.append({"style": name, "phase": "free run", "step": value.step,
                                     "reason": value.reason()})
            log(f"{spec.name} {name}: {value}")
        if spec.task == "reconstruction" and stops[name] is None:
            outcome.reconstructions[name] = runner.predict(data.x_test[:RECONSTRUCTION_IMAGES])
        if spec.accuracy_batch_statistics and stops[name] is None:
            outcome.moving[name] = metrics.accuracy_percent(runner, data)  # for the report: what inference scores
    if any(stops.values()):
        outcome.reconstructions = {}
        return checks.diverged(_final_check(spec), steps, stops)
    drift = np.abs(np.asarray(outcome.curves["legacy"]) - np.asarray(outcome.curves[config.eager_style]))
    free_running = {"free_running_loss_diff_first_10_steps": float(drift[:10].max()),
                    "free_running_max_loss_diff": float(drift.max())}
    figure_l, figure_e = outcome.metrics["legacy"], outcome.metrics[config.eager_style]
    if spec.task == "reconstruction":
        return checks.reconstruction(figure_l, figure_e, steps, tol, free_running)
    return checks.accuracy(figure_l, figure_e, steps, tol, free_running, chance=metrics.chance_percent(data.y_test),
                           checkpoints=free_runs.scoring_steps(spec, steps),
                           reading=BATCH_STATISTICS if spec.accuracy_batch_statistics else None)


def _optimizer(spec):
    r = spec.recipe
    if spec.pair_legacy is not None:
        return r.optimizer
    return f"{r.optimizer}(learning_rate={r.learning_rate:g}, epsilon={r.epsilon:g})"


def _style_entry(spec, name, runner, outcome):
    """A style's entry of the report: its parameters and layer shapes, and its free run's timing
    and test figure where the run finished."""
    trainable, non_trainable = runner.param_counts()
    entry = {"style": name, "trainable_params": trainable, "non_trainable_params": non_trainable,
             "layer_shapes": {k: list(v) for k, v in runner.layer_shapes().items()}}
    if name in outcome.seconds:
        seconds, figure = outcome.seconds[name], outcome.metrics[name]
        entry.update(train_seconds=round(seconds, 3),
                     ms_per_step=round(1000 * seconds / len(outcome.curves[name]), 3),
                     **({"test_reconstruction_loss": round(figure, 5)}
                        if spec.task == "reconstruction" else {"test_accuracy": round(figure, 2)}))
    if name in outcome.moving:
        entry["test_accuracy_moving_statistics"] = round(outcome.moving[name], 2)
    return entry


def assemble_report(spec, config, data, legacy, eager, outcome):
    """The parity report (the JSON `tf-parity parity` writes) of the checks' `outcome`. The legacy
    runner may be closed: what is read from it (parameter counts, layer shapes) outlives it."""
    versions = runtime.versions()
    return {
        "model": spec.name,
        "dataset": data.dataset.name,
        "dataset_source": data.dataset.source,
        "dataset_note": data.dataset.note,
        "device": runtime.device_description(),
        "tensorflow": versions["tensorflow"],
        "keras": versions["keras"],
        "settings": {"steps": config.steps_for(spec), "accuracy_steps": config.accuracy_steps_for(spec),
                     "batch_size": config.batch(spec), "seed": config.seed, "eager_style": config.eager_style,
                     "optimizer": _optimizer(spec),
                     "randomness_held_fixed": {"legacy": legacy.held_fixed, "eager": eager.held_fixed},
                     "legacy_graph": legacy.graph_trust},
        "styles": {"legacy": _style_entry(spec, "legacy", legacy, outcome),
                   "eager": _style_entry(spec, config.eager_style, eager, outcome)},
        "checks": [c.to_json() for c in outcome.checks],
        "passed": all(c.passed for c in outcome.checks),
        "diverged": outcome.diverged,
    }
