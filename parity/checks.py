"""The six parity checks, in the order of docs/checks.md. Each returns a `Check` whose message
names the layer or variable where the two styles first part.

Every comparison looks for NaN and infinity first: a difference with a NaN in it is never
greater than a tolerance, so a plain `diff > tol` would pass two diverged runs. A non-finite
value on one side fails the check with its own reason; non-finite values on both sides in the
same places are a match that proves nothing, and the check is reported not informative."""
import itertools
from dataclasses import dataclass, field

import numpy as np

from parity import kinks


@dataclass
class Check:
    name: str
    passed: bool
    figures: dict = field(default_factory=dict)
    message: str = ""
    informative: bool = True   # False: the two styles agree, but where agreeing proves nothing

    def __post_init__(self):
        self.passed = bool(self.passed) and self.informative

    @property
    def status(self):
        if self.figures.get("ran") is False:
            return "not_run"
        if not self.informative:
            return "not_informative"
        return "passed" if self.passed else "failed"

    def to_json(self):
        return {"name": self.name, "passed": self.passed, "status": self.status, **self.figures,
                "message": self.message}


def not_run(name, reason):
    return Check(name, False, {"ran": False}, f"not run: {reason}")


def not_informative(name, figures, message):
    return Check(name, False, figures, message, informative=False)


@dataclass(frozen=True)
class NonFinite:
    """Non-finite values in a comparison: `same` when both sides hold them in exactly the same
    places with the same values (NaN, inf or -inf), else the comparison fails."""
    same: bool
    message: str


def nonfinite(what, legacy, eager):
    """None when every value of `legacy` and `eager` (scalars or arrays) is finite; else a
    NonFinite whose message names both sides, e.g. 'legacy loss is NaN, eager loss is 2.303'."""
    a, b = np.asarray(legacy, np.float64), np.asarray(eager, np.float64)
    bad_a, bad_b = ~np.isfinite(a), ~np.isfinite(b)
    if not (bad_a.any() or bad_b.any()):
        return None
    same = a.shape == b.shape and np.array_equal(bad_a, bad_b) and \
        np.array_equal(a[bad_a], b[bad_b], equal_nan=True)
    if same:
        where = "" if a.ndim == 0 else " in the same places"
        return NonFinite(True, f"legacy and eager {what} {_describe(a, plural=True)}{where}")
    return NonFinite(False, f"legacy {what} {_describe(a)}, eager {what} {_describe(b)}")


def _describe(values, plural=False):
    if values.ndim == 0:
        value = float(values)
        text = "NaN" if np.isnan(value) else ("inf" if value == np.inf else "-inf" if value == -np.inf
                                               else f"{value:.7g}")
        return f"{'are both' if plural else 'is'} {text}"
    counts = [(int(np.sum(np.isnan(values))), "NaN"), (int(np.sum(values == np.inf)), "inf"),
              (int(np.sum(values == -np.inf)), "-inf")]
    named = [f"{n} {kind}" for n, kind in counts if n]
    if not named:
        return "are finite" if plural else "is finite"
    return f"{'both hold' if plural else 'holds'} {' and '.join(named)} of {values.size} values"


def first_nonfinite(comparisons):
    """The first NonFinite among (what, legacy, eager) comparisons that is not `same`, else the
    first that is, else None."""
    found = [f for f in (nonfinite(*c) for c in comparisons) if f is not None]
    return next((f for f in found if not f.same), found[0] if found else None)


def _close(a, b, atol, rtol):
    return bool(np.all(np.abs(np.asarray(a, np.float64) - b) <= atol + rtol * np.abs(b)))


def parameters(spec, legacy, eager):
    """1. Trainable and non-trainable counts equal in both styles and to the anchor. A user's pair
    has no anchor unless it gives one (its expected trainable count): its two sides are compared."""
    anchor = (spec.trainable_params, spec.non_trainable_params)
    counts = {"legacy": legacy.param_counts(), "eager": eager.param_counts()}
    if anchor[0] is not None:
        counts["anchor"] = (anchor[0], counts["legacy"][1] if anchor[1] is None else anchor[1])
    figures = {f"{k}_{kind}": v[i] for k, v in counts.items()
               for i, kind in enumerate(("trainable", "non_trainable"))}
    reference = "anchor" if "anchor" in counts else "legacy"
    wrong = [k for k in ("legacy", "eager") if k != reference and counts[k] != counts[reference]]
    message = "; ".join(f"{k} has {counts[k][0]:,} trainable + {counts[k][1]:,} non-trainable, "
                        f"the {'anchor is' if reference == 'anchor' else 'legacy graph has'} "
                        f"{counts[reference][0]:,} + {counts[reference][1]:,}" for k in wrong)
    return Check("parameters", not wrong, figures, message)


