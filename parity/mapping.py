"""Which Keras weight takes which legacy variable: by creation order and shape, which is how TF1
code with default names (`Variable`, `Variable_1`, ...) and a hand-written port line up, unless a
map file says otherwise.

A map file (JSON, or TOML) maps legacy variable names to Keras weight paths, each optionally with
the axes to transpose the legacy value by:

    {"Variable_6": "fc2/kernel", "Variable_7": {"to": "fc2/bias"},
     "W_fc": {"to": "dense/kernel", "transpose": [1, 0]}}

Legacy variables it does not name pair with the Keras weights it does not name, in order.
"""
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional


class MappingError(ValueError):
    """Two sides whose weights cannot be paired; the message lists both sides."""


@dataclass(frozen=True)
class Pairing:
    legacy: str
    legacy_shape: tuple
    keras: str
    keras_shape: tuple
    keras_index: int
    transpose: Optional[tuple] = None   # axes applied to the legacy value to give the Keras one
    by: str = "order"                   # "order" or "map"


def read_map(path):
    """{legacy name: (keras path, transpose axes or None)} from a JSON or TOML map file."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise MappingError(f"--map {path}: {e.strerror}") from None
    try:
        if path.suffix == ".toml":
            data = _toml().loads(text)
            data = data.get("map", data)
        else:
            data = json.loads(text)
    except ValueError as e:
        raise MappingError(f"--map {path}: not valid {'TOML' if path.suffix == '.toml' else 'JSON'} ({e})") from None
    if not isinstance(data, dict):
        raise MappingError(f"--map {path}: expected a table of legacy name -> Keras weight path")
    entries = {}
    for legacy, target in data.items():
        if isinstance(target, str):
            entries[legacy] = (target, None)
        elif isinstance(target, dict) and isinstance(target.get("to"), str):
            axes = target.get("transpose")
            if axes is not None and not (isinstance(axes, list) and sorted(axes) == list(range(len(axes)))):
                raise MappingError(f"--map {path}: {legacy}: transpose must list every axis once, got {axes!r}")
            entries[legacy] = (target["to"], tuple(axes) if axes is not None else None)
        else:
            raise MappingError(f"--map {path}: {legacy}: expected a Keras weight path or "
                               "{to = PATH, transpose = [AXES]}")
    return entries


def plan(legacy_names, legacy_shapes, keras_names, keras_shapes, entries=None):
    """The Pairing of every legacy variable, in legacy order; MappingError listing both sides when
    counts or shapes do not fit, or the map names what is not there."""
    entries = entries or {}
    legacy_names = [n.split(":")[0] for n in legacy_names]
    for name, (target, _) in entries.items():
        if name not in legacy_names:
            raise MappingError(f"the map names legacy variable {name!r}, which the graph does not have; "
                               + _both_sides(legacy_names, legacy_shapes, keras_names, keras_shapes))
        if target not in keras_names:
            raise MappingError(f"the map names Keras weight {target!r}, which the model does not have; "
                               + _both_sides(legacy_names, legacy_shapes, keras_names, keras_shapes))
    if len(legacy_names) != len(keras_names):
        raise MappingError(f"the legacy graph has {len(legacy_names)} variables and the Keras model "
                           f"{len(keras_names)} weights; " + _both_sides(legacy_names, legacy_shapes, keras_names,
                                                                       keras_shapes))
    mapped = {keras_names.index(target) for target, _ in entries.values()}
    free = iter(i for i in range(len(keras_names)) if i not in mapped)
    pairings = []
    for name, shape in zip(legacy_names, legacy_shapes):
        target, axes = entries.get(name, (None, None))
        index = keras_names.index(target) if target else next(free)
        seen = tuple(shape) if axes is None else tuple(shape[a] for a in axes)
        pairing = Pairing(name, tuple(shape), keras_names[index], tuple(keras_shapes[index]), index, axes,
                          "map" if target else "order")
        if seen != pairing.keras_shape:
            how = f" transposed by {list(axes)} to {seen}" if axes else ""
            raise MappingError(f"{name} {tuple(shape)}{how} would go to {pairing.keras} {pairing.keras_shape} "
                               f"({'by the map' if target else 'by order'}); give a map file (--map) that pairs "
                               "them; " + _both_sides(legacy_names, legacy_shapes, keras_names, keras_shapes))
        pairings.append(pairing)
    return pairings


def _both_sides(legacy_names, legacy_shapes, keras_names, keras_shapes):
    rows = []
    for i in range(max(len(legacy_names), len(keras_names))):
        left = f"{legacy_names[i]} {tuple(legacy_shapes[i])}" if i < len(legacy_names) else "-"
        right = f"{keras_names[i]} {tuple(keras_shapes[i])}" if i < len(keras_names) else "-"
        rows.append(f"{i}: {left} | {right}")
    return "legacy | Keras, in order: " + "; ".join(rows)


def table(pairings):
    """The pairing side by side, a line each, for `tf-parity map`."""
    width = max((len(f"{p.legacy} {p.legacy_shape}") for p in pairings), default=10)
    lines = [f"{'legacy variable':<{width}}    {'Keras weight':<40} by"]
    for p in pairings:
        left = f"{p.legacy} {p.legacy_shape}"
        how = p.by + (f", transposed {list(p.transpose)}" if p.transpose else "")
        lines.append(f"{left:<{width}} -> {p.keras + ' ' + str(p.keras_shape):<40} {how}")
    return "\n".join(lines)


def _toml():
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    return tomllib
