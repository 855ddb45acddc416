"""The six parity checks, in the order of DESIGN.md. Each returns a `Check` whose message
names the layer or variable where the two styles first part."""
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Check:
    name: str
    passed: bool
    figures: dict = field(default_factory=dict)
    message: str = ""

    def to_json(self):
        return {"name": self.name, "passed": bool(self.passed), **self.figures, "message": self.message}


def not_run(name, reason):
    return Check(name, False, {"ran": False}, f"not run: {reason}")


def _close(a, b, atol, rtol):
    return bool(np.all(np.abs(np.asarray(a, np.float64) - b) <= atol + rtol * np.abs(b)))


def parameters(spec, legacy, eager):
    """1. Trainable and non-trainable counts equal in both styles and to the anchor."""
    counts = {"legacy": legacy.param_counts(), "eager": eager.param_counts(),
              "anchor": (spec.trainable_params, spec.non_trainable_params)}
    figures = {f"{k}_{kind}": v[i] for k, v in counts.items()
               for i, kind in enumerate(("trainable", "non_trainable"))}
    wrong = [k for k in ("legacy", "eager") if counts[k] != counts["anchor"]]
    message = "; ".join(f"{k} has {counts[k][0]:,} trainable + {counts[k][1]:,} non-trainable, "
                        f"the anchor is {counts['anchor'][0]:,} + {counts['anchor'][1]:,}" for k in wrong)
    return Check("parameters", not wrong, figures, message)


def layer_shapes(legacy, eager):
    """2. Every named layer output has the same shape in both styles, in the same order."""
    ls, es = legacy.layer_shapes(), eager.layer_shapes()
    figures = {"layers": len(ls)}
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
    return Check("layer_shapes", True, figures)


def _fmt(shape):
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def forward(legacy, eager, x, tolerances, modes=("inference",)):
    """3. Same weights, same batch: outputs within tolerance in each mode; on failure, the
    first named layer where the outputs part."""
    atol, rtol = tolerances.forward_atol.value, tolerances.forward_rtol.value
    figures, failures = {"atol": atol, "rtol": rtol}, []
    saved = eager.get_weights()  # a training-mode call moves Keras' batch-norm statistics
    try:
        for mode in modes:
            training = mode == "training"
            out_l, out_e = legacy.forward(x, training), eager.forward(x, training)
            diff = float(np.max(np.abs(out_l.astype(np.float64) - out_e)))
            figures[f"{mode}_max_abs_diff"] = diff
            if not _close(out_e, out_l, atol, rtol):
                eager.set_weights(saved)
                where = first_parting_layer(legacy, eager, x, training, atol, rtol)
                failures.append(f"{mode} mode: outputs part by {diff:.3g}; first at layer {where}")
                figures[f"{mode}_first_parting_layer"] = where
            eager.set_weights(saved)
    finally:
        eager.set_weights(saved)
    return Check("forward", not failures, figures, "; ".join(failures))


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


def gradients(legacy, eager, x, y, tolerances, training=True):
    """4. Same batch and loss (training mode): every variable's gradient within a relative tolerance."""
    tol = tolerances.gradient_rtol.value
    saved = eager.get_weights()  # a training-mode call moves Keras' batch-norm statistics
    try:
        loss_l, grads_l = legacy.loss_and_gradients(x, y, training)
        loss_e, grads_e = eager.loss_and_gradients(x, y, training)
    finally:
        eager.set_weights(saved)
    names = [n for n, t in zip(legacy.names, legacy.trainable_mask) if t]
    largest = max(max(float(np.max(np.abs(g))) for g in grads) for grads in (grads_l, grads_e))
    zero_below = tolerances.zero_gradient_rtol.value * largest
    worst, worst_name, first_bad, zero = 0.0, None, None, []
    for name, gl, ge in zip(names, grads_l, grads_e):
        scale = float(np.max(np.abs(gl)))
        if max(scale, float(np.max(np.abs(ge)))) <= zero_below:
            zero.append(name)
            continue
        rel = float(np.max(np.abs(gl.astype(np.float64) - ge)) / max(scale, 1e-30))
        if rel > worst:
            worst, worst_name = rel, name
        if rel > tol and first_bad is None:
            first_bad = (name, rel)
    figures = {"legacy_loss": loss_l, "eager_loss": loss_e, "max_relative_diff": worst,
               "worst_variable": worst_name, "rtol": tol, "zero_gradient_variables": zero}
    message = "" if first_bad is None else \
        f"gradients first part at {first_bad[0]} (relative diff {first_bad[1]:.3g} > {tol:g})"
    return Check("gradients", first_bad is None, figures, message)


