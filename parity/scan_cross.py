"""`tf-parity scan --legacy DIR --eager DIR`: the settings of a TF1 tree against its port's.

Files pair by name (legacy_graph/resnet18.py with eager_v2/resnet18.py); what is left on each side
pairs as one group. Within a pair the optimizers are compared setting by setting, the initializers'
stddevs and the loss reductions as sets, and layers by name (the TF1 `name=`/`scope=` or a
helper's `name=`, the Keras `name=`, or the pairs a map file gives): padding for convolutions and
pools, momentum and epsilon for batch norm. A value the source does not fix is not compared.
"""
import math
from pathlib import Path

from parity.scan_rules import ERROR, SAME_SETTING, UNKNOWN, WARNING, Finding

BN_PARAMETERS = {"momentum": ("momentum", "decay"), "epsilon": ("epsilon",)}


def groups(legacy, eager):
    """[(legacy FileScans, eager FileScans)]: same-named files together, the rest as one group."""
    by_stem = {}
    for side, scans in ((0, legacy), (1, eager)):
        for scan in scans:
            by_stem.setdefault(Path(scan.path).stem, ([], []))[side].append(scan)
    paired = [pair for pair in by_stem.values() if pair[0] and pair[1]]
    rest = ([s for p in by_stem.values() if not p[1] for s in p[0]],
            [s for p in by_stem.values() if not p[0] for s in p[1]])
    return paired + ([rest] if rest[0] and rest[1] else [])


def compare(legacy, eager, layer_pairs=None):
    """The cross-tree findings, each placed at the port's line."""
    helpers = {}
    for scan in legacy:
        helpers.update(scan.helpers)
    findings = []
    for legacy_group, eager_group in groups(legacy, eager):
        old = [s for scan in legacy_group for s in _resolved(scan.settings, helpers)]
        new = [s for scan in eager_group for s in _resolved(scan.settings, {})]
        findings += _optimizers(old, new) + _stddevs(old, new) + _reductions(old, new)
        findings += _layers(old, new, layer_pairs or {})
    return findings


def _resolved(settings, helpers):
    """The settings, with calls of the tree's layer helpers read as the layers they build."""
    out = []
    for s in settings:
        if s.kind != "call":
            out.append(s)
            continue
        helper = helpers.get(s.values["function"])
        kind = _helper_kind(s.values["function"])
        if helper is None or kind is None:
            continue
        values = {}
        for key, aliases in (("padding", ("padding",)), *BN_PARAMETERS.items()):
            for alias in aliases:
                if alias in helper["params"]:
                    values[key] = _argument(s, helper, alias)
        out.append(type(s)(kind, s.path, s.line, s.col, s.name, values, s.end_line))
    return out


def _helper_kind(function):
    name = function.lower()
    if "batch_norm" in name or "batchnorm" in name or name in ("bn", "batch_normalization"):
        return "bn"
    if "pool" in name:
        return "pool"
    if "conv" in name:
        return "conv"
    return None


def _argument(setting, helper, param):
    if param in setting.values["kwargs"]:
        return setting.values["kwargs"][param]
    index = helper["params"].index(param)
    if index < len(setting.values["args"]):
        return setting.values["args"][index]
    return helper["defaults"].get(param, UNKNOWN)


def _differ(a, b):
    if a is UNKNOWN or b is UNKNOWN:
        return False
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return not math.isclose(a, b, rel_tol=1e-9, abs_tol=0.0)
    return str(a).lower() != str(b).lower()


def _where(setting):
    return f"{setting.path}:{setting.line}"


def _finding(at, key, level, message):
    return Finding(at.path, at.line, at.col, key, level, message, at.end_line)


def _agreed(settings, key):
    """The value every setting gives `key`, or UNKNOWN where they differ or none does."""
    values = {repr(s.values.get(key, UNKNOWN)) for s in settings}
    return settings[0].values.get(key, UNKNOWN) if len(values) == 1 else UNKNOWN


