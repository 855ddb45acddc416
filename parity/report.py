"""Writing reports: JSON files written whole or not at all, and a readable summary."""
import json
import math
from pathlib import Path

import numpy as np

from parity import outputs


def write_json(path, data, what="report"):
    """Writes `data` as strict JSON to `path`, whole or not at all (parity.outputs). NaN and
    infinity, which strict JSON parsers refuse, are written as null."""
    text = json.dumps(strict(data), indent=2, allow_nan=False) + "\n"
    with outputs.atomic(path, what) as tmp:
        tmp.write_text(text)
    return Path(path)


def strict(value):
    """`value` with NumPy scalars and arrays as plain Python, and non-finite floats as None."""
    if isinstance(value, dict):
        return {str(k): strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict(v) for v in value]
    if isinstance(value, np.ndarray):
        return strict(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def check_writable(path):
    """Fails before a long run, not after it, when `path` cannot be written."""
    outputs.check_writable(path)


def companion(path, suffix):
    """'out/report.json' -> 'out/report_loss.png' for suffix '_loss.png'."""
    path = Path(path)
    return path.with_name(path.stem + suffix)


LEARNING_RATE_ADVICE = "Lower the learning rate, or check the data and the loss for values that overflow"
PRECISION_ADVICE = ("float16 overflows past 65504 where float32 does not; check the model in float32 first, or scale "
                    "the loss (keras.optimizers.LossScaleOptimizer)")


def divergence_advice(report):
    """What to do about a parity run that diverged: where the port was not finite before its first
    step, or computes in lower precision, that is named; else the learning rate and the data."""
    import math

    from parity import checks

    found = {c["name"]: c for c in report["checks"]}
    if "eager" in found.get("forward", {}).get("nonfinite_outputs", ()) and \
            "legacy" not in found["forward"]["nonfinite_outputs"]:
        return ("The port's outputs are not finite at the start weights already (the forward check), before any "
                "training step: a bug in the port (an overflow, a log or a division by zero), not the learning rate")
    gradients = found.get("gradients", {})
    losses = [gradients.get(k) for k in ("legacy_loss", "eager_loss")]
    if all(isinstance(v, float) for v in losses) and math.isfinite(losses[0]) and not math.isfinite(losses[1]):
        return ("The port's loss is not finite at the start weights already (the gradients check), before any "
                "training step: a bug in the port's loss or forward pass, not the learning rate")
    dtypes = found.get("layer_shapes", {}).get("dtypes")
    differ = checks.dtype_difference(dtypes["legacy"], dtypes["eager"]) if dtypes else ""
    if differ:
        return f"{differ[0].upper()}{differ[1:]}: {PRECISION_ADVICE}"
    return LEARNING_RATE_ADVICE


LABELS = {"passed": "PASS", "failed": "FAIL", "not_run": "FAIL", "not_informative": "----"}


def format_parity(report):
    """The report as a few lines of text: one per check, then the verdict."""
    where = [report["device"]]
    if report.get("tensorflow"):
        where.append(f"TensorFlow {report['tensorflow']}")
    backend = report.get("environments", {}).get("verify", {}).get("keras_backend")
    if backend and backend != "tensorflow":
        where.append(f"Keras {report.get('keras')} on {backend}")
    lines = [f"{report['model']} on {report['dataset']} ({', '.join(where)})"]
    for check in report["checks"]:
        lines.append(f"  {LABELS[check['status']]}  {check['name']:<15} {_summary(check)}")
    passed = sum(c["passed"] for c in report["checks"])
    verdict = f"{passed} of {len(report['checks'])} checks passed"
    void = [c["name"] for c in report["checks"] if c["status"] == "not_informative"]
    if void:
        verdict += f"; not informative: {', '.join(void)}"
    if report.get("diverged"):
        verdict += "; training diverged: " + ", ".join(f"{d['style']} at step {d['step']} ({d['phase']})"
                                                       for d in report["diverged"])
    lines.append(verdict)
    return "\n".join(lines)


def _summary(check):
    """The check's figures in a line, then its message. A figure a failed check could not
    measure (a NaN comparison, a diverged run) leaves the message alone."""
    if check.get("ran") is False or "diverged" in check:
        return check["message"]
    try:
        text = _figures(check)
    except (KeyError, TypeError, ValueError):
        text = ""
    if not text:
        return check.get("message", "")
    return f"{text}  -- {check['message']}" if check.get("message") else text


def _figures(check):
    name = check["name"]
    if name == "parameters":
        text = f"legacy {check['legacy_trainable']:,} + {check['legacy_non_trainable']:,}, " \
               f"eager {check['eager_trainable']:,} + {check['eager_non_trainable']:,}"
        if "anchor_trainable" in check:
            text += f" (anchor {check['anchor_trainable']:,} + {check['anchor_non_trainable']:,})"
        return text
    if name == "layer_shapes":
        return f"{check['layers']} named layers"
    if name == "forward":
        return ", ".join(f"{k.split('_max')[0]} max |diff| {v:.2g}" for k, v in check.items()
                         if k.endswith("_max_abs_diff") and v is not None)
    if name == "gradients":
        text = f"max relative diff {check['max_relative_diff']:.2g}"
        return text + (f" ({check['worst_variable']})" if check.get("worst_variable") else "")
    if name == "training_steps":
        return f"{check['steps']} teacher-forced steps: loss diff {check['max_loss_diff']:.2g}, gradients " \
               f"{check['max_gradient_relative_diff']:.2g} relative, weights " \
               f"{check['max_weight_diff_to_tolerance']:.2g} of tolerance"
    if name == "accuracy":
        text = f"{check['steps']} free-running steps: legacy {check['legacy_accuracy']:.2f}%, " \
               f"eager {check['eager_accuracy']:.2f}% ({check['diff_points']:.2f} points)"
        if check.get("checkpoints"):
            text += f", each read over steps {', '.join(map(str, check['checkpoints']))}"
        if check.get("reading"):
            text += f", read with {check['reading']}"
        return text
    if name == "reconstruction":
        return f"{check['steps']} free-running steps: test loss legacy {check['legacy_loss']:.5f}, " \
               f"eager {check['eager_loss']:.5f} ({check['diff']:.2g} apart)"
    return ""
