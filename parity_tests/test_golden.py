"""Golden records: `record` runs the legacy side once; `verify`, in another process, checks the port
against it and gives the verdicts and figures `parity` gives on the same seed; a planted port bug
fails it where parity fails; a damaged or foreign record is one line, exit 2."""
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from parity import cli, golden

ROOT = Path(__file__).resolve().parents[1]
RUN = {"mnist_cnn": ["--steps", "4", "--accuracy-steps", "60"],
       "conv_autoencoder": ["--steps", "4", "--accuracy-steps", "60"]}


def tf_parity(*argv, env=None, python_prelude=None):
    """The command in a process of its own (as on another machine), with its exit status and output."""
    code = "import sys; from parity import cli; sys.exit(cli.main(sys.argv[1:]))"
    if python_prelude:
        code = python_prelude + "\n" + code
    result = subprocess.run([sys.executable, "-c", code, *map(str, argv)], cwd=ROOT, capture_output=True, text=True,
                            timeout=600, env={**os.environ, **(env or {})})
    return result.returncode, result.stdout, result.stderr


@pytest.fixture(scope="module")
def parity_reports(tmp_path_factory):
    """`tf-parity parity` with each model's settings, once, for the verifies to match."""
    folder = tmp_path_factory.mktemp("parity")
    reports = {}
    for model, run in RUN.items():
        assert cli.main(["parity", "--model", model, *run, "--json", str(folder / f"{model}.json")]) == 0
        reports[model] = json.loads((folder / f"{model}.json").read_text())
    return reports


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    folder = tmp_path_factory.mktemp("records")
    made = {}
    for model, run in RUN.items():
        code = cli.main(["record", "--model", model, *run, "--out", str(folder / model)])
        assert code == 0
        made[model] = folder / model
    return made


def _figures(report):
    """What must agree between parity and verify: every check's status and figures, both sides' test figures."""
    checks = [{k: v for k, v in c.items() if k != "seconds"} for c in report["checks"]]
    tested = {side: {k: v for k, v in entry.items() if k.startswith("test_")} for side, entry in report["styles"].items()}
    return checks, tested


def _backend(name):
    """The Keras backend `name` as a test parameter, skipped with the reason where it is not installed."""
    import importlib.util

    module = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}[name]
    installed = importlib.util.find_spec(module) is not None
    reason = {"jax": "jax is not installed: pip install -e '.[jax]' (make test installs it)",
              "torch": "torch is not installed: make test EXTRAS=cpu,test,jax,torch installs it"}.get(name, "")
    return pytest.param(name, marks=pytest.mark.skipif(not installed, reason=reason))


BACKENDS = [_backend(name) for name in ("tensorflow", "jax", "torch")]


def _on(backend):
    """The environment of a process on Keras backend `backend`. Torch's OpenMP threads spin while they
    wait, which on cores shared with another busy process (make test runs two workers on two cores)
    made mnist_cnn's steps seven times slower (298 ms against 42); PASSIVE makes them sleep."""
    return {"KERAS_BACKEND": backend, **({"OMP_WAIT_POLICY": "PASSIVE"} if backend == "torch" else {})}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("model", list(RUN))