def dtype_difference(legacy, eager):
    """Why two sides cannot meet float32 tolerances, from their dtypes() ("the port computes in
    float16 (dtype policy mixed_float16), the graph in float32"), or "" where they compute alike."""
    parts = []
    if eager["compute"] != legacy["compute"] or set(eager["layers"]) - set(legacy["layers"]):
        port = ", ".join(sorted({eager["compute"], *eager["layers"]} - {legacy["compute"]})) or eager["compute"]
        policy = f" (dtype policy {eager['policy']})" if eager.get("policy") not in (None, legacy["compute"]) else ""
        parts.append(f"the port computes in {port}{policy}, the graph in {legacy['compute']}")
    if eager["variables"] != legacy["variables"]:
        parts.append(f"the port's weights are {', '.join(eager['variables'])}, the graph's "
                     f"{', '.join(legacy['variables'])}")
    return "; ".join(parts)


def layer_shapes(legacy, eager, dtypes=None):
    """2. Every named layer output has the same shape in both styles, in the same order; with
    `dtypes` (each side's dtypes()), both compute and keep their weights in the same dtypes."""
    result = _shapes(legacy.layer_shapes(), eager.layer_shapes())
    if dtypes is not None:
        result.figures["dtypes"] = {"legacy": dtypes[0], "eager": dtypes[1]}
        differ = dtype_difference(*dtypes)
        if differ:
            message = (f"{differ}: a port in another precision cannot meet the float32 tolerances; check it under "
                       "the float32 policy (keras.config.set_dtype_policy('float32')) and switch precision after")
            shapes = result.message if not result.passed and result.informative else ""
            return Check("layer_shapes", False, result.figures, message + (f"; {shapes}" if shapes else ""))
    return result


def _shapes(ls, es):
    figures = {"layers": len(ls)}
    if not ls and not es:
        return not_informative("layer_shapes", figures, "neither style names a layer output, so no shape was "
                                                        "compared")
    for i, (ln, en) in enumerate(zip(ls, es)):
        if ln != en:
            return Check("layer_shapes", False, figures,
                         f"layer {i} is {ln!r} in the legacy graph but {en!r} in the eager model")
        if ls[ln] != es[en]:
            return Check("layer_shapes", False, figures,
                         f"{ln}: legacy {_fmt(ls[ln])}, eager {_fmt(es[en])}")
    if len(ls) != len(es):
        side, extra = ("legacy", list(ls)[len(es)]) if len(ls) > len(es) else ("eager", list(es)[len(ls)])
        return Check("layer_shapes", False, figures, f"{extra} exists only in the {side} style")
    if list(ls) == ["output"]:
        return Check("layer_shapes", True, figures, "the legacy side names no intermediate output, so only the "
                                                    "outputs' shapes were compared; name some (endpoints) for more")
    return Check("layer_shapes", True, figures)


