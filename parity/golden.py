"""Golden records: the legacy side run once, its answers kept, and the port checked against them
anywhere (`tf-parity record`, `tf-parity verify`).

The checks ask the legacy side questions: its parameter counts and shapes, its outputs and
gradients on fixed batches, a teacher-forced step, a free run and its test figure. `record` runs
the six checks with the legacy runner wrapped in a Recorder, which keeps each answer under a
digest of the question: the method, the bytes of its arguments and the legacy side's state (its
weights and its optimizer's history), with training steps kept with the weights after them; a
Mirror stands in the port's place and answers with the legacy side's own answers, so no Keras
model trains. The questions a check repeats to tell a random side from a wrong one (forward
passes, gradients) are asked twice, and a forward pass's layer outputs are kept, so that a port
that fails is asked about as parity would ask. `verify` runs the same checks with a Replay in the
legacy side's place, which follows the state as the checks set weights and train, and answers
each question from the record: the same code, so the verdicts and figures are those `tf-parity
parity` gives on the same seed and settings. A question the record holds no answer to (other
data, other settings) is an error, not a guess.

A record is a folder that NumPy alone reads:
  record.json   {"format": "tf-parity-record", "version": 1, "model", "settings", "dataset",
                 "environment" (versions, device, machine), "legacy" (the legacy side's report
                 entry: its timing and test figure), "side" (variable names, shapes, the initial
                 weights), "answers": [[method, question digest, value], ...],
                 "arrays_sha256", "sha256" (of this file's content without this key)}
  arrays.npz    every array of the answers (compressed), named by the hash of its bytes (so
                repeated weights are stored once); a value refers to one as {"a": NAME}.
Other encoded values: {"t": [...]} a tuple, {"l": [...]} a list, {"d": [[key, value], ...]} a
dict in order, {"f": "nan"} a non-finite float, {"k": [type, name, attrs]} a kink op.
"""
import collections
import hashlib
import itertools
import json
import os
import platform
import re
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

FORMAT = "tf-parity-record"
VERSION = 2   # 2: the legacy side's dtypes and graph_trust
MAX_DEPTH = 64   # how deep an encoded value nests; a record's deepest is under 10
JSON_NAME, ARRAYS_NAME = "record.json", "arrays.npz"
# The legacy runner's questions that change nothing: each answer is kept under the question and the
# state it was asked in. Training steps are kept with the weights after them; setting weights or
# resetting the optimizer is followed, not kept.
ANSWERED = ("param_counts", "layer_shapes", "dtypes", "info", "forward", "loss", "endpoint_values", "loss_and_gradients",
            "gradients_and_kinks", "predict", "training_state")
# Teacher-forced steps a record holds unless told: each keeps the weights and gradients of a step,
# about 2 MB for mnist_cnn, 70 MB for resnet18 (README).
RECORD_STEPS = 10
COMPACT_STEPS = 3


class RecordError(ValueError):
    """A record that cannot be used: missing, damaged, of another format, model or run."""


# ----------------------------------------------------------------------------- encoding

def _array_name(a):
    h = hashlib.sha1(f"{a.dtype.str}{a.shape}".encode())
    h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:20]


def encode(value, arrays):
    """`value` as JSON-able data, its arrays moved into `arrays` (name -> array)."""
    from parity.kinks import KinkOp

    if isinstance(value, np.ndarray):
        name = _array_name(value)
        arrays.setdefault(name, value)
        return {"a": name}
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return {"f": repr(value)}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, KinkOp):
        return {"k": [value.type, value.name, encode(value.attrs, arrays)]}
    if isinstance(value, tuple):
        return {"t": [encode(v, arrays) for v in value]}
    if isinstance(value, list):
        return {"l": [encode(v, arrays) for v in value]}
    if isinstance(value, dict):
        return {"d": [[k, encode(v, arrays)] for k, v in value.items()]}
    raise TypeError(f"a record cannot hold a {type(value).__name__}")