def test_verify_in_another_process_gives_what_parity_gives(tmp_path, parity_reports, records, model, backend):
    verify_json = tmp_path / "verify.json"
    code, out, err = tf_parity("verify", "--golden", records[model], "--json", verify_json,
                               env=_on(backend))
    assert code == 0, out + err
    assert "6 of 6 checks passed" in out
    parity, verify = parity_reports[model], json.loads(verify_json.read_text())
    assert verify["environments"]["verify"]["keras_backend"] == backend
    assert verify["styles"]["legacy"]["ms_per_step"] == json.loads(
        (records[model] / golden.JSON_NAME).read_text())["legacy"]["ms_per_step"]
    if backend == "tensorflow":
        # The same code, the same questions, the same answers: every figure as parity's.
        assert "(the same environment)" in out
        assert _figures(verify) == _figures(parity)
    else:
        # Another backend's kernels round otherwise: the same verdicts, the legacy side's figures unchanged.
        assert "(other keras_backend)" in out
        assert [c["status"] for c in verify["checks"]] == [c["status"] for c in parity["checks"]]
        assert _figures(verify)[1]["legacy"] == _figures(parity)[1]["legacy"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_planted_port_bug_fails_verify_at_the_teacher_forced_check(tmp_path, records, backend):
    """Keras' default Adam epsilon (1e-7 for TF1's 1e-8), planted in the verifying process alone."""
    prelude = ("import dataclasses; from parity import registry; s = registry.MODELS['mnist_cnn']; "
               "registry.MODELS['mnist_cnn'] = dataclasses.replace(s, recipe=dataclasses.replace(s.recipe, "
               "epsilon=1e-7))")
    path = tmp_path / "v.json"
    code, out, err = tf_parity("verify", "--golden", records["mnist_cnn"], "--json", path, python_prelude=prelude,
                               env=_on(backend))
    assert code == cli.EXIT_FAILED, out + err
    checks = {c["name"]: c["status"] for c in json.loads(path.read_text())["checks"]}
    assert checks == {"parameters": "passed", "layer_shapes": "passed", "forward": "passed", "gradients": "passed",
                      "training_steps": "failed", "accuracy": checks["accuracy"]}


def _rewrite(record_dir, change):
    """Edits record.json and seals it again, as a record made elsewhere would be."""
    path = record_dir / golden.JSON_NAME
    data = json.loads(path.read_text())
    data.pop("sha256")
    change(data)
    data["sha256"] = hashlib.sha256(golden._canonical(data)).hexdigest()
    path.write_text(json.dumps(data))


def test_a_record_from_another_environment_names_both(tmp_path, records):
    import shutil

    copy = tmp_path / "rec"
    shutil.copytree(records["mnist_cnn"], copy)

    def elsewhere(data):
        data["environment"].update(tensorflow="1.15.5", device="CPU: an old box (4 logical cores)", machine="oldbox")
    _rewrite(copy, elsewhere)
    code, out, err = tf_parity("verify", "--golden", copy, "--json", tmp_path / "v.json")
    assert code == 0, out + err
    assert ("recorded with TensorFlow 1.15.5, Keras 3.15.1 (tensorflow), CPU: an old box (4 logical cores) on oldbox; "
            "verified with TensorFlow 2.") in out
    assert "(other tensorflow, device, machine)" in out
    report = json.loads((tmp_path / "v.json").read_text())
    assert report["environments"]["record"]["machine"] == "oldbox"


def _truncate(d):
    data = (d / golden.ARRAYS_NAME).read_bytes()
    (d / golden.ARRAYS_NAME).write_bytes(data[:len(data) // 2])


def _flip(d):
    data = bytearray((d / golden.ARRAYS_NAME).read_bytes())
    data[len(data) // 2] ^= 1
    (d / golden.ARRAYS_NAME).write_bytes(bytes(data))


def _nested(depth):
    value = 1
    for _ in range(depth):
        value = {"l": [value]}
    return value


def _edit_json(d):
    text = (d / golden.JSON_NAME).read_text()
    (d / golden.JSON_NAME).write_text(text.replace('"seed":0', '"seed":1', 1).replace('"seed": 0', '"seed": 1', 1))


@pytest.mark.parametrize("damage, argv, message", [
    (_truncate, [], "arrays.npz does not match its checksum: the file was changed, truncated or damaged"),
    (_flip, [], "arrays.npz does not match its checksum"),
    (_edit_json, [], "record.json does not match its checksum"),
    (lambda d: _rewrite(d, lambda data: data.update(version=99)), [],
     "record format version 99; this tf-parity reads version 2"),
    # Sealed again after the damage: the checksum holds, the structure does not.
    (lambda d: _rewrite(d, lambda data: data["side"].pop("names")), [], "its 'side' is not as tf-parity writes it"),
    (lambda d: _rewrite(d, lambda data: data.update(model="../../etc")), [], "its 'model' is not as"),
    (lambda d: _rewrite(d, lambda data: data["settings"].update(steps="ten")), [], "its 'settings' is not"),
    (lambda d: _rewrite(d, lambda data: data["answers"][0].__setitem__(2, {"a": "../../etc/passwd"})), [],
     "answers[0]: an array '../../etc/passwd' that arrays.npz lacks"),
    (lambda d: _rewrite(d, lambda data: data["answers"][1].__setitem__(2, {"x": 1})), [],
     "answers[1]: an unknown tag 'x'"),
    (lambda d: _rewrite(d, lambda data: data["answers"][0].__setitem__(2, _nested(100))), [],
     "answers[0]: nested deeper than 64"),
    (lambda d: (d / golden.JSON_NAME).write_text("[" * 200_000 + "]" * 200_000), [], "nests deeper than any record"),
    (lambda d: (d / golden.JSON_NAME).unlink(), [], "not a record (a folder holding record.json and arrays.npz"),
    (lambda d: None, ["--model", "conv_autoencoder"], "is a record of mnist_cnn, not conv_autoencoder"),
    (lambda d: (d / golden.JSON_NAME).write_text("{not json"), [], "record.json is not readable JSON"),
])
def test_a_damaged_or_foreign_record_is_one_line_exit_2(tmp_path, capsys, records, damage, argv, message):
    import shutil

    copy = tmp_path / "rec"
    shutil.copytree(records["mnist_cnn"], copy)
    damage(copy)
    out_json = tmp_path / "out" / "v.json"
    code = cli.main(["verify", "--golden", str(copy), *argv, "--json", str(out_json)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and message in err, err
    assert not out_json.parent.exists()


def test_the_record_needs_only_numpy_to_read(records):
    code = ("import json, sys, numpy as np; d = sys.argv[1]; r = json.load(open(d + '/record.json')); "
            "a = np.load(d + '/arrays.npz', allow_pickle=False); "
            "print(r['format'], r['version'], r['model'], len(r['answers']), len(a.files), "
            "'tensorflow' in sys.modules, 'keras' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code, str(records["mnist_cnn"])], capture_output=True, text=True,
                            timeout=60, check=True)
    fmt, version, model, answers, arrays, tf_loaded, keras_loaded = result.stdout.split()
    assert (fmt, version, model) == ("tf-parity-record", str(golden.VERSION), "mnist_cnn")
    assert int(answers) > 10 and int(arrays) > 10 and tf_loaded == keras_loaded == "False"


def test_encoding_round_trips_what_runners_answer():
    from parity.kinks import KinkOp

    arrays = {}
    weights = [np.arange(6, dtype=np.float32).reshape(2, 3), np.zeros(3, np.float32)]
    value = (1.5, float("nan"), weights, [KinkOp("MaxPool", "pool1", ((1, 2, 2, 1), (1, 2, 2, 1), "SAME"))],
             {"conv1": weights[0]}, None, True, 7)
    encoded = golden.encode(value, arrays)
    json.dumps(encoded, allow_nan=False)
    decoded = golden.decode(json.loads(json.dumps(encoded)), arrays)
    assert decoded[0] == 1.5 and np.isnan(decoded[1]) and decoded[3] == value[3] and decoded[5:] == (None, True, 7)
    assert all(np.array_equal(a, b) for a, b in zip(decoded[2], weights))
    assert list(decoded[4]) == ["conv1"] and np.array_equal(decoded[4]["conv1"], weights[0])
    golden.encode([weights[0], weights[0].copy()], arrays)
    assert len(arrays) == 2  # the same bytes are kept once


def test_a_question_the_record_cannot_answer_is_an_error(records):
    record = golden.read(records["mnist_cnn"])
    replay = golden.Replay(record)
    with pytest.raises(golden.RecordError, match="the record holds no answer to forward here: it was made on other data"):
        replay.forward(np.ones((2, 28, 28, 1), np.float32), False)


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b.values[0] != "tensorflow"])
def test_verify_needs_no_tensorflow(tmp_path, records, backend):
    """Where the port lives (a GPU machine with JAX, say), `import tensorflow` fails: verify runs."""
    path = tmp_path / "v.json"
    code, out, err = tf_parity("verify", "--golden", records["mnist_cnn"], "--device", "cpu", "--json", path,
                               python_prelude="import sys; sys.modules['tensorflow'] = None",
                               env=_on(backend))
    assert code == 0, out + err
    assert "6 of 6 checks passed" in out and f"verified with no TensorFlow, Keras 3.15.1 ({backend})" in out
    report = json.loads(path.read_text())
    assert report["environments"]["verify"]["tensorflow"] is None
    assert report["settings"]["device"]["asked"] == "cpu" and report["settings"]["device"]["keras_backend"] == backend


def test_device_gpu_without_one_is_refused_before_the_run(tmp_path, capsys):
    from parity import runtime

    if "GPU" in runtime.device_description():
        pytest.skip("this machine has a GPU")
    code = cli.main(["parity", "--model", "mnist_cnn", "--device", "gpu", "--json", str(tmp_path / "out" / "r.json")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "--device gpu: no GPU is visible to Keras' tensorflow backend" in err
    assert not (tmp_path / "out").exists()


def test_the_gpu_check_verifies_a_carried_record_on_jax(tmp_path, records):
    """scripts/gpu_check.sh as on the GPU machine, here on the CPU: a bundle holding one record and
    the data (Keras is installed here, so no wheels), verify on JAX, then the JAX step timing."""
    import shutil

    system = Path("/usr/share/datasets/fashion-mnist")
    if not system.is_dir():
        pytest.skip("Debian's Fashion-MNIST is not installed (make test installs it where apt-get can)")
    bundle = tmp_path / "bundle"
    shutil.copytree(records["mnist_cnn"], bundle / "records" / "mnist_cnn")
    (bundle / "data").mkdir()
    (bundle / "data" / "fashion-mnist").symlink_to(system)
    out = tmp_path / "out"
    env = {**os.environ, "BUNDLE": str(bundle), "OUT": str(out), "DEVICE": "cpu", "PYTHON": sys.executable,
           "STEP_MODELS": "mnist_cnn", "STEPS": "2"}
    result = subprocess.run(["scripts/gpu_check.sh"], cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stdout + result.stderr + (out / "verify_mnist_cnn.log").read_text()
    assert "verify mnist_cnn: exit 0" in result.stdout and "6 of 6 checks passed" in result.stdout
    report = json.loads((out / "verify_mnist_cnn.json").read_text())
    assert report["environments"]["verify"]["keras_backend"] == "jax"
    steps = json.loads((out / "jax_steps.json").read_text())
    assert steps["keras_backend"] == "jax" and steps["results"][0]["ms_per_step"] > 0


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b.values[0] != "jax"])
def test_a_port_that_parts_is_located_from_the_record(tmp_path, records, backend):
    """A port missing fc1's ReLU, planted in the verifying process: verify asks the record for the
    layer outputs and for a second forward pass, as parity asks the graph, and names the layer.
    (On torch the layer outputs carry autograd history, which NumPy does not take as it is.)"""
    prelude = ("import keras; import eager_v2.mnist_cnn as m; build = m.build_model\n"
               "def broken(**kw):\n"
               "    model = build(**kw); model.get_layer('fc1').activation = keras.activations.linear; return model\n"
               "m.build_model = broken")
    path = tmp_path / "v.json"
    code, out, err = tf_parity("verify", "--golden", records["mnist_cnn"], "--json", path, python_prelude=prelude,
                               env=_on(backend))
    assert code == cli.EXIT_FAILED, out + err
    forward = json.loads(path.read_text())["checks"][2]
    assert forward["name"] == "forward" and forward["status"] == "failed"
    assert "first at layer fc1" in forward["message"], forward["message"]


def test_a_legacy_run_that_diverged_replays_its_divergence():
    """Recorded as a runner reports it (the non-finite step raises before it is noted), replayed at
    the same step, with the same batches taken from the stream."""
    from parity.runners import Diverged, _StepWatch

    class Diverging:
        names, shapes, trainable_mask, style, held_fixed = ["w"], [(2,)], [True], "legacy", []
        graph_trust = {"route": "builder", "walked": True, "trusted": False, "flagged": []}

        def __init__(self):
            self.watch, self.weights = _StepWatch("legacy"), [np.zeros(2, np.float32)]

        def get_weights(self):
            return list(self.weights)

        def train(self, batches, num_steps, on_step=None):
            for i, loss in enumerate([0.5, 0.25, float("nan")][:num_steps]):
                next(batches)
                self.watch(loss)
                on_step(i, loss)

    def stream():
        for k in range(1000):
            yield np.full((2, 2), k, np.float32), np.zeros(2, np.int64)

    recorder = golden.Recorder(Diverging())
    taken = stream()
    with pytest.raises(Diverged):
        recorder.train(taken, 5)
    arrays = {}
    record = {"answers": [[m, q, golden.encode(v, arrays)] for m, q, v in recorder.answers], "arrays": arrays,
              "side": {"names": ["w"], "shapes": [[2]], "trainable_mask": [True], "held_fixed": [],
                       "graph_trust": Diverging.graph_trust, "weights": golden.encode([np.zeros(2, np.float32)], arrays)}}
    replay, again = golden.Replay(json.loads(json.dumps(record, default=str)) | {"arrays": arrays}), stream()
    seen = []
    with pytest.raises(Diverged) as stopped:
        replay.train(again, 5, lambda i, loss: seen.append(loss))
    assert stopped.value.step == 3 and seen == [0.5, 0.25]
    assert next(again)[0][0, 0] == next(taken)[0][0, 0] == 3  # both took three batches