def _fmt(shape):
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def forward(legacy, eager, x, tolerances, modes=("inference",), dtype_reason=""):
    """3. Same weights, same batch: outputs within tolerance in each mode; on failure, the
    first named layer where the outputs part, and `dtype_reason` (dtype_difference) where the two
    sides compute in different precisions."""
    atol, rtol = tolerances.forward_atol.value, tolerances.forward_rtol.value
    figures, failures, same = {"atol": atol, "rtol": rtol}, [], []
    saved = eager.get_weights()  # a training-mode call moves Keras' batch-norm statistics
    try:
        for mode in modes:
            training = mode == "training"
            out_l, out_e = legacy.forward(x, training), eager.forward(x, training)
            bad = nonfinite("outputs", out_l, out_e)
            if bad is not None:
                figures[f"{mode}_max_abs_diff"] = None
                figures["nonfinite_outputs"] = [side for side, out in (("legacy", out_l), ("eager", out_e))
                                                if not np.all(np.isfinite(out))]
                (same if bad.same else failures).append(f"{mode} mode: {bad.message}")
                continue
            diff = float(np.max(np.abs(out_l.astype(np.float64) - out_e)))
            figures[f"{mode}_max_abs_diff"] = diff
            if not _close(out_e, out_l, atol, rtol):
                eager.set_weights(saved)
                unsteady = _unsteady(legacy, eager, lambda r: [r.forward(x, training)], {"legacy": [out_l],
                                                                                          "eager": [out_e]})
                if unsteady:
                    same.append(f"{mode} mode: outputs part by {diff:.3g}, but {unsteady}")
                    continue
                where = first_parting_layer(legacy, eager, x, training, atol, rtol)
                failures.append(f"{mode} mode: outputs part by {diff:.3g}; first at layer {where}")
                figures[f"{mode}_first_parting_layer"] = where
            eager.set_weights(saved)
    finally:
        eager.set_weights(saved)
    if same and not failures:
        return not_informative("forward", figures, "; ".join(same))
    if failures and dtype_reason:
        failures.append(f"the likely reason: {dtype_reason}")
    return Check("forward", not failures, figures, "; ".join(failures + same))


def _unsteady(legacy, eager, run, first):
    """Why the comparison cannot be judged when a side gives other values on a second, identical run
    (randomness nothing switched off), else "": `run(runner)` repeats the run, `first` holds each
    side's first values."""
    reasons = []
    for side, runner in (("legacy", legacy), ("eager", eager)):
        saved = runner.get_weights()  # a training-mode call moves Keras' batch-norm statistics
        try:
            again = run(runner)
        finally:
            runner.set_weights(saved)
        if all(np.array_equal(a, b, equal_nan=True) for a, b in zip(first[side], again)):
            continue
        if side == "legacy":
            ops = legacy.info().get("random_ops", []) if hasattr(legacy, "info") else []
            reasons.append("the legacy graph gives other values on the same batch a second time: it draws random "
                           f"numbers ({', '.join(ops[:3]) or 'ops'}) that no eval feed switches off; give the value "
                           "that does (keep_prob 1.0) in the builder's eval_feeds, or --feed TENSOR=VALUE")
        else:
            reasons.append("the Keras model gives other values on the same batch a second time: it has a random "
                           "layer tf-parity does not know how to switch off (it knows Dropout, SpatialDropout, "
                           "GaussianDropout, AlphaDropout and GaussianNoise)")
    return "; ".join(reasons)


def first_parting_layer(legacy, eager, x, training, atol, rtol):
    values_l = legacy.endpoint_values(x, training)
    values_e = eager.endpoint_values(x, training)
    for name, value in values_l.items():
        other = values_e.get(name)
        if other is None or other.shape != value.shape or not _close(other, value, atol, rtol):
            diff = "" if other is None or other.shape != value.shape else \
                f" (max abs diff {np.max(np.abs(other.astype(np.float64) - value)):.3g})"
            return f"{name}{diff}"
    return "none of the named layers (only the output)"


def dead_variables(legacy, x, y, tolerances, candidates_below=1e-2):
    """Trainable variables the training-mode loss does not depend on, e.g. a conv bias feeding
    batch norm (the mean subtraction cancels it). Their gradient is zero in exact arithmetic and
    holds rounding noise, so it is not compared.

    A variable counts as dead when moving every element by 0.5 * max(1, max |v|), with random
    signs, leaves the loss within tolerances.dead_loss_atol. Only variables whose gradient is
    below `candidates_below` of the largest are tried.
    """
    loss, grads = legacy.loss_and_gradients(x, y, True)
    if not (np.isfinite(loss) and all(np.all(np.isfinite(g)) for g in grads)):
        return []  # the gradients check fails on the non-finite values themselves
    largest = max(float(np.max(np.abs(g))) for g in grads)
    weights = legacy.get_weights()
    trainable = [i for i, t in enumerate(legacy.trainable_mask) if t]
    rng = np.random.default_rng(0)
    dead = []
    try:
        for i, g in zip(trainable, grads):
            if float(np.max(np.abs(g))) >= candidates_below * largest:
                continue
            shift = 0.5 * max(1.0, float(np.max(np.abs(weights[i])))) * rng.choice([-1.0, 1.0], weights[i].shape)
            legacy.set_weight(i, (weights[i] + shift).astype(weights[i].dtype))
            if abs(legacy.loss(x, y, True) - loss) <= tolerances.dead_loss_atol.value:
                dead.append(legacy.names[i])
            legacy.set_weight(i, weights[i])
    finally:
        legacy.set_weights(weights)
    return dead


