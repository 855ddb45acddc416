"""A user's pair from the command line or a TOML file: every key of the file is a flag's name.

    # pair.toml (or a [tool.tf-parity] table in pyproject.toml)
    name = "deep_mnist"
    legacy = "legacy:build"            # or legacy-meta, checkpoint, inputs, labels, logits, loss, train-op
    eager = "port:build_model"
    dataset = "fashion_mnist"          # or a .npz of x_train, y_train, x_test, y_test
    batch-size = 50
    steps = 20                         # teacher-forced steps
    accuracy-steps = 300
    [feed]                             # eval feeds of a .meta graph: what switches randomness off
    "keep_prob:0" = 1.0
    [tolerances]
    accuracy_points = 2.0

A second file for the same pair (its saved graph, say) can start with `extends = "pair.toml"`.
Paths and modules are taken relative to the file's folder; on the command line, to the current one.
"""
from pathlib import Path

from parity import registry, tolerances
from parity.legacy import LegacyError, LegacySource
from parity.mapping import _toml
from parity.pair import EagerSource

# Flags that name a pair, by their key in a file; `run` keys are the run's own settings.
PAIR_KEYS = ("name", "legacy", "legacy-meta", "checkpoint", "inputs", "labels", "logits", "loss", "train-op",
             "training", "feed", "train-feed", "endpoint", "eager", "optimizer", "keras-loss", "reduction", "map",
             "params", "legacy-process")
RUN_KEYS = ("dataset", "data-dir", "batch-size", "steps", "accuracy-steps", "seed", "eager-style")
PATH_KEYS = ("legacy-meta", "checkpoint", "map", "data-dir")
TABLES = ("feed", "train-feed", "endpoint", "tolerances")
# A user's pair, unless its file says otherwise: a batch of 64, 50 teacher-forced steps, a free run of 500.
DEFAULTS = {"batch-size": 64, "steps": 50, "accuracy-steps": 500}


class ConfigError(ValueError):
    """A configuration file or a pair's flags that cannot be used; the message says which key."""


def read(path, seen=frozenset()):
    """The options of a TOML file: its [tool.tf-parity] table where there is one (pyproject.toml),
    else its top level; `extends = "other.toml"` takes the other file's options under its own."""
    path = Path(path)
    try:
        data = _toml().loads(path.read_text())
    except OSError as e:
        raise ConfigError(f"--config {path}: {e.strerror}") from None
    except ValueError as e:
        raise ConfigError(f"--config {path}: not valid TOML ({e})") from None
    table = data.get("tool", {}).get("tf-parity", data)
    if not table:
        raise ConfigError(f"--config {path}: no [tool.tf-parity] table and no pair keys")
    options = {}
    for key, value in table.items():
        key = key.replace("_", "-") if key != "tolerances" else key
        if key == "extends":
            continue
        if key not in PAIR_KEYS + RUN_KEYS + ("tolerances",):
            raise ConfigError(f"--config {path}: unknown key {key!r}; the keys are the flags of tf-parity parity: "
                              f"{', '.join(PAIR_KEYS + RUN_KEYS)}, and a [tolerances] table")
        if key in TABLES and not isinstance(value, dict):
            raise ConfigError(f"--config {path}: {key} must be a table, such as [{key}]")
        if key in PATH_KEYS or (key == "dataset" and str(value).endswith(".npz")):
            value = str((path.parent / value).resolve()) if not Path(value).is_absolute() else value
        options[key] = value
    options["search-path"] = str(path.parent.resolve())
    if "extends" in table:
        options = _extend(path, table["extends"], options, seen | {path.resolve()})
    return options


def _extend(path, base, options, seen):
    """`options` over those of the file `base` names (relative to `path`), so that two runs of one
    pair (its code and its saved graph, say) share one data set, run and tolerances. The file's
    own legacy route replaces the base's."""
    base_path = (path.parent / str(base)).resolve()
    if base_path in seen:
        raise ConfigError(f"--config {path}: extends {base} again, in a loop")
    inherited = read(base_path, seen)
    if "legacy" in options or "legacy-meta" in options:
        for key in ("legacy", "legacy-meta", "checkpoint", "inputs", "labels", "logits", "loss", "train-op",
                    "training", "feed", "train-feed", "endpoint"):
            inherited.pop(key, None)
    return {**inherited, **options}


