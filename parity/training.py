"""`tf-parity train`: one model, one style, the document's recipe (or a given number of steps)."""
from dataclasses import dataclass
from typing import Optional

from parity import checkpoints, metrics, runtime
from parity.training_data import prepare_data


@dataclass
class TrainConfig:
    model: str
    style: str
    dataset: str = "auto"
    data_dir: Optional[str] = None
    steps: Optional[int] = None           # None: the document's full recipe
    batch_size: Optional[int] = None      # None: the document's
    seed: int = 0
    save: Optional[str] = None            # Saver prefix (legacy) or .weights.h5 (Keras styles)
    checkpoint: Optional[str] = None      # the training checkpoint's path
    checkpoint_every: Optional[int] = None
    resume: bool = False


def make_runner(spec, style, seed):
    """(spec, the runner of `style`); a user's pair's spec comes back with what its legacy graph says."""
    from parity import pair
    from parity.runners import GraphRunner, KerasRunner

    if spec.pair_legacy is not None:
        return pair.runner_for_style(spec, style, seed)
    if style == "legacy":
        return spec, GraphRunner.from_spec(spec, seed=seed)
    return spec, KerasRunner.from_spec(spec, seed=seed, style=style)


def settings(spec, config, batch_size):
    """What a resumed run must share with the run that wrote its checkpoint."""
    return {"command": "train", "model": spec.name, "style": config.style, "seed": config.seed,
            "batch_size": batch_size}


def precision_advice(dtypes):
    """The advice for a run that diverged in a precision below float32, else None (the caller's)."""
    low = sorted({dtypes["compute"], *dtypes["layers"]} & {"float16", "bfloat16"})
    if not low:
        return None
    policy = f" (dtype policy {dtypes['policy']})" if dtypes.get("policy") not in (None, "float32") else ""
    from parity.report import PRECISION_ADVICE

    return f"The model computes in {', '.join(low)}{policy}: {PRECISION_ADVICE}"


def plan(spec, config):
    """(steps, batch_size) the run will use."""
    return config.steps or spec.recipe.iterations, config.batch_size or spec.recipe.batch_size


def train(spec, config, progress=None, log=print):
    """Trains and tests; returns {"report": dict for the JSON, "losses": per-step losses}. Raises
    runners.Diverged at the first non-finite loss."""
    from parity.runners import Diverged

    if spec.pair_legacy is None:
        data = prepare_data(spec, config.dataset, config.data_dir)
        data.check_batch_size(plan(spec, config)[1])
        spec, runner = make_runner(spec, config.style, config.seed)
    else:  # a pair's graph says what data it takes
        spec, runner = make_runner(spec, config.style, config.seed)
        try:
            data = prepare_data(spec, config.dataset, config.data_dir)
            data.check_batch_size(plan(spec, config)[1])
        except BaseException:
            runner.close()
            raise
    log(f"data: {data.dataset.summary()}")
    steps, batch_size = plan(spec, config)
    keeper, resumed_at = None, None
    every = config.checkpoint_every or (checkpoints.read_meta(config.checkpoint)["checkpoint_every"]
                                        if config.resume else None)
    if every:
        keeper = checkpoints.Keeper(config.checkpoint, every, {
            **settings(spec, config, batch_size), "dataset": data.dataset.name,
            checkpoints.FINGERPRINT: checkpoints.fingerprint(runner, runner.get_weights(), data)})
    try:
        batches = data.batches(batch_size, config.seed)
        state = checkpoints.RunState()
        if config.resume:
            state = keeper.resume(runner, batches)
            resumed_at = runner.step
            log(f"resumed from {keeper.path} at step {resumed_at}")
        bar = progress(steps, f"{spec.name} {config.style}", initial=runner.step) if progress else None
        try:
            checkpoints.train_to(runner, batches, steps, state,
                                 lambda i, loss: bar and bar.update(1, f"loss {loss:.4f}"), keeper)
        except Diverged as e:
            e.advice = precision_advice(runner.dtypes())
            raise
        finally:
            if bar:
                bar.close()
        metric = metrics.test_metric(spec, runner, data)
        saved = runner.save(config.save) if config.save else None
    finally:
        runner.close()
    versions = runtime.versions()
    report = {
        "model": spec.name, "style": config.style, "dataset": data.dataset.name,
        "dataset_source": data.dataset.source, "device": runtime.device_description(),
        "tensorflow": versions["tensorflow"], "keras": versions["keras"],
        "steps": steps, "batch_size": batch_size, "seed": config.seed,
        "train_seconds": round(state.seconds, 3), "ms_per_step": round(1000 * state.seconds / steps, 3),
        "final_loss": state.losses[-1], "saved": saved,
        **({"test_reconstruction_loss": round(metric, 5)} if spec.task == "reconstruction"
           else {"test_accuracy": round(metric, 2)}),
    }
    if resumed_at is not None:
        report["resumed_at_step"] = resumed_at
    return {"report": report, "losses": state.losses, "keeper": keeper}