def gradients(legacy, eager, x, y, tolerances, training=True, dead=(), more_batches=()):
    """4. Same batch and loss (training mode): every variable's gradient within a relative tolerance.

    Only a batch on which both styles pick the same winner at every kink (ReLU, ReLU6, max-pool;
    see parity.kinks) can be judged: where an input lies within float32 rounding of a kink, two
    right ports can send its gradient different ways. A batch that differs there while every kink
    input agrees within tolerances.kink_input_rtol is recorded and the next of `more_batches`
    ((x, y) pairs) taken. The check fails on a batch whose gradients part while every kink agrees
    or the kink inputs part beyond rounding, or when no batch is free of crossed kinks.
    """
    tol = tolerances.gradient_rtol.value
    names = [n for n, t in zip(legacy.names, legacy.trainable_mask) if t]
    if not names:
        return Check("gradients", False, {"rtol": tol}, "the legacy model has no trainable variable")
    skipped = []
    for index, (bx, by) in enumerate(itertools.chain([(x, y)], more_batches)):
        saved = eager.get_weights()  # a training-mode call moves Keras' batch-norm statistics
        try:
            loss_l, grads_l, ops_l, kinks_l = legacy.gradients_and_kinks(bx, by, training)
            loss_e, grads_e, ops_e, kinks_e = eager.gradients_and_kinks(bx, by, training)
        finally:
            eager.set_weights(saved)
        bad = first_nonfinite([("loss", loss_l, loss_e)] +
                              [(f"gradient of {n}", a, b) for n, a, b in zip(names, grads_l, grads_e)])
        if bad is not None:
            figures = {"legacy_loss": loss_l, "eager_loss": loss_e, "batch": index, "rtol": tol,
                       "skipped_batches": skipped}
            message = f"batch {index}: {bad.message}"
            return not_informative("gradients", figures, message) if bad.same else \
                Check("gradients", False, figures, message)
        worst, worst_name, first_bad = worst_relative(names, grads_l, grads_e, dead, tol)
        figures = {"legacy_loss": loss_l, "eager_loss": loss_e, "max_relative_diff": worst,
                   "worst_variable": worst_name, "rtol": tol, "dead_variables": list(dead), "batch": index,
                   "skipped_batches": skipped}
        if first_bad is None:
            message = "; ".join(f"batch {s['batch']} skipped: {s['crossed_kinks'][0]}" +
                                (f" and {len(s['crossed_kinks']) - 1} more" if len(s["crossed_kinks"]) > 1 else "")
                                for s in skipped)
            return Check("gradients", True, figures, message)
        message = f"gradients first part at {first_bad[0]} (relative diff {first_bad[1]:.3g} > {tol:g})"
        unsteady = _unsteady(legacy, eager, lambda r: r.gradients_and_kinks(bx, by, training)[1],
                             {"legacy": grads_l, "eager": grads_e})
        if unsteady:
            return not_informative("gradients", figures, f"{message}, but {unsteady}")
        try:
            crossed = kinks.crossings(ops_l, kinks_l, ops_e, kinks_e)
        except kinks.NotComparable as e:
            return Check("gradients", False, figures, f"{message}; kinks not compared: {e}")
        parting, where = kinks.largest_difference(ops_l, kinks_l, kinks_e)
        figures["kink_input_relative_diff"] = parting
        if parting > tolerances.kink_input_rtol.value:
            return Check("gradients", False, figures,
                         f"{message}; the forward passes already part at {where} (its inputs {parting:.3g} apart "
                         f"relative to the largest, > {tolerances.kink_input_rtol.value:g})")
        if not crossed:
            return Check("gradients", False, figures,
                         f"{message}, with every ReLU and max-pool input on the same side in both styles")
        skipped.append({"batch": index, "max_relative_diff": worst, "worst_variable": worst_name,
                        "kink_input_relative_diff": parting, "crossed_kinks": [c.describe() for c in crossed]})
    return Check("gradients", False, figures,
                 f"every batch tried ({len(skipped)}) has inputs within rounding of a kink on opposite sides in "
                 f"the two styles, so no gradient could be judged; batch 0: {skipped[0]['crossed_kinks'][0]}")