def from_pyproject(folder="."):
    """The [tool.tf-parity] table of folder/pyproject.toml as options, or None where there is none."""
    path = Path(folder) / "pyproject.toml"
    if not path.is_file():
        return None
    try:
        data = _toml().loads(path.read_text())
    except ValueError:
        return None
    return read(path) if "tf-parity" in data.get("tool", {}) else None


def pair_spec(options):
    """The ModelSpec of the pair `options` (keys as in a file, values already typed) names."""
    legacy_ref, meta = options.get("legacy"), options.get("legacy-meta")
    if bool(legacy_ref) == bool(meta):
        raise ConfigError("a pair has one legacy side: give --legacy package.module:function, or --legacy-meta "
                          "FILE.meta with --checkpoint" + (", not both" if legacy_ref else ""))
    if not options.get("eager"):
        raise ConfigError("a pair needs its Keras side: --eager package.module:function returning a keras.Model")
    process = options.get("legacy-process", "isolated")
    if process not in ("isolated", "inline"):
        raise ConfigError(f"--legacy-process {process!r}: choose isolated or inline")
    search = options.get("search-path")
    source = LegacySource(
        builder=legacy_ref, meta=meta, checkpoint=options.get("checkpoint"), inputs=options.get("inputs"),
        labels=options.get("labels"), logits=options.get("logits"), loss=options.get("loss"),
        train_op=options.get("train-op"), training=options.get("training"),
        eval_feeds=_feeds(options.get("feed"), "--feed"), train_feeds=_feeds(options.get("train-feed"), "--train-feed"),
        endpoints=tuple((options.get("endpoint") or {}).items()), isolated=process == "isolated", search_path=search)
    keras_loss = options.get("keras-loss")
    eager = EagerSource(model=options["eager"], optimizer=options.get("optimizer"), loss=keras_loss,
                        reduction=options.get("reduction", "mean"), map=options.get("map"), search_path=search)
    if eager.reduction not in ("mean", "sum"):
        raise ConfigError(f"--reduction {eager.reduction!r}: choose mean or sum")
    name = options.get("name") or _default_name(legacy_ref or meta)
    overrides = tuple((options.get("tolerances") or {}).items())
    try:
        tolerances.with_overrides(overrides)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    dataset = options.get("dataset", "auto")
    batch, steps, accuracy_steps = (int(options.get(k, DEFAULTS[k])) for k in ("batch-size", "steps", "accuracy-steps"))
    params = options.get("params")
    recipe = registry.Recipe(optimizer="the legacy train op's", learning_rate=None, epsilon=None, batch_size=batch,
                             iterations=accuracy_steps, loss=keras_loss or "the legacy graph's", labels="")
    return registry.ModelSpec(
        name=name, title=f"{source.describe()} against {eager.model}", document="", input_shape=(), num_classes=0,
        task="classification", recipe=recipe, trainable_params=int(params) if params is not None else None,
        non_trainable_params=None, legacy_module="", eager_module="", accuracy_steps=accuracy_steps,
        data=(dataset,) if dataset != "auto" else registry.ModelSpec.data, parity_steps=steps,
        bench=registry.Bench(batch, registry.PAIR_BENCH.steps, registry.PAIR_BENCH.warmup),
        pair_legacy=source, pair_eager=eager, tolerances=overrides)


def _default_name(reference):
    stem = str(reference).split(":")[0]
    return Path(stem).stem.replace(".", "_") if stem.endswith(".meta") else stem.rsplit(".", 1)[-1]


def _feeds(value, flag):
    """(tensor name, value) pairs from a table {name: value} or a list of "name=value" flags."""
    if not value:
        return ()
    if isinstance(value, dict):
        return tuple((str(k), v) for k, v in value.items())
    pairs = []
    for item in value:
        name, sep, text = str(item).partition("=")
        if not sep or not name:
            raise ConfigError(f"{flag} {item!r}: expected TENSOR=VALUE, such as keep_prob:0=1.0")
        pairs.append((name, _value(text)))
    return tuple(pairs)


def _value(text):
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    raise ConfigError(f"feed value {text!r}: expected a number, true or false")


def merge(file_options, flags):
    """The file's options with the flags given on the command line (not None) on top."""
    merged = dict(file_options or {})
    for key, value in flags.items():
        if value is None or value is False or (isinstance(value, (list, dict)) and not value):
            continue  # not given
        merged[key] = value
    return merged