def decode(data, arrays):
    from parity.kinks import KinkOp

    if not isinstance(data, dict):
        return data
    (tag, body), = data.items()
    if tag == "a":
        return arrays[body]
    if tag == "f":
        return float(body)
    if tag == "k":
        return KinkOp(body[0], body[1], decode(body[2], arrays))
    if tag == "t":
        return tuple(decode(v, arrays) for v in body)
    if tag == "l":
        return [decode(v, arrays) for v in body]
    return collections.OrderedDict((k, decode(v, arrays)) for k, v in body)


def digest(method, args, kwargs):
    """What identifies a question: the method and the exact bytes of its arguments."""
    h = hashlib.sha1(method.encode())

    def feed(value):
        if isinstance(value, np.ndarray):
            h.update(f"{value.dtype.str}{value.shape}".encode())
            h.update(np.ascontiguousarray(value).tobytes())
        elif isinstance(value, (list, tuple)):
            h.update(f"[{len(value)}".encode())
            for v in value:
                feed(v)
        else:
            h.update(repr(value).encode())

    feed(list(args))
    feed(sorted(kwargs.items()))
    return h.hexdigest()[:20]


def _answering(name, how):
    """A runner method `name` that the object answers with self.<how>(name, *args, **kwargs)."""
    def answer(self, *args, **kwargs):
        return getattr(self, how)(name, *args, **kwargs)
    answer.__name__ = name
    return answer


# ----------------------------------------------------------------------------- recording

class _State:
    """What the legacy side's answers depend on besides the question: its weights, and its
    optimizer's state (a token that each step, reset or restore changes)."""

    def __init__(self, weights):
        self.set(weights)
        self.optimizer = "start"

    def set(self, weights):
        self.weights = [np.array(w) for w in weights]
        self._key = None

    def set_key(self, key):
        """The state of weights the record keeps only by their digest (a free run's earlier blocks)."""
        self.weights, self._key = None, key

    def set_one(self, index, value):
        self.weights[index] = np.array(value)
        self._key = None

    def key(self):
        if self._key is None:
            self._key = digest("weights", (self.weights,), {})
        return f"{self._key}/{self.optimizer}"

    def question(self, method, args, kwargs=None):
        return digest(method, (self.key(), *args), kwargs or {})

    def stepped(self, question):
        self.optimizer = digest("optimizer", (self.optimizer, question), {})


def _batches_seen(batches, seen):
    """`batches`, each one taken fed into the hash `seen`."""
    for x, y in batches:
        seen.update(digest("batch", (np.asarray(x), np.asarray(y)), {}).encode())
        yield x, y