def worst_relative(names, grads_l, grads_e, dead, tol):
    """The largest relative gradient difference, its variable, and the first (name, diff) over `tol`."""
    worst, worst_name, first_bad = 0.0, None, None
    for name, gl, ge in zip(names, grads_l, grads_e):
        if name in dead:
            continue
        scale = float(np.max(np.abs(gl))) if np.size(gl) else 0.0
        rel = float(np.max(np.abs(gl.astype(np.float64) - ge)) / max(scale, 1e-30)) if np.size(gl) else 0.0
        if not np.isfinite(rel):
            rel = np.inf  # a NaN would never compare greater than the tolerance
        if rel > worst:
            worst, worst_name = rel, name
        if rel > tol and first_bad is None:
            first_bad = (name, rel)
    return worst, worst_name, first_bad


@dataclass
class StepRecord:
    """One teacher-forced step, summarized per variable (see `teacher_forced_steps`)."""
    loss_l: float
    loss_e: float
    grads: list      # per trainable variable: (max |g_l - g_e|, max |g_l|, max |g_e|)
    weights: list    # per variable: (max |w_l - w_e| after the step, max |w_l|, moved in legacy, moved in eager)
    nonfinite: "NonFinite | None" = None   # the first non-finite loss, gradient or weight of the step


def teacher_forced_steps(legacy, eager, batches, steps, on_step=None):
    """Runs `steps` training steps with teacher forcing and returns a StepRecord per step.

    At every step both styles start from the legacy graph's weights (batch-norm statistics
    included): the legacy graph runs its train op, the eager model computes its loss and
    gradients there and applies the legacy's gradients with its own optimizer. Loss,
    gradients, optimizer update and batch-norm update are so compared step by step, free of
    the float32 chaos that makes two free-running trainings part (pitfall `float32-chaos`).
    The steps stop after the first one that holds a non-finite value on either side.
    """
    records = []
    before = legacy.get_weights()
    trainable = [n for n, t in zip(legacy.names, legacy.trainable_mask) if t]
    for k in range(steps):
        x, y = next(batches)
        loss_l, grads_l = legacy.train_step_with_gradients(x, y)
        after_l = legacy.get_weights()
        eager.set_weights(before)
        loss_e, grads_e = eager.forced_step(x, y, grads_l)
        after_e = eager.get_weights()
        bad = first_nonfinite([("loss", loss_l, loss_e)] +
                              [(f"gradient of {n}", a, b) for n, a, b in zip(trainable, grads_l, grads_e)] +
                              [(f"{n} after the update", a, b) for n, a, b in zip(legacy.names, after_l, after_e)])
        grads = [(_max_abs_diff(a, b), _max_abs(a), _max_abs(b)) for a, b in zip(grads_l, grads_e)]
        weights = [(_max_abs_diff(a, e), _max_abs(a), not np.array_equal(a, w), not np.array_equal(e, w))
                   for a, e, w in zip(after_l, after_e, before)]
        records.append(StepRecord(loss_l, loss_e, grads, weights, bad))
        before = after_l
        if on_step is not None:
            on_step(k, loss_l)
        if bad is not None:
            break
    eager.set_weights(before)
    return records


def _max_abs_diff(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - b))) if np.size(a) else 0.0


def _max_abs(a):
    return float(np.max(np.abs(a))) if np.size(a) else 0.0


