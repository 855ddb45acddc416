"""The free runs of the accuracy check: each style trains on its own from the same start, the two
taking turns in blocks of steps, checkpointed along the way where asked, and scored on the test
set at the end."""
import numpy as np

from parity import checkpoints, metrics
from parity.runners import Diverged

ACCURACY_CHECKPOINT_STRIDE = 10
# The two styles' free runs take turns in blocks of this many steps, so that a shared machine's
# drift weighs on both ms/step figures alike: run one after the other, the second style's could
# land in a slower spell of the machine and read up to a third slower than the first's.
FREE_RUN_BLOCK = 100


def scoring_steps(spec, steps):
    """The steps of a free run of `steps` whose weights score the test set: the last alone, or with
    spec.accuracy_checkpoints = K > 1 the last K, 10 steps apart (fewer in a short run)."""
    count = 1
    if spec.task == "classification":
        count = min(spec.accuracy_checkpoints, 1 + (steps - 1) // ACCURACY_CHECKPOINT_STRIDE)
    return [steps - ACCURACY_CHECKPOINT_STRIDE * (count - 1 - k) for k in range(count)]


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
    metric = 100.0 * state.extra["correct"] / len(data.x_test) if count > 1 else metrics.test_metric(spec, runner, data)
    return state.losses, state.seconds, metric, ends


def checkpoint_settings(spec, config, style):
    """What a resumed parity free run must share with the run that wrote its checkpoint (`config`:
    a suite.ParityConfig)."""
    return {"command": "parity", "model": spec.name, "style": style, "seed": config.seed,
            "batch_size": config.batch(spec),
            "accuracy_steps": config.accuracy_steps or spec.accuracy_steps}


def keeper_settings(spec, config, style, runner, start, data):
    """Everything a style's free-run checkpoint must share with the run that resumes it."""
    return {**checkpoint_settings(spec, config, style), "dataset": data.dataset.name,
            checkpoints.FINGERPRINT: checkpoints.fingerprint(runner, start, data)}


def keeper(spec, config, style, runner, start, data):
    """The checkpoint writer of a style's free run, or None when the run keeps no checkpoints."""
    if not config.checkpoint_every:
        return None
    return checkpoints.Keeper(checkpoints.path_for(config.checkpoint_prefix, style), config.checkpoint_every,
                              keeper_settings(spec, config, style, runner, start, data))


def check_resumable(spec, config, runners, start, data):
    """Before any check runs: every style's checkpoint that --resume would continue was written by
    this pair on this data with these settings (CheckpointError naming what changed)."""
    if not (config.resume and config.checkpoint_every):
        return
    for style, runner in runners:
        path = checkpoints.path_for(config.checkpoint_prefix, style)
        if path.exists():
            checkpoints.check_settings(path, checkpoints.read_meta(path),
                                       keeper_settings(spec, config, style, runner, start, data))


def style_free_run(spec, config, name, runner, start, data, steps, progress, log):
    """One style's free run from the weights `start`, or from its checkpoint when resuming, as a
    generator that yields between blocks of steps (`take_turns`); returns (losses, seconds, test
    figure). A Diverged it raises carries the losses before it (.losses)."""
    runner.set_weights(start)
    runner.reset_optimizer()
    batches = data.batches(config.batch(spec), config.seed)
    writer, state = keeper(spec, config, name, runner, start, data), checkpoints.RunState()
    if config.resume and writer is not None and writer.path.exists():
        state = writer.resume(runner, batches)
        log(f"{name}: resumed from {writer.path} at step {runner.step}")
    if "metric" in state.extra:  # this style's free run had finished
        return state.losses, state.seconds, state.extra["metric"]
    bar = progress(steps, f"{spec.name} {name:>8}", initial=runner.step) if progress else None
    try:
        losses, seconds, metric, _ = yield from free_run_blocks(
            spec, runner, data, batches, steps, lambda i, loss: bar and bar.update(1, f"loss {loss:.4f}"), writer,
            state)
    except Diverged as e:
        e.losses = state.losses
        raise
    finally:
        if bar:
            bar.close()
    if writer is not None:
        writer.save(runner, checkpoints.RunState(losses, seconds, {"metric": metric}))
    return losses, seconds, metric


def take_turns(runs):
    """Advances each generator of `runs` (name -> generator) by one block in turn until all have
    returned; returns name -> ("done", value) or ("diverged", the Diverged it raised)."""
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