class Recorder:
    """The legacy runner, each answer kept under its question: the method, its arguments and the
    legacy side's state when asked. Questions that the checks repeat to test whether a side is
    random (forward, gradients) are asked twice, and a forward pass's layer outputs are kept too."""

    REPEATED = ("forward", "gradients_and_kinks")

    def __init__(self, runner, endpoints=True):
        self._runner = runner
        self.endpoints = endpoints
        self.answers = []          # (method, question, value) in the order asked
        self.latest = {}           # digest(method, args) -> the last value, for the Mirror
        self.last_step = None      # (loss, gradients, weights after) of the last teacher-forced step
        for name in ("names", "shapes", "trainable_mask", "style", "held_fixed", "graph_trust"):
            setattr(self, name, getattr(runner, name))
        self.initial_weights = runner.get_weights()
        self.state = _State(self.initial_weights)

    def _keep(self, method, question, value, args=(), kwargs=None):
        self.answers.append((method, question, value))
        self.latest[digest(method, args, kwargs or {})] = value

    def _ask(self, method, *args, **kwargs):
        question = self.state.question(method, args, kwargs)
        value = getattr(self._runner, method)(*args, **kwargs)
        self._keep(method, question, value, args, kwargs)
        if method in self.REPEATED:
            self._keep(method, question, getattr(self._runner, method)(*args, **kwargs), args, kwargs)
        return value

    def __getattr__(self, name):
        if name in ANSWERED:
            return lambda *args, **kwargs: self._ask(name, *args, **kwargs)
        if name in ("save", "close"):
            return getattr(self._runner, name)
        raise AttributeError(name)

    def forward(self, x, training=False):
        # A port that parts at the forward check asks where: keep the named layers' outputs too
        # (a compact record does not, and its forward check then names no layer).
        if self.endpoints and self._runner.layer_shapes():
            self._ask("endpoint_values", x, training)
        return self._ask("forward", x, training)

    def get_weights(self):
        return [np.array(w) for w in self.state.weights]

    def set_weights(self, values):
        self._runner.set_weights(values)
        self.state.set(values)

    def set_weight(self, index, value):
        self._runner.set_weight(index, value)
        self.state.set_one(index, value)

    def reset_optimizer(self):
        self._runner.reset_optimizer()
        self.state.optimizer = "reset"

    def restore_training_state(self, state, step):
        self._runner.restore_training_state(state, step)
        self.state.set(self._runner.get_weights())
        self.state.optimizer = digest("restored", ([np.asarray(v) for _, v in state], step), {})

    @property
    def step(self):
        return self._runner.step

    def train_step_with_gradients(self, x, y):
        question = self.state.question("train_step_with_gradients", (x, y))
        loss, grads = self._runner.train_step_with_gradients(x, y)
        after = self._runner.get_weights()
        self._keep("train_step_with_gradients", question, (loss, grads, after))
        self.last_step = (loss, grads, after)
        self.state.set(after)
        self.state.stepped(question)
        return loss, grads

    def train(self, batches, num_steps, on_step=None):
        from parity.runners import Diverged

        question = self.state.question("train", (num_steps,))
        seen, losses = hashlib.sha1(), []

        def note(i, loss):
            losses.append(loss)
            if on_step is not None:
                on_step(i, loss)

        def keep():
            after = self._runner.get_weights()
            self.state.set(after)
            self._keep("train", question, {"losses": list(losses), "batches": seen.hexdigest(), "weights": after,
                                           "state": self.state.key().split("/")[0]})
            self.state.stepped(question)
        try:
            self._runner.train(_batches_seen(batches, seen), num_steps, note)
        except Diverged as e:
            losses.append(e.loss)  # the step that diverged is not noted, and its batch was taken
            keep()
            raise
        keep()
        return list(losses)


class Mirror:
    """Stands where the port would at record time and answers with the legacy side's own answers,
    so that every check goes on to the legacy side's next question."""

    def __init__(self, recorder, style):
        from parity.runners import _StepWatch

        self._recorder = recorder
        self.names, self.shapes, self.trainable_mask = recorder.names, recorder.shapes, recorder.trainable_mask
        self.style, self.held_fixed = style, []
        self.watch = _StepWatch(style)
        self._weights = None

    def _same(self, method, *args, **kwargs):
        key = digest(method, args, kwargs)
        if key not in self._recorder.latest:
            raise RecordError(f"recording: the legacy side was never asked {method} on these inputs")
        return self._recorder.latest[key]

    forward = _answering("forward", "_same")
    endpoint_values = _answering("endpoint_values", "_same")
    gradients_and_kinks = _answering("gradients_and_kinks", "_same")
    predict = _answering("predict", "_same")
    training_state = _answering("training_state", "_same")

    def param_counts(self):
        return self._recorder._runner.param_counts()

    def layer_shapes(self):
        return self._recorder._runner.layer_shapes()

    def dtypes(self):
        return self._recorder._runner.dtypes()

    def fingerprint(self):
        return {}  # a record runs whole: nothing resumes it

    @property
    def step(self):
        return self.watch.step

    def get_weights(self):
        return list(self._weights)

    def set_weights(self, values):
        self._weights = list(values)

    def reset_optimizer(self):
        self.watch.reset()

    def restore_training_state(self, state, step):
        self._weights = [np.asarray(v) for _, v in state][:len(self.names)]
        self.watch.reset(step)

    def forced_step(self, x, y, gradients):
        loss, _, after = self._recorder.last_step
        self._weights = list(after)
        return loss, list(gradients)

    def train(self, batches, num_steps, on_step=None):
        from parity.runners import run_steps

        return run_steps(lambda x, y: 0.0, batches, num_steps, self.watch, on_step)

    def close(self):
        pass