def training_steps(names, trainable_mask, records, tolerances, dead=()):
    """5. Same start, same batches, same optimizer settings, teacher-forced: at every step the loss
    and every weight after the update (batch-norm statistics included) within tolerance. Names the
    first step and variable that part, a step with a non-finite value, and statistics that never
    moved."""
    t = tolerances
    if not records:
        return Check("training_steps", False, {"steps": 0}, "no teacher-forced step ran")
    for r in records:  # records built by hand may not have looked
        r.nonfinite = r.nonfinite or nonfinite("loss", r.loss_l, r.loss_e)
    bad_step = next((k for k, r in enumerate(records, start=1) if r.nonfinite is not None), None)
    finite = records[:bad_step - 1] if bad_step else records
    trainable = [n for n, m in zip(names, trainable_mask) if m]
    loss_diffs = np.array([abs(r.loss_l - r.loss_e) for r in finite])
    grad_worst, grad_worst_at, weight_worst, problems = 0.0, None, 0.0, []
    first = {}
    for k, r in enumerate(finite, start=1):
        if loss_diffs[k - 1] > t.step_loss_atol.value and "loss" not in first:
            first["loss"] = (f"step {k}: losses {r.loss_l:.7g} and {r.loss_e:.7g} part by {loss_diffs[k - 1]:.3g} "
                             f"> {t.step_loss_atol.value:g}")
        # The eager gradients along the way are reported, not judged: the update applies the
        # legacy's, and check 4 judges gradients at the start (see tolerances.gradient_rtol).
        for name, (diff, scale_l, _) in zip(trainable, r.grads):
            rel = diff / max(scale_l, 1e-30)
            if name not in dead and rel > grad_worst:
                grad_worst, grad_worst_at = rel, f"step {k}, {name}"
        for name, (diff, scale, _, _) in zip(names, r.weights):
            bound = t.step_weights_atol.value + t.step_weights_rtol.value * scale
            weight_worst = max(weight_worst, diff / bound)
            if not diff <= bound and "weights" not in first:  # a NaN difference fails too
                first["weights"] = f"step {k}: after the update {name} parts by {diff:.3g} > {bound:.3g}"
    moved_l = [any(r.weights[i][2] for r in finite) for i in range(len(names))]
    moved_e = [any(r.weights[i][3] for r in finite) for i in range(len(names))]
    figures = {
        "steps": len(records),
        "max_loss_diff": float(loss_diffs.max()) if len(loss_diffs) else None,
        "max_loss_diff_step": int(loss_diffs.argmax()) + 1 if len(loss_diffs) else None,
        "max_gradient_relative_diff": grad_worst,
        "max_gradient_relative_diff_at": grad_worst_at,
        "max_weight_diff_to_tolerance": weight_worst,
        "legacy_first_loss": records[0].loss_l,
        "legacy_last_loss": records[-1].loss_l,
        "step_loss_atol": t.step_loss_atol.value,
        "gradient_rtol": t.gradient_rtol.value,
        "step_weights_atol": t.step_weights_atol.value,
        "step_weights_rtol": t.step_weights_rtol.value,
    }
    if bad_step:
        figures["nonfinite_step"] = bad_step
    for side, moved, other in (("legacy", moved_l, moved_e), ("eager", moved_e, moved_l)):
        stuck = [n for n, m, o, tr in zip(names, moved, other, trainable_mask) if not tr and not m and o]
        if stuck:
            figures[f"{side}_unmoved_statistics"] = stuck
            hint = " (does the train op depend on UPDATE_OPS?)" if side == "legacy" else ""
            problems.append(f"{len(stuck)} {side} non-trainable variables never moved{hint}: "
                            f"{', '.join(stuck[:4])}{', ...' if len(stuck) > 4 else ''}")
    problems += [first[k] for k in ("loss", "weights") if k in first]
    if bad_step:
        bad = records[bad_step - 1].nonfinite
        message = f"step {bad_step}: {bad.message}"
        if bad.same and not problems:
            return not_informative("training_steps", figures, f"{message}; the steps before it agree")
        problems.append(message)
    return Check("training_steps", not problems, figures, "; ".join(problems))


