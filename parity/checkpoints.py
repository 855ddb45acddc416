"""Training checkpoints for `--checkpoint-every` and `--resume`: one `.npz` file per training run
holding every variable training changes (the model's weights and the optimizer's slots and step
counters, in either style) and, as JSON, the step reached, the data stream's position, the losses
so far and the settings the run was started with.

The batch stream is deterministic in its seed and batch size, so its position is the number of
batches drawn; a resumed run draws and drops that many and goes on with the next. A file is
written whole or not at all (parity.outputs), replacing the last one, and a resumed run reaches
the weights an uninterrupted run does, bit for bit on the CPU. Random ops inside a model (dropout)
keep their own generator state, which is not saved: with them a resumed run is another draw.
"""
import io
import json
from pathlib import Path

import numpy as np

from parity import outputs

FORMAT = 1


class CheckpointError(ValueError):
    """A checkpoint that is missing, damaged or from another run; the message says which and why."""


def path_for(report_path, label):
    """The checkpoint beside a report: 'out/r.json', 'legacy' -> 'out/r_legacy.ckpt.npz'."""
    report_path = Path(report_path)
    return report_path.with_name(f"{report_path.stem}_{label}.ckpt.npz")


def save(path, runner, meta):
    """Writes `runner`'s training state and `meta` (JSON-able; its 'step' is the runner's) to `path`."""
    state = runner.training_state()
    arrays = {f"v{i:05d}": np.asarray(value) for i, (_, value) in enumerate(state)}
    header = {"format": FORMAT, **meta, "step": runner.step, "variables": [name for name, _ in state]}
    arrays["meta"] = np.array(json.dumps(header))
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    with outputs.atomic(path, f"training checkpoint at step {runner.step}") as tmp:
        tmp.write_bytes(buffer.getvalue())
    # The ledger keeps the newest description of the file only.
    outputs.forget(path)
    outputs.record(path, f"training checkpoint at step {runner.step}; --resume continues from it")


def read_meta(path):
    """The JSON header of the checkpoint at `path`, checked before any model is built."""
    return _read(path, arrays=False)[0]


def load(path):
    """(meta, [(name, value), ...]) from the checkpoint at `path`."""
    return _read(path, arrays=True)


def _read(path, arrays):
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path} to resume from; a run writes one with --checkpoint-every N")
    try:
        with np.load(path, allow_pickle=False) as f:
            meta = json.loads(str(f["meta"]))
            if meta.get("format") != FORMAT:
                raise CheckpointError(f"{path}: checkpoint format {meta.get('format')!r}, this tf-parity reads "
                                      f"{FORMAT}")
            state = [(name, f[f"v{i:05d}"]) for i, name in enumerate(meta["variables"])] if arrays else None
    except CheckpointError:
        raise
    except Exception as e:  # zipfile, zlib, JSON and key errors all mean a damaged file
        raise CheckpointError(f"{path}: not a readable tf-parity checkpoint ({type(e).__name__}: "
                              f"{str(e).splitlines()[0] if str(e) else ''}); delete it to start over") from None
    return meta, state


FINGERPRINT = "fingerprint"


def fingerprint(runner, start, data):
    """What decides a run besides its settings, as short digests: the runner's own (its graph; the
    port's model, optimizer and loss), the weights it starts from and the training data."""
    from parity.runners import digest_text

    weights = digest_text(b"".join(np.ascontiguousarray(w).tobytes() for w in start))
    return {**runner.fingerprint(), "start weights": weights, "training data": data.digest()}


def check_settings(path, meta, settings):
    """Raises CheckpointError when the checkpoint was made with other settings than `settings`, or
    by another graph, port, optimizer, loss, start or data (its fingerprint)."""
    for key, value in settings.items():
        if key == FINGERPRINT:
            if not isinstance(meta.get(key), dict):
                raise CheckpointError(f"{path} does not say which graph, port and data wrote it (an older "
                                      "tf-parity's): delete it to start over")
            changed = [k for k in value if meta[key].get(k) != value[k]]
            if changed:
                raise CheckpointError(f"{path} was written by another run: its {' and '.join(changed)} "
                                      f"{'have' if len(changed) > 1 else 'has'} changed since; --resume continues "
                                      "only the same pair on the same data: delete it to start over")
        elif meta.get(key) != value:
            raise CheckpointError(f"{path} was written by a run with {key} {meta.get(key)!r}, this run has "
                                  f"{value!r}; resume with the same settings, or delete it to start over")


def restore(path, runner):
    """Loads the checkpoint at `path` into `runner`; returns its meta."""
    meta, state = load(path)
    try:
        runner.restore_training_state(state, meta["step"])
    except ValueError as e:
        raise CheckpointError(f"{path}: {e}; was it written for this model and style?") from None
    return meta


def remove(path):
    """Deletes a checkpoint that the finished run has superseded."""
    Path(path).unlink(missing_ok=True)
    outputs.forget(path)


class RunState:
    """What a training run has done besides its weights: the losses so far, the seconds spent
    training, and `extra` figures its caller keeps (a free run's test shares scored so far)."""

    def __init__(self, losses=(), seconds=0.0, extra=None):
        self.losses, self.seconds, self.extra = list(losses), float(seconds), dict(extra or {})

    def to_json(self):
        return {"losses": self.losses, "train_seconds": self.seconds, "extra": self.extra}

    @classmethod
    def from_meta(cls, meta):
        return cls(meta.get("losses", ()), meta.get("train_seconds", 0.0), meta.get("extra"))


class Keeper:
    """Writes a checkpoint of a run to `path` after every `every`-th step, with `settings` (the
    run's model, style, seed...) in its header so that a resume can check them."""

    def __init__(self, path, every, settings):
        self.path, self.every, self.settings = Path(path), every, dict(settings)

    def save(self, runner, state):
        save(self.path, runner, {**self.settings, "checkpoint_every": self.every, **state.to_json()})

    def resume(self, runner, batches):
        """Restores the checkpoint into `runner`, draws the batches it had used from `batches`,
        and returns its RunState."""
        check_settings(self.path, read_meta(self.path), self.settings)
        meta = restore(self.path, runner)
        skip(batches, meta["step"])
        return RunState.from_meta(meta)


def skip(batches, count):
    """Draws and drops `count` batches: the stream is then where a run of `count` steps left it."""
    for _ in range(count):
        next(batches)


def train_to(runner, batches, end, state, on_step=None, keeper=None):
    """Trains `runner` from its step to step `end`, appending each loss and the seconds spent to
    `state`, and, with `keeper`, writing a checkpoint after every keeper.every-th step.
    `on_step(step_index, loss)` counts steps from 0 at the optimizer's reset."""
    import time

    while runner.step < end:
        stop = end if keeper is None else min(end, (runner.step // keeper.every + 1) * keeper.every)
        base = runner.step

        def record(i, loss, base=base):
            state.losses.append(loss)
            if on_step is not None:
                on_step(base + i, loss)

        began = time.perf_counter()
        try:
            runner.train(batches, stop - base, record)
        finally:
            state.seconds += time.perf_counter() - began
        if keeper is not None and runner.step % keeper.every == 0:
            keeper.save(runner, state)
    return state