def _optimizers(old, new):
    findings = []
    for kind in ("adam", "rmsprop", "sgd"):
        tf1 = [s for s in old if s.kind == kind]
        for port in (s for s in new if s.kind == kind):
            for key in (tf1[0].values if tf1 else {}):
                original, ported = _agreed(tf1, key), port.values.get(SAME_SETTING.get(key, key), UNKNOWN)
                if _differ(original, ported):
                    pitfall = "keras3-lr-keyword" if key == "learning_rate" else "adam-epsilon"
                    findings.append(_finding(port, pitfall, ERROR,
                                             f"{kind} {SAME_SETTING.get(key, key)} is {ported:g} here and "
                                             f"{original:g} in the TF1 graph ({_where(tf1[0])})"))
    return findings


def _stddevs(old, new):
    original = [s for s in old if s.kind == "stddev" and isinstance(s.values["value"], (int, float))]
    if not original:
        return []
    known = {s.values["value"] for s in original}
    ported = [s for s in new if s.kind == "stddev"]
    findings = [_finding(s, "truncated-normal-stddev", WARNING,
                         f"initializer stddev {s.values['value']:g} here; the TF1 graph draws with stddev "
                         f"{', '.join(f'{v:g}' for v in sorted(known))} ({_where(original[0])})")
                for s in ported if isinstance(s.values["value"], (int, float)) and
                all(_differ(s.values["value"], v) for v in known)]
    if not any(isinstance(s.values["value"], (int, float)) for s in ported):
        glorot = [s for s in ported if s.values["value"] == "glorot_uniform"]
        stddevs = ", ".join(f"{v:g}" for v in sorted(known))
        findings += [_finding(s, "truncated-normal-stddev", WARNING,
                              "this layer keeps Keras' glorot_uniform kernels; the TF1 graph draws from a truncated "
                              f"normal with stddev {stddevs} ({_where(original[0])}); the two start alike only "
                              "where the TF1 weights are copied (tf-parity convert)")
                     for s in glorot[:1]]
    return findings


def _reductions(old, new):
    original = {s.values["value"] for s in old if s.kind == "reduction"}
    if len(original) != 1:
        return []
    (mode,) = original
    source = next(s for s in old if s.kind == "reduction")
    return [_finding(s, "loss-sum-vs-mean", ERROR,
                     f"the port's loss is the batch {s.values['value']}; the TF1 graph's is the batch {mode} "
                     f"({_where(source)}): every gradient differs by the batch size")
            for s in new if s.kind == "reduction" and s.values["value"] != mode]


def _by_name(settings):
    named = {}
    for s in settings:
        if s.kind in ("conv", "pool", "bn") and s.name:
            named.setdefault((s.kind, s.name), []).append(s)
    return named


def _layers(old, new, layer_pairs):
    findings = []
    tf1 = _by_name(old)
    for (kind, name), ports in _by_name(new).items():
        if name == "*":
            originals = [s for s in old if s.kind == "bn"]
        else:
            legacy_names = [k for k, v in layer_pairs.items() if v == name] or [name]
            originals = [s for n in legacy_names for s in tf1.get((kind, n), [])]
        if not originals:
            continue
        for port in ports:
            for key in ("padding", "momentum", "epsilon"):
                values = {repr(s.values.get(key, UNKNOWN)) for s in originals if s.values.get(key, UNKNOWN)
                          is not UNKNOWN}
                if key not in port.values or len(values) != 1:
                    continue
                source = next(s for s in originals if s.values.get(key, UNKNOWN) is not UNKNOWN)
                original = source.values[key]
                if _differ(original, port.values[key]):
                    pitfall = "same-padding-asymmetric" if key == "padding" else "applications-bn-momentum"
                    layer = "every batch norm" if name == "*" else f"layer {name!r}"
                    findings.append(_finding(port, pitfall, ERROR,
                                             f"{layer}: {key} {port.values[key]!r} here, {original!r} in the TF1 "
                                             f"graph ({_where(source)})"))
    return findings


def layer_pairs_from_map(entries):
    """{legacy layer: Keras layer} from a map file's {legacy variable: (Keras weight path, axes)}."""
    pairs = {}
    for legacy, (keras_path, _) in entries.items():
        old, new = legacy.split("/")[:-1], keras_path.split("/")[:-1]
        if old and new:
            pairs[old[-1]] = new[-1]
    return pairs
