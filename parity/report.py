"""Writing reports: JSON files written whole or not at all, and a readable summary."""
import json
import os
import tempfile
from pathlib import Path


def write_json(path, data):
    """Writes `data` as JSON to `path` via a temporary file and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2)
            f.write("\n")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def check_writable(path):
    """Fails before a long run, not after it, when `path` cannot be written."""
    path = Path(path)
    if path.is_dir():
        raise OSError(f"{path} is a folder; give a file name such as {path / 'report.json'}")
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not os.access(parent, os.W_OK):
        raise OSError(f"cannot write {path}: {parent} is not writable")


def companion(path, suffix):
    """'out/report.json' -> 'out/report_loss.png' for suffix '_loss.png'."""
    path = Path(path)
    return path.with_name(path.stem + suffix)


def format_parity(report):
    """The report as a few lines of text: one per check, then the verdict."""
    lines = [f"{report['model']} on {report['dataset']} ({report['device']}, TensorFlow {report['tensorflow']})"]
    for check in report["checks"]:
        status = "PASS" if check["passed"] else "FAIL"
        lines.append(f"  {status}  {check['name']:<15} {_summary(check)}")
    passed = sum(c["passed"] for c in report["checks"])
    lines.append(f"{passed} of {len(report['checks'])} checks passed")
    return "\n".join(lines)


def _summary(check):
    name = check["name"]
    if check.get("ran") is False:
        return check["message"]
    if name == "parameters":
        text = f"legacy {check['legacy_trainable']:,} + {check['legacy_non_trainable']:,}, " \
               f"eager {check['eager_trainable']:,} + {check['eager_non_trainable']:,} " \
               f"(anchor {check['anchor_trainable']:,} + {check['anchor_non_trainable']:,})"
    elif name == "layer_shapes":
        text = f"{check['layers']} named layers"
    elif name == "forward":
        text = ", ".join(f"{k.split('_max')[0]} max |diff| {v:.2g}" for k, v in check.items()
                         if k.endswith("_max_abs_diff"))
    elif name == "gradients":
        text = f"max relative diff {check['max_relative_diff']:.2g}"
        if check.get("worst_variable"):
            text += f" ({check['worst_variable']})"
    elif name == "training_steps":
        text = f"{check['steps']} teacher-forced steps: loss diff {check['max_loss_diff']:.2g}, gradients " \
               f"{check['max_gradient_relative_diff']:.2g} relative, weights " \
               f"{check['max_weight_diff_to_tolerance']:.2g} of tolerance"
    elif name == "accuracy":
        text = f"{check['steps']} free-running steps: legacy {check['legacy_accuracy']:.2f}%, " \
               f"eager {check['eager_accuracy']:.2f}% ({check['diff_points']:.2f} points)"
        if check.get("checkpoints"):
            text += f", each read over steps {', '.join(map(str, check['checkpoints']))}"
    elif name == "reconstruction":
        text = f"{check['steps']} free-running steps: test loss legacy {check['legacy_loss']:.5f}, " \
               f"eager {check['eager_loss']:.5f} ({check['diff']:.2g} apart)"
    else:
        text = ""
    return f"{text}  -- {check['message']}" if check.get("message") else text