def training_steps(names, losses_l, losses_e, early_l, early_e, final_l, final_e, start, tolerances,
                   trainable_mask=None):
    """5. Same start, batches and optimizer settings: the loss of every step, and the weights
    after the first `early_steps` steps, within tolerance (see tolerances.py for why the
    tight comparison is over the early steps). Non-trainable variables (batch-norm moving
    statistics) that moved in one style but not in the other are named."""
    t = tolerances
    losses_l, losses_e = np.asarray(losses_l, np.float64), np.asarray(losses_e, np.float64)
    diff = np.abs(losses_l - losses_e)
    k = t.early_steps
    early_weight_diffs = [float(np.max(np.abs(a.astype(np.float64) - b))) for a, b in zip(early_l, early_e)]
    final_weight_diffs = [float(np.max(np.abs(a.astype(np.float64) - b))) for a, b in zip(final_l, final_e)]
    moved = [float(np.linalg.norm(a.astype(np.float64) - s)) for a, s in zip(final_l, start)]
    final_relative = [float(np.linalg.norm(a.astype(np.float64) - b)) / m if m > 0 else 0.0
                      for a, b, m in zip(final_l, final_e, moved)]
    figures = {
        "steps": int(len(diff)),
        "early_steps": k,
        "early_max_loss_diff": float(diff[:k].max()),
        "early_max_weight_diff": max(early_weight_diffs),
        "max_loss_diff": float(diff.max()),
        "max_loss_diff_step": int(diff.argmax()) + 1,
        "final_max_weight_diff": max(final_weight_diffs),
        "final_max_relative_weight_diff": max(final_relative),
        "legacy_final_loss": float(losses_l[-1]),
        "eager_final_loss": float(losses_e[-1]),
        "early_loss_atol": t.early_loss_atol.value,
        "early_weights_atol": t.early_weights_atol.value,
        "loss_atol": t.loss_atol.value,
    }
    problems = []
    bad = np.nonzero(diff[:k] > t.early_loss_atol.value)[0]
    if bad.size:
        problems.append(f"step {bad[0] + 1}: losses {losses_l[bad[0]]:.7g} and {losses_e[bad[0]]:.7g} part by "
                        f"{diff[bad[0]]:.3g} > {t.early_loss_atol.value:g}")
    bad_w = [i for i, d in enumerate(early_weight_diffs) if d > t.early_weights_atol.value]
    if bad_w:
        i = bad_w[0]
        problems.append(f"after {k} steps {names[i]} parts by {early_weight_diffs[i]:.3g} > "
                        f"{t.early_weights_atol.value:g}")
    bad = np.nonzero(diff > t.loss_atol.value)[0]
    if bad.size:
        problems.append(f"step {bad[0] + 1}: losses part by {diff[bad[0]]:.3g} > {t.loss_atol.value:g}")
    if trainable_mask is not None:
        frozen = {}
        for side, final in (("legacy", final_l), ("eager", final_e)):
            frozen[side] = [n for n, f, s, tr in zip(names, final, start, trainable_mask)
                            if not tr and np.array_equal(f, s)]
        for side, other in (("legacy", "eager"), ("eager", "legacy")):
            stuck = [n for n in frozen[side] if n not in frozen[other]]
            if stuck:
                figures[f"{side}_unmoved_statistics"] = stuck
                hint = " (does the train op depend on UPDATE_OPS?)" if side == "legacy" else ""
                problems.insert(0, f"{len(stuck)} {side} non-trainable variables never moved{hint}: "
                                   f"{', '.join(stuck[:4])}{', ...' if len(stuck) > 4 else ''}")
    return Check("training_steps", not problems, figures, "; ".join(problems))


def accuracy(acc_l, acc_e, steps, tolerances):
    """6. Test accuracy (percent) of both styles after the same recipe from the same start."""
    tol = tolerances.accuracy_points.value
    diff = abs(acc_l - acc_e)
    figures = {"steps": steps, "legacy_accuracy": acc_l, "eager_accuracy": acc_e, "diff_points": diff,
               "points_tolerance": tol}
    message = "" if diff <= tol else f"accuracies {acc_l:.2f}% and {acc_e:.2f}% part by {diff:.2f} points"
    return Check("accuracy", diff <= tol, figures, message)