def accuracy(acc_l, acc_e, steps, tolerances, free_running=None, chance=None, checkpoints=None, reading=None):
    """6. Test accuracy (percent) of both styles after the same recipe from the same start, each
    training on its own; `free_running` adds figures of how their losses drifted apart. With more
    than one of `checkpoints` (the steps whose weights scored a share of the test set, see
    parity.free_runs.free_run) the accuracies are read over the run's tail.

    `chance` (percent: what always answering the most frequent test class scores): where the
    accuracies agree but one lies below tolerances.informative_accuracy's floor, two models that
    learned little agree, which proves little: the check is reported not informative. `reading`
    says how the accuracies were read where it is not the plain inference pass."""
    tol = tolerances.accuracy_points.value
    figures = {"steps": steps, "legacy_accuracy": acc_l, "eager_accuracy": acc_e, "points_tolerance": tol,
               **(free_running or {})}
    if reading:
        figures["reading"] = reading
    if checkpoints and len(checkpoints) > 1:
        figures["checkpoints"] = list(checkpoints)
    bad = nonfinite("test accuracy", acc_l, acc_e)
    if bad is not None:
        message = f"{bad.message} (non-finite test predictions)"
        return not_informative("accuracy", figures, message) if bad.same else Check("accuracy", False, figures,
                                                                                    message)
    diff = abs(acc_l - acc_e)
    figures["diff_points"] = diff
    if diff > tol:
        message = f"accuracies {acc_l:.2f}% and {acc_e:.2f}% part by {diff:.2f} points"
        early = figures.get("free_running_loss_diff_first_10_steps")
        if early is not None and early <= tolerances.step_loss_atol.value:
            # The styles trained alike at first and parted later: float32 chaos, whose spread is the recipe's.
            message += (f", yet their first 10 free-running losses agree to {early:.2g}: where the teacher-forced "
                        "steps pass too, this may be the recipe's own spread (pitfall `float32-chaos`), which "
                        f"the default {tol:g} points does not cover; measure it (the legacy accuracy over --seed 0 "
                        "to 3) and set accuracy_points in the pair's [tolerances] with that reason")
        return Check("accuracy", False, figures, message)
    if chance is not None:
        floor = informative_floor(chance, tolerances)
        figures.update(chance_accuracy=chance, informative_floor=floor)
        if min(acc_l, acc_e) < floor:
            return not_informative("accuracy", figures, (
                f"not informative: {min(acc_l, acc_e):.2f}% is below {floor:.2f}% (chance {chance:.2f}%), so two "
                "models that learned little agree; train longer (--accuracy-steps)"))
    return Check("accuracy", True, figures)


def informative_floor(chance, tolerances):
    """The test accuracy (percent) below which a model counts as having learned too little for
    agreement to prove anything: `informative_accuracy` times chance, at most halfway from chance
    to 100%."""
    return chance + min((tolerances.informative_accuracy.value - 1) * chance, (100.0 - chance) / 2)


def reconstruction(loss_l, loss_e, steps, tolerances, free_running=None):
    """6 (autoencoders). Test reconstruction loss of both styles after the same recipe from the same
    start, each training on its own."""
    tol = tolerances.reconstruction_atol.value
    figures = {"steps": steps, "legacy_loss": loss_l, "eager_loss": loss_e, "atol": tol, **(free_running or {})}
    bad = nonfinite("test reconstruction loss", loss_l, loss_e)
    if bad is not None:
        return not_informative("reconstruction", figures, bad.message) if bad.same else \
            Check("reconstruction", False, figures, bad.message)
    diff = abs(loss_l - loss_e)
    figures["diff"] = diff
    message = "" if diff <= tol else f"reconstruction losses {loss_l:.5f} and {loss_e:.5f} part by {diff:.3g}"
    return Check("reconstruction", diff <= tol, figures, message)


def diverged(name, steps, stops, figures=None):
    """6, when a free run stopped at a non-finite loss. `stops` maps each style to its
    runners.Diverged, or None where it ran every step. Both styles diverging at the same step to
    the same value is a match that says nothing about the test figure: not informative."""
    figures = {"steps": steps, **(figures or {}),
               "diverged": {style: stop.to_json() if stop else None for style, stop in stops.items()}}
    parts = [f"{style} {stop.reason()}" if stop else f"{style} ran all {steps} steps" for style, stop in stops.items()]
    first, second = stops.values()
    if first and second and first.step == second.step and \
            nonfinite("loss", first.loss, second.loss).same:
        return not_informative(name, figures, f"both styles diverge: {first.reason()}; the port fails as the "
                                              "original does, which proves nothing")
    return Check(name, False, figures, "; ".join(parts))