# ----------------------------------------------------------------------------- replaying

class Replay:
    """The legacy side of a record: each question answered with the answer recorded for it (the
    same method, arguments and legacy state); a question asked again gets the record's next
    answer to it, and the last one once they run out."""

    def __init__(self, record):
        from parity.runners import _StepWatch

        self.record = record
        arrays = record["arrays"]
        self._answers = collections.defaultdict(list)
        for method, question, value in record["answers"]:
            self._answers[question].append(value)
        self._asked = collections.Counter()
        side = record["side"]
        self.names, self.shapes = side["names"], [tuple(s) for s in side["shapes"]]
        self.trainable_mask, self.held_fixed, self.style = side["trainable_mask"], side["held_fixed"], "legacy"
        self.graph_trust = side["graph_trust"]
        self.state = _State(decode(side["weights"], arrays))
        self.watch = _StepWatch("legacy")

    def _answer(self, method, *args, **kwargs):
        return self._lookup(method, self.state.question(method, args, kwargs))

    def _lookup(self, method, question):
        answers = self._answers.get(question)
        if not answers:
            raise RecordError(f"the record holds no answer to {method} here: it was made on other data or with other "
                              "settings, or the check asked the legacy side something recording did not (verify "
                              "takes the data set and settings from the record)")
        value = answers[min(self._asked[question], len(answers) - 1)]
        self._asked[question] += 1
        return decode(value, self.record["arrays"])

    param_counts = _answering("param_counts", "_answer")
    layer_shapes = _answering("layer_shapes", "_answer")
    dtypes = _answering("dtypes", "_answer")

    def fingerprint(self):
        """{"legacy record": the digest of the record's arrays}: the record stands for the graph."""
        return {"legacy record": self.record["arrays_sha256"][:16]}
    info = _answering("info", "_answer")
    forward = _answering("forward", "_answer")
    loss = _answering("loss", "_answer")
    loss_and_gradients = _answering("loss_and_gradients", "_answer")
    gradients_and_kinks = _answering("gradients_and_kinks", "_answer")
    predict = _answering("predict", "_answer")
    training_state = _answering("training_state", "_answer")

    def get_weights(self):
        return [np.array(w) for w in self._weights()]

    def _weights(self):
        if self.state.weights is None:
            raise RecordError("the record keeps the legacy weights after its free run's last block only, and a check "
                              "asked for them after an earlier one")
        return self.state.weights

    def set_weights(self, values):
        self.state.set(values)

    def set_weight(self, index, value):
        self._weights()
        self.state.set_one(index, value)

    def reset_optimizer(self):
        self.state.optimizer = "reset"
        self.watch.reset()

    def restore_training_state(self, state, step):
        count = len(self.names)
        self.state.set([np.asarray(v) for _, v in state][:count])
        self.state.optimizer = digest("restored", ([np.asarray(v) for _, v in state], step), {})
        self.watch.reset(step)

    def endpoint_values(self, x, training=False):
        if not self.record["side"].get("endpoints", True):
            return collections.OrderedDict()  # a compact record holds no layer outputs
        return self._answer("endpoint_values", x, training)

    @property
    def step(self):
        return self.watch.step

    def train_step_with_gradients(self, x, y):
        question = self.state.question("train_step_with_gradients", (x, y))
        loss, grads, after = self._lookup("train_step_with_gradients", question)
        self.state.set(after)
        self.state.stepped(question)
        return loss, grads

    def train(self, batches, num_steps, on_step=None):
        question = self.state.question("train", (num_steps,))
        answer = self._lookup("train", question)
        losses, seen = answer["losses"], hashlib.sha1()
        for _ in _batches_seen(itertools.islice(batches, len(losses)), seen):
            pass
        if seen.hexdigest() != answer["batches"]:
            raise RecordError("the record's legacy run trained on other batches: other data or another seed")
        if "weights" in answer:
            self.state.set(answer["weights"])
        else:
            self.state.set_key(answer["state"])
        self.state.stepped(question)
        for i, loss in enumerate(losses):
            self.watch(loss)
            if on_step is not None:
                on_step(i, loss)
        if len(losses) < num_steps:
            raise RecordError(f"the record's legacy run stopped after {len(losses)} of {num_steps} steps")
        return list(losses)

    def close(self):
        pass


