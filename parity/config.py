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
import math
import re
from pathlib import Path

from parity import registry, tolerances
from parity.legacy import LegacyError, LegacySource
from parity.mapping import _toml
from parity.pair import EagerSource

# Flags that name a pair, by their key in a file; `run` keys are the run's own settings.
PAIR_KEYS = ("name", "legacy", "legacy-meta", "checkpoint", "inputs", "labels", "logits", "loss", "train-op",
             "training", "feed", "train-feed", "endpoint", "eager", "optimizer", "keras-loss", "reduction", "map",
             "params", "legacy-process", "trust-graph")
RUN_KEYS = ("dataset", "data-dir", "batch-size", "steps", "accuracy-steps", "seed", "eager-style")
PATH_KEYS = ("legacy-meta", "checkpoint", "map", "data-dir")
# A user's pair, unless its file says otherwise: a batch of 64, 50 teacher-forced steps, a free run of 500.
DEFAULTS = {"batch-size": 64, "steps": 50, "accuracy-steps": 500}


EAGER_STYLES = ("eager", "function", "xla", "fit")
SEED_RANGE = (0, 2**32 - 1)   # what NumPy's and Keras' seeding accept


class ConfigError(ValueError):
    """A configuration file or a pair's flags that cannot be used; the message says which key."""


# ----------------------------------------------------------------------------- the keys' types
# Each key's check returns what the value should have been, or None where it is fine.

def _text(value):
    return None if isinstance(value, str) and value.strip() else "a non-empty string"


def _reference(value):
    ok = isinstance(value, str) and re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*", value.strip())
    return None if ok else "a string package.module:function"


def _name(value):
    ok = isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", value)
    return None if ok else "a name of letters, digits, '.', '_' and '-' (it names the report's files)"


def _integer(low, high=None):
    def check(value):
        if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
            return f"an integer {f'from {low} to {high}' if high is not None else f'of at least {low}'}"
        return None
    return check


def _choice(*options):
    return lambda value: None if value in options else f"one of {', '.join(map(repr, options))}"


def _flag(value):
    return None if isinstance(value, bool) else "true or false"


def _feed_value(value):
    if isinstance(value, bool) or (isinstance(value, (int, float)) and math.isfinite(value)):
        return None
    return "a finite number, true or false"


def _table(each):
    def check(value):
        if not isinstance(value, dict):
            return "a table, such as [key] with name = value lines"
        for k, v in value.items():
            wrong = each(v)
            if wrong:
                return f"a table whose values are each {wrong} ({k!r} is {v!r})"
        return None
    return check


SCHEMA = {
    "name": _name, "legacy": _reference, "legacy-meta": _text, "checkpoint": _text, "inputs": _text, "labels": _text,
    "logits": _text, "loss": _text, "train-op": _text, "training": _text, "feed": _table(_feed_value),
    "train-feed": _table(_feed_value), "endpoint": _table(_text), "eager": _reference, "optimizer": _reference,
    "keras-loss": _text, "reduction": _choice("mean", "sum"), "map": _text, "params": _integer(1),
    "legacy-process": _choice("isolated", "inline"), "trust-graph": _flag,
    "dataset": _text, "data-dir": _text, "batch-size": _integer(1), "steps": _integer(1),
    "accuracy-steps": _integer(1), "seed": _integer(*SEED_RANGE), "eager-style": _choice(*EAGER_STYLES),
    "tolerances": _table(lambda v: None), "extends": _text,
}


def validate(options, where):
    """ConfigError naming the first key of `options` (keys as in a file) whose value has the wrong
    type or range; tolerances are checked by parity.tolerances."""
    for key, value in options.items():
        check = SCHEMA.get(key)
        wrong = check(value) if check else None
        if wrong:
            raise ConfigError(f"{where}: {key} must be {wrong}, got {value!r}")
    try:
        tolerances.with_overrides(tuple((options.get("tolerances") or {}).items()))
    except ValueError as e:
        raise ConfigError(f"{where}: {e}") from None


def canonical_keys(table, where):
    """`table` with each key spelled with dashes (`batch_size` is `batch-size`); ConfigError where one
    key is given under two spellings."""
    options, spelled = {}, {}
    for key, value in table.items():
        canonical = key.replace("_", "-") if key != "tolerances" else key
        if canonical in options:
            raise ConfigError(f"{where}: {spelled[canonical]!r} and {key!r} are one key given twice; keep one")
        options[canonical], spelled[canonical] = value, key
    return options


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
    where = f"--config {path}"
    table = canonical_keys(table, where)
    unknown = [key for key in table if key not in SCHEMA]
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; the keys are the flags of tf-parity parity: "
                          f"{', '.join(PAIR_KEYS + RUN_KEYS)}, and a [tolerances] table")
    validate(table, where)
    options = {}
    for key, value in table.items():
        if key == "extends":
            continue
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
    text = path.read_text()
    try:
        data = _toml().loads(text)
    except ValueError as e:
        if re.search(r"^\s*\[\s*tool\s*\.\s*[\"']?tf-parity", text, re.MULTILINE):
            raise ConfigError(f"{path.resolve()}: not valid TOML ({e}), so its [tool.tf-parity] table cannot be read; "
                              "fix the file, or give --config or the pair's flags") from None
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
    # Feeds given as flags are "TENSOR=VALUE" strings, parsed by _feeds below.
    validate({k: v for k, v in options.items() if k in SCHEMA and not isinstance(v, list)}, "the pair")
    process = options.get("legacy-process", "isolated")
    search = options.get("search-path")
    source = LegacySource(
        builder=legacy_ref, meta=meta, checkpoint=options.get("checkpoint"), inputs=options.get("inputs"),
        labels=options.get("labels"), logits=options.get("logits"), loss=options.get("loss"),
        train_op=options.get("train-op"), training=options.get("training"),
        eval_feeds=_feeds(options.get("feed"), "--feed"), train_feeds=_feeds(options.get("train-feed"), "--train-feed"),
        endpoints=tuple((options.get("endpoint") or {}).items()), isolated=process == "isolated", search_path=search,
        trust_graph=bool(options.get("trust-graph")))
    keras_loss = options.get("keras-loss")
    eager = EagerSource(model=options["eager"], optimizer=options.get("optimizer"), loss=keras_loss,
                        reduction=options.get("reduction", "mean"), map=options.get("map"), search_path=search)
    name = options.get("name") or _default_name(legacy_ref or meta)
    overrides = tuple((options.get("tolerances") or {}).items())
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
