"""What a careful user finds with damaged files, bad paths, signals and diverging training: NaN
never passes a check, divergence stops a run with exit status 3, errors come before the run,
interrupted runs say what they left, and runs resume bit for bit."""
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from parity import checkpoints, checks, cli, outputs, registry, tolerances, training
from parity.runners import Diverged

TOL = tolerances.DEFAULT
NAN = float("nan")
# Synthetic data, short runs: the accuracy run of 60 steps is informative (see test_cli.FAST).
FAST = ["--dataset", "synthetic", "--steps", "12", "--accuracy-steps", "60", "--batch-size", "16"]
TRAIN = ["--dataset", "synthetic", "--batch-size", "16"]


def run_cli(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def strict_json(path):
    """The file as JSON, refusing the NaN and Infinity tokens strict parsers refuse."""
    def refuse(token):
        raise ValueError(f"{path} holds {token}")
    return json.loads(Path(path).read_text(), parse_constant=refuse)


def files(folder):
    return sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*") if p.is_file())


@pytest.fixture
def learning_rate(monkeypatch):
    """Sets mnist_cnn's recipe learning rate, as a user of the Python API can."""
    def set_rate(rate):
        spec = registry.get("mnist_cnn")
        recipe = dataclasses.replace(spec.recipe, learning_rate=rate)
        monkeypatch.setitem(registry.MODELS, "mnist_cnn", dataclasses.replace(spec, recipe=recipe))
    return set_rate


# 1. NaN never passes a check.

def test_nonfinite_names_each_side_and_matches_only_the_same_places():
    assert checks.nonfinite("loss", 1.5, 1.5) is None
    one = checks.nonfinite("loss", 2.25, NAN)
    assert not one.same and one.message == "legacy loss is 2.25, eager loss is NaN"
    both = checks.nonfinite("loss", NAN, NAN)
    assert both.same and both.message == "legacy and eager loss are both NaN"
    assert not checks.nonfinite("loss", NAN, float("inf")).same
    a, b = np.array([1.0, NAN, 3.0]), np.array([1.0, NAN, 4.0])
    assert checks.nonfinite("outputs", a, b).same  # finite parts are compared by the check itself
    moved = checks.nonfinite("outputs", a, np.array([NAN, 2.0, 3.0]))
    assert not moved.same and moved.message == ("legacy outputs holds 1 NaN of 3 values, "
                                                "eager outputs holds 1 NaN of 3 values")


class _Forward:
    def __init__(self, out):
        self.out = np.asarray(out, np.float32)

    def forward(self, x, training=False):
        return self.out

    def get_weights(self):
        return []

    def set_weights(self, values):
        pass


def test_forward_check_fails_on_nan_outputs_and_calls_matching_nans_not_informative():
    result = checks.forward(_Forward([[1.0, 2.0]]), _Forward([[1.0, NAN]]), None, TOL)
    assert not result.passed and result.status == "failed"
    assert result.message == "inference mode: legacy outputs is finite, eager outputs holds 1 NaN of 2 values"
    both = checks.forward(_Forward([[NAN, 2.0]]), _Forward([[NAN, 2.0]]), None, TOL)
    assert not both.passed and both.status == "not_informative"


class _Gradients(_Forward):
    names, trainable_mask = ["w"], [True]

    def __init__(self, loss, gradient):
        self.loss, self.gradient = loss, np.asarray(gradient, np.float32)

    def gradients_and_kinks(self, x, y, training=True):
        return self.loss, [self.gradient], [], []


def test_gradients_check_fails_on_a_nan_gradient_naming_the_variable():
    result = checks.gradients(_Gradients(1.0, [0.5, 0.25]), _Gradients(1.0, [NAN, NAN]), 0, None, TOL)
    assert not result.passed
    assert result.message == ("batch 0: legacy gradient of w is finite, "
                              "eager gradient of w holds 2 NaN of 2 values")
    nan_loss = checks.gradients(_Gradients(1.0, [0.5]), _Gradients(NAN, [0.5]), 0, None, TOL)
    assert not nan_loss.passed and nan_loss.message == "batch 0: legacy loss is 1, eager loss is NaN"


class _Teacher:
    """A legacy side whose k-th train step has loss `losses[k]`, and an eager side that agrees
    unless its own losses say otherwise."""
    names, trainable_mask = ["w"], [True]

    def __init__(self, losses):
        self.losses, self.k, self.w = list(losses), 0, np.zeros(2, np.float32)

    def get_weights(self):
        return [self.w.copy()]

    def set_weights(self, values):
        self.w = values[0].copy()

    def train_step_with_gradients(self, x, y):
        loss = self.losses[self.k]
        self.k += 1
        self.w = self.w + 0.5
        return loss, [np.full(2, 0.1, np.float32)]

    def forced_step(self, x, y, gradients):
        loss = self.losses[self.k]
        self.k += 1
        self.w = self.w + 0.5
        return loss, [np.full(2, 0.1, np.float32)]


def _teacher_forced(losses_l, losses_e, steps):
    batches = iter([(None, None)] * steps)
    records = checks.teacher_forced_steps(_Teacher(losses_l), _Teacher(losses_e), batches, steps)
    return records, checks.training_steps(["w"], [True], records, TOL)


def test_training_steps_fail_on_the_first_nan_loss_and_stop_there():
    records, result = _teacher_forced([1.0, 0.9, 0.8, 0.7, 0.6], [1.0, 0.9, NAN, NAN, NAN], 5)
    assert len(records) == 3  # the steps stop at the first non-finite value
    assert not result.passed and result.status == "failed"
    assert result.message == "step 3: legacy loss is 0.8, eager loss is NaN"
    assert result.figures["nonfinite_step"] == 3 and result.figures["max_loss_diff"] == 0.0


def test_training_steps_where_both_styles_turn_nan_together_are_not_informative():
    _, result = _teacher_forced([1.0, NAN], [1.0, NAN], 4)
    assert result.status == "not_informative" and not result.passed
    assert result.message == "step 2: legacy and eager loss are both NaN; the steps before it agree"


def test_training_steps_do_not_pass_hand_built_nan_records():
    record = checks.StepRecord(NAN, NAN, grads=[(NAN, NAN, NAN)], weights=[(NAN, 1.0, True, True)])
    assert not checks.training_steps(["w"], [True], [record], TOL).passed
    assert not checks.training_steps(["w"], [True], [], TOL).passed  # no step is no pass


def test_accuracy_check_refuses_nan_and_counts_agreement_near_chance_as_not_informative():
    assert checks.accuracy(NAN, 80.0, 10, TOL, chance=10.0).status == "failed"
    at_chance = checks.accuracy(20.0, 20.4, 115, TOL, chance=20.0)
    assert at_chance.status == "not_informative" and not at_chance.passed
    assert "below 40.00% (chance 20.00%)" in at_chance.message
    assert checks.accuracy(71.2, 71.5, 300, TOL, chance=20.0).passed
    assert checks.accuracy(20.0, 35.0, 300, TOL, chance=20.0).status == "failed"
    # Where chance is 50% or more, the floor is halfway to 100%, not twice chance.
    assert checks.informative_floor(50.0, TOL) == 75.0 and checks.informative_floor(10.0, TOL) == 20.0


def test_a_port_whose_loss_is_nan_fails_and_its_divergence_exits_3(capsys, tmp_path, monkeypatch):
    import eager_v2.mnist_cnn as port

    make_loss = port.make_loss

    def nan_loss():
        loss = make_loss()
        return lambda y, logits: loss(y, logits) * NAN
    monkeypatch.setattr(port, "make_loss", nan_loss)
    path = tmp_path / "r.json"
    code, out, err = run_cli(capsys, "parity", "--model", "mnist_cnn", *FAST, "--json", path)
    assert code == cli.EXIT_DIVERGED, out + err
    report = strict_json(path)
    status = {c["name"]: c["status"] for c in report["checks"]}
    assert status == {"parameters": "passed", "layer_shapes": "passed", "forward": "passed",
                      "gradients": "failed", "training_steps": "failed", "accuracy": "failed"}
    assert "eager loss is NaN" in report["checks"][3]["message"]
    assert report["checks"][4]["message"].startswith("step 1: legacy loss is ")
    assert report["checks"][4]["message"].endswith(", eager loss is NaN")
    assert report["checks"][5]["message"] == "legacy ran all 60 steps; function loss is NaN at step 1"
    assert report["diverged"] == [{"style": "function", "phase": "free run", "step": 1,
                                   "reason": "loss is NaN at step 1"}]
    assert "6 of 6" not in out and "3 of 6 checks passed" in out


def test_a_diverging_recipe_stops_with_exit_3_and_strict_json(capsys, tmp_path, learning_rate):
    learning_rate(1e9)
    path = tmp_path / "r.json"
    code, out, err = run_cli(capsys, "parity", "--model", "mnist_cnn", *FAST, "--json", path)
    assert code == cli.EXIT_DIVERGED
    report = strict_json(path)  # bare NaN would fail here
    assert not report["passed"] and "checks passed" in out and "6 of 6" not in out
    assert [(d["style"], d["phase"], d["step"]) for d in report["diverged"]] == [
        ("legacy", "teacher-forced steps", 2), ("legacy", "free run", 2), ("function", "free run", 2)]
    accuracy = report["checks"][-1]
    assert accuracy["status"] == "not_informative" and accuracy["message"].startswith("both styles diverge")
    assert err.strip().endswith("check the data and the loss for values that overflow")


# 2. Divergence stops every training path.

@pytest.mark.parametrize("style", ["legacy", "function", "fit"])
def test_train_stops_at_the_first_nan_loss_and_writes_nothing(capsys, tmp_path, learning_rate, style):
    learning_rate(1e9)
    out_dir = tmp_path / "out"
    code, _, err = run_cli(capsys, "train", "--model", "mnist_cnn", "--style", style, *TRAIN, "--steps", 20,
                           "--out", out_dir)
    assert code == cli.EXIT_DIVERGED
    [line] = [e for e in err.splitlines() if e.startswith("tf-parity:")]
    assert line.startswith(f"tf-parity: {style} training diverged: loss is NaN at step 2 (last finite loss ")
    assert line.endswith(" at step 1); nothing was written. Lower the learning rate, or check the data and the "
                         "loss for values that overflow")
    assert not out_dir.exists()


def test_epoch_replays_and_the_document_workflow_stop_on_divergence(learning_rate, tmp_path):
    from parity import replay
    from parity.training_data import prepare_data

    learning_rate(1e9)
    spec = registry.get("mnist_cnn")
    data = prepare_data(spec, "synthetic")
    with pytest.raises(Diverged, match="loss is NaN at step 2"):
        replay.replay_epochs(spec, "legacy", data, 1, 5, 16, tmp_path)

    class Stage:
        total_iterations = 100

        def conv_weights(self, name):
            return np.array([0.1, NAN]) if name == "conv2" else np.zeros(2)
    with pytest.raises(Diverged, match="conv2's weights are no longer finite .* at step 100"):
        replay._check_finite(Stage(), "legacy")


def test_bench_marks_a_diverging_style(monkeypatch):
    from parity import bench

    class NaNAfterTwo:
        style = "function"

        def __init__(self):
            self.steps = 0

        def train_step(self):
            self.steps += 1
            return 1.0 if self.steps < 3 else NAN

        def infer_step(self):
            pass

        def close(self):
            pass

    monkeypatch.setattr(bench.styles, "build", lambda spec, style, x, y, seed, pair=None: NaNAfterTwo())
    monkeypatch.setattr(bench.flops, "count_flops", lambda spec, batch: {p: {"flops": 10} for p in bench.PHASES})
    config = bench.BenchConfig(models=("mnist_cnn",), styles=("legacy_feed_dict", "function"), steps=4, warmup=1)
    rows, _ = bench.bench_model(registry.get("mnist_cnn"), config, 100.0, bench.machine.Memory())
    failed = {(r["style"], r["phase"]): r for r in rows if r.get("error")}
    assert set(failed) == {("legacy_feed_dict", "train"), ("function", "train")}
    assert all(r["diverged"] for r in failed.values())
    assert "loss is NaN at step 3" in failed["function", "train"]["error"]


# 3. A legacy checkpoint's folder is made, and the checkpoint appears whole.

def test_train_legacy_saves_into_a_new_folder(capsys, tmp_path):
    import tensorflow as tf

    prefix = tmp_path / "new" / "sub" / "model"
    code, out, _ = run_cli(capsys, "train", "--model", "mnist_cnn", "--style", "legacy", *TRAIN, "--steps", 3,
                           "--out", tmp_path / "out", "--save", prefix)
    assert code == 0, out
    assert files(prefix.parent) == ["checkpoint", "model.data-00000-of-00001", "model.index"]
    assert tf.train.latest_checkpoint(str(prefix.parent)) == str(prefix)


# 4. and 8. convert checks its path first, and refuses a damaged data file.

@pytest.fixture(scope="module")
def saved_checkpoint(tmp_path_factory):
    from parity.runners import GraphRunner

    folder = tmp_path_factory.mktemp("ckpt")
    runner = GraphRunner.from_spec(registry.get("mnist_cnn"))
    prefix = runner.save(folder / "model")
    runner.close()
    return Path(prefix)


@pytest.mark.parametrize("damage", ["truncated", "bit-flipped"])
def test_convert_refuses_a_damaged_data_file(capsys, tmp_path, saved_checkpoint, damage):
    import shutil

    for f in saved_checkpoint.parent.iterdir():
        shutil.copy(f, tmp_path / f.name)
    data = tmp_path / "model.data-00000-of-00001"
    raw = bytearray(data.read_bytes())
    if damage == "truncated":
        raw = raw[: len(raw) // 2]
    else:
        raw[len(raw) // 3] ^= 0xFF
    data.write_bytes(bytes(raw))
    out_file = tmp_path / "w.weights.h5"
    code, _, err = run_cli(capsys, "convert", "--model", "mnist_cnn", "--checkpoint", tmp_path / "model",
                           "--out", out_file)
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert "the checkpoint's data file is damaged" in err and not out_file.exists()


def test_convert_checks_the_checkpoint_path_before_building_a_model(capsys, tmp_path, monkeypatch):
    from parity.runners import GraphRunner

    def no_build(*args, **kwargs):
        raise AssertionError("a model was built before the path was checked")
    monkeypatch.setattr(GraphRunner, "from_spec", no_build)
    code, _, err = run_cli(capsys, "convert", "--model", "mnist_cnn", "--checkpoint", tmp_path / "missing",
                           "--out", tmp_path / "w.weights.h5")
    assert code == 2 and "no checkpoint there" in err


# 5. Every argument and output path is checked before the run; a late failure is one line.

@pytest.fixture
def no_run(monkeypatch):
    from parity import suite

    def refuse(*args, **kwargs):
        raise AssertionError("the run started before the arguments were checked")
    monkeypatch.setattr(suite, "run", refuse)
    monkeypatch.setattr(training, "train", refuse)


@pytest.mark.parametrize("argv, message", [
    (["parity", "--model", "mnist_cnn", "--json", "{file}/r.json"], "{file} is a file, not a folder"),
    (["parity", "--model", "mnist_cnn", "--seed", "-1"], "--seed must be between 0 and 4294967295, got -1"),
    (["train", "--model", "mnist_cnn", "--style", "legacy", "--out", "{file}/sub"], "{file} is a file, not a folder"),
    (["train", "--model", "mnist_cnn", "--style", "legacy", "--save", "{file}/m"], "{file} is a file, not a folder"),
    (["train", "--model", "mnist_cnn", "--style", "legacy", "--checkpoint-every", "0"],
     "--checkpoint-every must be at least 1, got 0"),
    (["parity", "--model", "mnist_cnn", "--data-dir", "{tmp}/typo"], "--data-dir {tmp}/typo: does not exist"),
    (["bench", "--model", "mnist_cnn", "--json", "{file}/b.json"], "{file} is a file, not a folder"),
])
def test_bad_arguments_and_paths_fail_before_the_run(capsys, tmp_path, no_run, argv, message):
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    fill = {"file": a_file, "tmp": tmp_path}
    code, _, err = run_cli(capsys, *[a.format(**fill) for a in argv])
    assert code == 2 and err.count("\n") == 1 and message.format(**fill) in err


def test_a_write_that_fails_after_the_run_is_one_line_and_leaves_nothing(capsys, tmp_path, monkeypatch):
    real_write = Path.write_text

    def disk_full(self, *args, **kwargs):
        if self.name.endswith(".partial"):
            raise OSError(28, "No space left on device", str(self))
        return real_write(self, *args, **kwargs)
    monkeypatch.setattr(Path, "write_text", disk_full)
    folder = tmp_path / "out"
    code, _, err = run_cli(capsys, "parity", "--model", "mnist_cnn", *FAST, "--json", folder / "r.json")
    assert code == 2 and "Traceback" not in err
    assert err.splitlines()[-1] == f"tf-parity: error: {folder / 'r.json'}: No space left on device; " \
                                   "nothing was written"
    assert files(folder) == []  # the loss figure, written first, went with the report


# 6. Interrupts finish or remove what is being written and say what was left.

def test_an_interrupt_while_writing_leaves_no_new_figure_beside_an_old_report(capsys, tmp_path, monkeypatch):
    from parity import report

    old = tmp_path / "r.json"
    old.write_text('{"old": true}\n')
    real_write = report.write_json

    def interrupted(path, data, what="report"):
        signal.raise_signal(signal.SIGINT)  # as Ctrl-C delivers it
    monkeypatch.setattr(report, "write_json", interrupted)
    code, _, err = run_cli(capsys, "parity", "--model", "mnist_cnn", *FAST, "--json", old)
    monkeypatch.setattr(report, "write_json", real_write)
    assert code == 130 and err.splitlines()[-1] == "tf-parity: interrupted (SIGINT); nothing was written"
    assert files(tmp_path) == ["r.json"] and old.read_text() == '{"old": true}\n'


def _train_until_a_checkpoint(tmp_path, style, sig):
    """Starts `tf-parity train` with checkpoints, sends `sig` once the first is on disk."""
    checkpoint = tmp_path / f"train_mnist_cnn_{style}_state.ckpt.npz"
    process = subprocess.Popen([sys.executable, "-m", "parity.cli", "train", "--model", "mnist_cnn",
                                "--style", style, *TRAIN, "--steps", "100000", "--checkpoint-every", "40",
                                "--out", str(tmp_path)], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not checkpoint.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)
    process.send_signal(sig)
    _, err = process.communicate(timeout=120)
    return process.returncode, err, checkpoint


@pytest.mark.parametrize("sig, code, name", [(signal.SIGTERM, 143, "terminated (SIGTERM)"),
                                             (signal.SIGINT, 130, "interrupted (SIGINT)")])
def test_a_signal_leaves_the_last_whole_checkpoint_and_says_so(tmp_path, sig, code, name):
    returncode, err, checkpoint = _train_until_a_checkpoint(tmp_path, "legacy", sig)
    assert returncode == code, err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"tf-parity: {name}; left on disk: {checkpoint} (training checkpoint at step ")
    assert last.endswith("; --resume continues from it)") and "Traceback" not in err
    assert files(tmp_path) == [checkpoint.name]  # no temporary file left behind
    meta = checkpoints.read_meta(checkpoint)
    assert meta["step"] % 40 == 0 and len(meta["losses"]) == meta["step"]


# 8. Files are created with the user's umask.

def test_reports_and_figures_follow_the_umask(tmp_path):
    from parity import plots, report

    previous = os.umask(0o027)
    try:
        report.write_json(tmp_path / "r.json", {"a": 1})
        plots.plot_loss_curves(tmp_path / "r.png", {"legacy": [1.0, 0.5]}, "t")
    finally:
        os.umask(previous)
    assert oct((tmp_path / "r.json").stat().st_mode & 0o777) == oct(0o640)
    assert oct((tmp_path / "r.png").stat().st_mode & 0o777) == oct(0o640)


# 9. Agreement at chance is reported, not passed.

def test_a_run_at_chance_is_not_informative_and_exits_1(capsys, tmp_path):
    path = tmp_path / "r.json"
    argv = [a if a != "60" else "2" for a in FAST]
    code, out, _ = run_cli(capsys, "parity", "--model", "mnist_cnn", *argv, "--json", path)
    assert code == cli.EXIT_FAILED
    assert strict_json(path)["checks"][-1]["status"] == "not_informative"
    assert "5 of 6 checks passed; not informative: accuracy" in out and "----  accuracy" in out


# 10. Checkpoints and resume, bit for bit.

class _StopAt:
    """A progress bar that interrupts the run after `step` steps (of the bar whose description
    holds `only`, if given), as Ctrl-C would."""

    def __init__(self, step, only=None):
        self.stop, self.only = step, only

    def __call__(self, total, description="", initial=0):
        outer = self if self.only is None or self.only in description else _StopAt(-1)

        class Bar:
            count = initial

            def update(self, n=1, postfix=None):
                self.count += n
                if self.count == outer.stop:
                    signal.raise_signal(signal.SIGINT)

            def close(self):
                pass
        return Bar()


@pytest.mark.parametrize("style", ["legacy", "function", "fit"])
def test_a_resumed_training_reaches_the_uninterrupted_weights_bit_for_bit(tmp_path, style):
    spec = registry.get("mnist_cnn")
    suffix = "" if style == "legacy" else ".weights.h5"

    def config(name, **kwargs):
        return training.TrainConfig(model="mnist_cnn", style=style, dataset="synthetic", steps=9, batch_size=16,
                                    seed=3, save=str(tmp_path / f"{name}{suffix}"),
                                    checkpoint=str(tmp_path / f"{name}.ckpt.npz"), **kwargs)
    straight = training.train(spec, config("straight"), log=lambda m: None)
    with pytest.raises(KeyboardInterrupt):
        training.train(spec, config("resumed", checkpoint_every=3), progress=_StopAt(5), log=lambda m: None)
    assert checkpoints.read_meta(tmp_path / "resumed.ckpt.npz")["step"] == 3
    resumed = training.train(spec, config("resumed", checkpoint_every=3, resume=True), log=lambda m: None)
    assert resumed["report"]["resumed_at_step"] == 3
    if style == "fit":  # fit logs running means, which restart with each call: losses to rounding
        np.testing.assert_allclose(resumed["losses"], straight["losses"], rtol=1e-6)
    else:
        assert resumed["losses"] == straight["losses"]
    for a, b in zip(_saved_weights(style, tmp_path / f"straight{suffix}"),
                    _saved_weights(style, tmp_path / f"resumed{suffix}")):
        np.testing.assert_array_equal(a, b)


def _saved_weights(style, path):
    from parity.runners import GraphRunner, KerasRunner
    from parity import transfer

    spec = registry.get("mnist_cnn")
    if style == "legacy":
        runner = GraphRunner.from_spec(spec)
        values = transfer.read_checkpoint(path, runner.names, runner.shapes)
        runner.close()
        return values
    runner = KerasRunner.from_spec(spec)
    runner.model.load_weights(str(path))
    return runner.get_weights()


def test_a_resumed_parity_run_gives_the_uninterrupted_report(capsys, tmp_path, monkeypatch):
    straight = tmp_path / "straight.json"
    assert run_cli(capsys, "parity", "--model", "mnist_cnn", *FAST, "--json", straight)[0] == 0
    resumed = tmp_path / "resumed.json"
    # Interrupted 40 steps into the second style's free run: the legacy's finished run is kept.
    monkeypatch.setattr(cli, "_progress_factory", lambda: _StopAt(40, only="function"))
    code, _, err = run_cli(capsys, "parity", "--model", "mnist_cnn", *FAST, "--json", resumed,
                           "--checkpoint-every", 25)
    assert code == 130, err
    assert {p.name for p in tmp_path.glob("resumed_*.ckpt.npz")} == {"resumed_legacy.ckpt.npz",
                                                                     "resumed_function.ckpt.npz"}
    monkeypatch.undo()
    code, out, err = run_cli(capsys, "parity", "--model", "mnist_cnn", *FAST, "--json", resumed, "--resume")
    assert code == 0, out + err
    assert "legacy: resumed" in err and "function: resumed from" in err and "at step 25" in err
    a, b = strict_json(straight), strict_json(resumed)
    for key in ("legacy", "eager"):
        assert a["styles"][key]["test_accuracy"] == b["styles"][key]["test_accuracy"]
    assert [c for c in a["checks"] if c["name"] == "accuracy"][0]["free_running_max_loss_diff"] == \
        [c for c in b["checks"] if c["name"] == "accuracy"][0]["free_running_max_loss_diff"]
    assert not list(tmp_path.glob("*.ckpt.npz"))  # the finished run removed its checkpoints


@pytest.mark.parametrize("setup, message", [
    ("none", "no checkpoint at {ckpt} to resume from"),
    ("other seed", "was written by a run with seed 1, this run has 0"),
    ("damaged", "not a readable tf-parity checkpoint"),
])
def test_resume_refuses_a_missing_foreign_or_damaged_checkpoint(capsys, tmp_path, no_run, setup, message):
    ckpt = tmp_path / "train_mnist_cnn_legacy_state.ckpt.npz"
    if setup == "other seed":
        class Runner:
            step = 3

            def training_state(self):
                return [("w", np.zeros(2))]
        checkpoints.save(ckpt, Runner(), {"command": "train", "model": "mnist_cnn", "style": "legacy", "seed": 1,
                                          "batch_size": 16, "checkpoint_every": 3})
    elif setup == "damaged":
        ckpt.write_bytes(b"PK\x03\x04 not a zip")
    code, _, err = run_cli(capsys, "train", "--model", "mnist_cnn", "--style", "legacy", *TRAIN, "--steps", 9,
                           "--out", tmp_path, "--resume")
    assert code == 2 and err.count("\n") == 1 and message.format(ckpt=ckpt) in err


def test_reading_with_batch_statistics_leaves_the_moving_statistics_alone():
    import keras

    from parity.runners import KerasRunner

    inputs = keras.Input((6, 6, 1))
    h = keras.layers.Conv2D(2, 3, name="conv")(inputs)
    h = keras.layers.BatchNormalization(momentum=0.999, name="bn")(h)
    outputs = keras.layers.Dense(3, name="fc")(keras.layers.Flatten()(h))
    runner = KerasRunner(keras.Model(inputs, outputs), lambda: keras.optimizers.Adam(1e-3),
                         keras.losses.CategoricalCrossentropy(from_logits=True))
    x = np.random.default_rng(0).uniform(size=(300, 6, 6, 1)).astype(np.float32) * 5
    before = runner.get_weights()
    moving, batch = runner.predict(x), runner.predict(x, batch_statistics=True)
    assert not np.allclose(moving, batch)  # the moving statistics (0 and 1) are not this data's
    for a, b in zip(before, runner.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_mobilenet_v2_reads_its_accuracy_with_batch_statistics_and_says_so():
    from parity import report

    assert registry.get("mobilenet_v2").accuracy_batch_statistics
    check = checks.accuracy(71.38, 72.60, 115, tolerances.for_model("mobilenet_v2"), chance=20.0,
                            reading="batch statistics").to_json()
    assert check["status"] == "passed" and report._summary(check).endswith("read with batch statistics")