# ----------------------------------------------------------------------------- files

def environment():
    """Where a side ran: versions, device and machine."""
    from parity import runtime

    import keras

    versions = runtime.versions()
    return {"tensorflow": versions["tensorflow"], "keras": versions["keras"],
            "keras_backend": keras.backend.backend(), "numpy": np.__version__,
            "python": platform.python_version(), "device": runtime.device_description(),
            "machine": platform.node()}


def _canonical(data):
    return json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def write(path, record, arrays):
    """Writes the record folder whole: built in a temporary folder beside it, then renamed."""
    from parity import outputs

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent))
    try:
        np.savez_compressed(staging / ARRAYS_NAME, **arrays)
        record = {**record, "arrays_sha256": hashlib.sha256((staging / ARRAYS_NAME).read_bytes()).hexdigest()}
        record["sha256"] = hashlib.sha256(_canonical(record)).hexdigest()
        (staging / JSON_NAME).write_text(json.dumps(record, allow_nan=False, indent=None))
        mask = outputs.umask()
        os.chmod(staging, 0o777 & ~mask)
        for f in staging.iterdir():
            os.chmod(f, 0o666 & ~mask)
        if path.exists():
            shutil.rmtree(path)
        os.replace(staging, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    outputs.record(path, "golden record: record.json and arrays.npz")
    return path


def read(path):
    """The record at `path` with its arrays loaded; RecordError naming what is wrong."""
    path = Path(path)
    json_path, arrays_path = path / JSON_NAME, path / ARRAYS_NAME
    if not path.is_dir() or not json_path.is_file() or not arrays_path.is_file():
        raise RecordError(f"--golden {path}: not a record (a folder holding {JSON_NAME} and {ARRAYS_NAME}, as "
                          "tf-parity record writes it)")
    try:
        record = json.loads(json_path.read_text())
    except (OSError, ValueError) as e:
        raise RecordError(f"--golden {path}: {JSON_NAME} is not readable JSON ({e})") from None
    except RecursionError:
        raise RecordError(f"--golden {path}: {JSON_NAME} nests deeper than any record does: it is not one "
                          "tf-parity wrote") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise RecordError(f"--golden {path}: {JSON_NAME} is not a tf-parity record")
    if record.get("version") != VERSION:
        raise RecordError(f"--golden {path}: record format version {record.get('version')!r}; this tf-parity reads "
                          f"version {VERSION}: record it again with this version")
    stated = record.pop("sha256", None)
    if stated != hashlib.sha256(_canonical(record)).hexdigest():
        raise RecordError(f"--golden {path}: {JSON_NAME} does not match its checksum: the file was changed or damaged")
    if record.get("arrays_sha256") != hashlib.sha256(arrays_path.read_bytes()).hexdigest():
        raise RecordError(f"--golden {path}: {ARRAYS_NAME} does not match its checksum: the file was changed, "
                          "truncated or damaged")
    try:
        with np.load(arrays_path, allow_pickle=False) as data:
            record["arrays"] = {name: data[name] for name in data.files}
    except (OSError, ValueError) as e:
        raise RecordError(f"--golden {path}: {ARRAYS_NAME} cannot be read ({e})") from None
    problem = structure_problem(record)
    if problem:
        raise RecordError(f"--golden {path}: {JSON_NAME} is not shaped as a record: {problem}; record it again")
    return record


def _is_list_of(kind):
    """A check that a value is a list of `kind` (bool not counted as int)."""
    return lambda v: isinstance(v, list) and all(isinstance(x, kind) and (kind is bool or not isinstance(x, bool))
                                                 for x in v)


RECORD_FIELDS = {
    "model": lambda v: isinstance(v, str) and bool(re.fullmatch(r"[A-Za-z0-9_.-]{1,100}", v)),
    "settings": lambda v: isinstance(v, dict) and all(
        isinstance(v.get(k), int) and not isinstance(v.get(k), bool) for k in ("steps", "accuracy_steps", "seed"))
    and (v.get("batch_size") is None or isinstance(v["batch_size"], int)),
    "dataset": lambda v: isinstance(v, dict) and isinstance(v.get("name"), str) and isinstance(v.get("requested"), str),
    "environment": lambda v: isinstance(v, dict),
    "legacy": lambda v: isinstance(v, dict),
    "diverged": lambda v: isinstance(v, list) and all(isinstance(d, dict) and isinstance(d.get("reason"), str)
                                                      for d in v),
    "answers": lambda v: isinstance(v, list) and all(
        isinstance(a, list) and len(a) == 3 and a[0] in ANSWERED + ("train", "train_step_with_gradients")
        and isinstance(a[1], str) for a in v),
    "side": lambda v: isinstance(v, dict) and _is_list_of(str)(v.get("names")) and isinstance(v.get("shapes"), list)
    and all(_is_list_of(int)(s) for s in v["shapes"]) and _is_list_of(bool)(v.get("trainable_mask"))
    and len(v["names"]) == len(v["shapes"]) == len(v["trainable_mask"]) and _is_list_of(str)(v.get("held_fixed"))
    and isinstance(v.get("graph_trust"), dict) and "weights" in v,
}


def structure_problem(record):
    """What in a record's fields (its checksum already matched) is not as record_run writes them:
    a missing or mistyped field, an encoded value of an unknown tag or nested deeper than
    MAX_DEPTH, or an array reference the record's arrays do not hold. None where all is well."""
    for key, fits in RECORD_FIELDS.items():
        if key not in record:
            return f"it has no {key!r}"
        if not fits(record[key]):
            return f"its {key!r} is not as tf-parity writes it"
    arrays = record["arrays"]
    for where, value in [("side.weights", record["side"]["weights"])] + \
            [(f"answers[{i}]", a[2]) for i, a in enumerate(record["answers"])]:
        problem = _encoded_problem(value, arrays, 0)
        if problem:
            return f"{where}: {problem}"
    return None


def _encoded_problem(value, arrays, depth):
    if depth > MAX_DEPTH:
        return f"nested deeper than {MAX_DEPTH}"
    if value is None or isinstance(value, (bool, int, float, str)):
        return None
    if isinstance(value, list):  # the JSON of a tagged body
        return next((p for p in (_encoded_problem(v, arrays, depth + 1) for v in value) if p), None)
    if not isinstance(value, dict) or len(value) != 1:
        return "a value that is not one tagged entry"
    (tag, body), = value.items()
    if tag == "a":
        return None if isinstance(body, str) and body in arrays else f"an array {body!r} that {ARRAYS_NAME} lacks"
    if tag == "f":
        return None if body in ("nan", "inf", "-inf") else f"a non-finite float {body!r}"
    if tag == "k":
        ok = isinstance(body, list) and len(body) == 3 and all(isinstance(b, str) for b in body[:2])
        return _encoded_problem(body[2], arrays, depth + 1) if ok else "a kink op of the wrong form"
    if tag in ("t", "l"):
        return _encoded_problem(body, arrays, depth) if isinstance(body, list) else f"a {tag!r} that is not a list"
    if tag == "d":
        if not isinstance(body, list) or not all(isinstance(p, list) and len(p) == 2 and isinstance(p[0], str)
                                                 for p in body):
            return "a dict of the wrong form"
        return _encoded_problem([p[1] for p in body], arrays, depth)
    return f"an unknown tag {tag!r}"


def size_mb(path):
    return round(sum(f.stat().st_size for f in Path(path).iterdir()) / 1e6, 2)


# ----------------------------------------------------------------------------- the two commands

def record_run(config, out, log=print, progress=None, endpoints=True):
    """Runs the legacy side of `config` (a suite.ParityConfig) through every check and writes its
    record to `out`, with the named layers' outputs where `endpoints`; returns (the record, its
    size in MB)."""
    from parity import pair, suite

    holder = {}

    def runners(spec, seed, eager_style):
        from parity.runners import GraphRunner

        if spec.pair_legacy is not None:
            spec, legacy, _ = pair.legacy_side(spec, seed)
        else:
            legacy = GraphRunner.from_spec(spec, seed=seed)
        recorder = Recorder(legacy, endpoints)
        if spec.pair_legacy is not None:
            recorder.info()
        holder["recorder"] = recorder
        return spec, recorder, Mirror(recorder, eager_style)

    config.runners = runners

    def legacy_progress(total, label, **kwargs):
        # The Mirror's free run takes no time and teaches nothing: no bar for it.
        return None if label.split()[-1] == config.eager_style else progress(total, label, **kwargs)

    report, _, _ = suite.run(config, progress=legacy_progress if progress else None, log=log)
    recorder = holder["recorder"]
    arrays = {}
    answers = [[method, key, encode(_only_last_weights(recorder.answers, i), arrays)]
               for i, (method, key, _) in enumerate(recorder.answers)]
    record = {
        "format": FORMAT, "version": VERSION, "model": report["model"],
        "settings": {k: report["settings"][k] for k in ("steps", "accuracy_steps", "batch_size", "seed")},
        "dataset": {"name": report["dataset"], "requested": config.dataset, "source": report["dataset_source"]},
        "environment": environment(),
        "legacy": report["styles"]["legacy"],
        "diverged": [d for d in report["diverged"] if d["style"] == "legacy"],
        "side": {"names": recorder.names, "shapes": [list(s) for s in recorder.shapes],
                 "weights": encode(list(recorder.initial_weights), arrays),
                 "trainable_mask": recorder.trainable_mask, "held_fixed": recorder.held_fixed,
                 "graph_trust": recorder.graph_trust,
                 "endpoints": endpoints},
        "command": " ".join(["tf-parity", *sys.argv[1:]]),
        "answers": answers,
    }
    write(out, record, arrays)
    return record, size_mb(out)


def _only_last_weights(answers, index):
    """Answer `index`'s value, less the weights a free run's block ended with where a later block
    follows: the next block starts from them, and the state digest keys what is asked after it.
    (mnist_cnn's 15 blocks of 100 steps kept 14 MB of weights nothing read.)"""
    method, _, value = answers[index]
    if method != "train" or not any(m == "train" for m, _, _ in answers[index + 1:]):
        return value
    return {k: v for k, v in value.items() if k != "weights"}


def verify_run(record, config, log=print, progress=None):
    """Runs the six checks of `config` with the record in the legacy side's place; returns the
    parity report (with both environments named), loss curves, reconstructions."""
    from parity import pair, suite
    from parity.runners import KerasRunner

    def runners(spec, seed, eager_style):
        legacy = Replay(record)
        if spec.pair_legacy is not None:
            info = legacy.info()
            spec = pair.resolved(spec, info)
            return spec, legacy, pair.keras_runner(spec, info, legacy, seed, eager_style)
        return spec, legacy, KerasRunner.from_spec(spec, seed=seed, style=eager_style)

    config.runners = runners
    report, curves, reconstructions = suite.run(config, progress=progress, log=log)
    legacy = record["legacy"]
    for key in ("train_seconds", "ms_per_step"):
        if key in legacy:
            report["styles"]["legacy"][key] = legacy[key]
    report["environments"] = {"record": record["environment"], "verify": environment()}
    report["golden"] = {"command": record.get("command"), "sha256": record.get("arrays_sha256")}
    return report, curves, reconstructions


def describe_environments(report):
    """One line naming where the record was made and where it was verified, and what differs."""
    made, here = report["environments"]["record"], report["environments"]["verify"]

    def side(env):
        tensorflow = f"TensorFlow {env['tensorflow']}" if env.get("tensorflow") else "no TensorFlow"
        return f"{tensorflow}, Keras {env['keras']} ({env['keras_backend']}), {env['device']} on {env['machine']}"
    differ = [k for k in ("tensorflow", "keras", "keras_backend", "device", "machine") if made.get(k) != here.get(k)]
    return (f"recorded with {side(made)}; verified with {side(here)}" +
            (f" (other {', '.join(differ)})" if differ else " (the same environment)"))
