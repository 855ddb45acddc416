"""Every script under scripts/, run as a user runs it (`python scripts/NAME.py ...` from the
repository root) with arguments that make it quick: each exits 0 and writes or prints what it
promises. A script that neither runs here nor is listed in RUN_ELSEWHERE fails the suite."""
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"

# Scripts this file does not run, and the file that does (a test, or what a test or make runs).
RUN_ELSEWHERE = {
    "faults.py": "parity_tests/test_faults.py",
    "gpu_check.sh": "parity_tests/test_golden.py",
    "jax_steps.py": "scripts/gpu_check.sh",  # run by test_golden.py's gpu_check.sh test
    "install_data.sh": "Makefile",
    "gpu_bundle.sh": "parity_tests/test_scripts.py",  # test_gpu_bundle_holds_the_wheels_the_data_and_a_record
}
# Scripts no test runs, with the reason.
NOT_RUN = {}


def commands(out):
    """Each script's quick command line, its outputs under `out`."""
    quick_epochs = ["--dataset", "synthetic", "--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "4"]
    return {
        "noise_floor.py": ["--dataset", "synthetic", "--steps", "3", "--streams", "1", "--batch-size", "8",
                           "--json", out / "noise_floor.json"],
        "noise_floor.py --accuracy": ["--accuracy", "--dataset", "synthetic", "--steps", "3", "--starts", "2",
                                      "--batch-size", "8", "--json", out / "accuracy_floor.json"],
        "seed001_legacy.py": ["--dataset", "synthetic", "--iterations", "1", "--out", out / "seed001_legacy"],
        "seed001_eager.py": ["--dataset", "synthetic", "--iterations", "1", "--out", out / "seed001_eager"],
        "seed000_vgg13.py": quick_epochs + ["--out", out / "vgg13"],
        "seed002_autoencoder.py": quick_epochs + ["--out", out / "autoencoder"],
        "seed003_mobilenet_v2.py": quick_epochs + ["--out", out / "mobilenet_v2"],
        "seed004_resnet18.py": quick_epochs + ["--out", out / "resnet18"],
        "kink_report.py": ["--model", "mnist_cnn", "--dataset", "synthetic", "--batch-size", "8"],
        "accuracy_trace.py": ["--model", "mnist_cnn", "--dataset", "synthetic", "--steps", "4", "--from-step", "2",
                              "--every", "2", "--json", out / "trace" / "accuracy_trace.json"],
        "profile_mnist_step.py": ["--batch-size", "8", "--steps", "2", "--rounds", "1",
                                  "--json", out / "profile.json"],
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Starts every command, two at a time (the slow part is each process importing TensorFlow);
    `runs(key)` waits for that one and returns (CompletedProcess, seconds, out folder)."""
    out = tmp_path_factory.mktemp("scripts")

    def run(key, args):
        script = key.split()[0]
        began = time.perf_counter()
        result = subprocess.run([sys.executable, f"scripts/{script}", *map(str, args)], cwd=ROOT,
                                capture_output=True, text=True, timeout=600)
        return result, time.perf_counter() - began

    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {key: pool.submit(run, key, args) for key, args in commands(out).items()}

        def wait(key):
            result, seconds = futures[key].result()
            assert result.returncode == 0, (f"{' '.join(result.args)}: exit {result.returncode}\n"
                                            f"stderr:\n{result.stderr[-6000:]}\nstdout:\n{result.stdout[-2000:]}")
            print(f"{key}: {seconds:.1f} s")
            return result, seconds, out

        yield wait


def test_gpu_bundle_holds_the_wheels_the_data_and_a_record(tmp_path):
    """scripts/gpu_bundle.sh with one model and a short free run; `pip download` takes the wheels
    from the package index."""
    import os

    bundle = tmp_path / "bundle"
    env = {**os.environ, "BUNDLE": str(bundle), "MODELS": "mnist_cnn", "RECORD_FLAGS": "--accuracy-steps 20"}
    result = subprocess.run(["scripts/gpu_bundle.sh"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(p.name.split("-")[0] for p in (bundle / "wheels").glob("*.whl")) == ["keras", "namex", "optree"]
    assert len(list((bundle / "data" / "fashion-mnist").glob("*-ubyte.gz"))) == 4
    record = json.loads((bundle / "records" / "mnist_cnn" / "record.json").read_text())
    assert record["model"] == "mnist_cnn" and record["settings"]["accuracy_steps"] == 20
    assert result.stdout.strip().splitlines()[-1].endswith("in all, of 67.1 MB (64 MiB)")


def test_every_script_is_run_by_a_test():
    # Modules beginning with _ are imported by the scripts, not run.
    scripts = sorted(p.name for p in SCRIPTS.iterdir() if p.is_file() and not p.name.startswith("_"))
    here = {key.split()[0] for key in commands(Path("out"))}
    unrun = [s for s in scripts if s not in here and s not in RUN_ELSEWHERE and s not in NOT_RUN]
    assert not unrun, f"no test runs {', '.join(unrun)}: add it to parity_tests/test_scripts.py"
    for script, runner in RUN_ELSEWHERE.items():
        assert script in scripts, f"RUN_ELSEWHERE names {script}, which scripts/ no longer holds"
        assert script in (ROOT / runner).read_text(), f"{runner} does not run scripts/{script}"
    assert not (here | set(NOT_RUN)) - set(scripts), "a command above names a script scripts/ does not hold"


def test_noise_floor_measures_the_teacher_forced_steps_and_the_free_runs(runs):
    result, _, out = runs("noise_floor.py")
    figures = json.loads((out / "noise_floor.json").read_text())
    assert figures["model"] == "mnist_cnn" and figures["dataset"] == "synthetic" and figures["steps"] == 3
    assert figures["tolerances"] == {"step_loss_atol": 1e-5, "step_weights_atol": 1e-6, "step_weights_rtol": 1e-5}
    matched = figures["teacher_forced"]["legacy vs eager"]
    keras_default = figures["teacher_forced"]["legacy vs eager, Keras default epsilon"]
    # The matched port passes the training_steps check; Keras' default Adam epsilon fails it.
    assert matched["passed"] == 1 and matched["weights_to_tolerance"]["max"] <= 1
    assert keras_default["passed"] == 0 and keras_default["weights_to_tolerance"]["max"] > 1
    free = figures["free_running"]
    assert free["first_steps"] == 3
    assert set(free["comparisons"]) == {"legacy vs eager", "legacy vs legacy, start +1 ulp",
                                        "eager vs eager, start +1 ulp", "legacy vs eager, Keras default epsilon"}
    assert "tolerances: loss 1e-05, weights 1e-06 + 1e-05*|w|" in result.stdout


def test_noise_floor_accuracy_measures_ulp_apart_starts(runs):
    result, _, out = runs("noise_floor.py --accuracy")
    figures = json.loads((out / "accuracy_floor.json").read_text())
    assert list(figures["test_figures"]) == ["legacy, start", "legacy, conv1/weights +1 ulp",
                                             "eager, start", "eager, conv1/weights +1 ulp"]
    assert all(0 <= v <= 100 for v in figures["test_figures"].values())
    assert figures["checkpoints"] == [3] and figures["tolerance"] == {"accuracy_points": 0.5}
    assert "twice the legacy spread:" in result.stdout


@pytest.mark.parametrize("script, label", [("seed001_legacy.py", "legacy"), ("seed001_eager.py", "function")])
def test_seed001_replay_stops_at_the_stages_asked_for(runs, script, label):
    result, _, out = runs(script)
    folder = out / script[:-3]
    summary = json.loads((folder / f"seed001_{label}.json").read_text())
    assert summary["style"] == label and summary["dataset"] == "synthetic"
    assert [s["iterations"] for s in summary["stages"]] == [0, 1]
    for png in ("sample_images", "conv1_weights", "conv1_output", "conv2_weights_channel1", "conv2_output_image13"):
        assert (folder / f"{label}_{png}.png").stat().st_size > 0
    assert "iterations  accuracy  document (MNIST)  train time" in result.stdout


@pytest.mark.parametrize("script, model, style, folder", [
    ("seed000_vgg13.py", "vgg13", "function", "vgg13"),
    ("seed002_autoencoder.py", "conv_autoencoder", "fit", "autoencoder"),
    ("seed003_mobilenet_v2.py", "mobilenet_v2", "function", "mobilenet_v2"),
    ("seed004_resnet18.py", "resnet18", "fit", "resnet18"),
])
def test_epoch_replay_runs_the_steps_asked_for(runs, script, model, style, folder):
    _, _, out = runs(script)
    summary = json.loads((out / folder / f"{model}_{style}.json").read_text())
    assert (summary["model"], summary["style"], summary["dataset"]) == (model, style, "synthetic")
    assert summary["batch_size"] == 4 and summary["steps_per_epoch"] == 2
    [epoch] = summary["epochs"]
    assert epoch["epoch"] == 1 and epoch["steps"] == 2
    figure = "test_reconstruction_loss" if model == "conv_autoencoder" else "test_accuracy"
    assert epoch[figure] >= 0
    assert (out / folder / f"{model}_{style}_loss.png").stat().st_size > 0


def test_kink_report_compares_the_kinks_twice(runs):
    result, _, _ = runs("kink_report.py")
    out = result.stdout
    assert out.startswith("mnist_cnn, batch 0 of 8 from synthetic")
    assert "Keras model as tf.function (the parity check's gradients)" in out
    assert "with grappler's arithmetic optimizer off in the Keras graph" in out
    assert out.count("  loss: legacy ") == 2 and out.count("worst relative gradient difference: ") == 2
    assert out.count("kink inputs (5 ops): ") == 2  # mnist_cnn: 2 ReLUs, 2 max-pools, fc1's ReLU


def test_accuracy_trace_scores_every_step_asked_for(runs):
    result, _, out = runs("accuracy_trace.py")
    trace = json.loads((out / "trace" / "accuracy_trace.json").read_text())
    assert trace["model"] == "mnist_cnn" and trace["start"] == "parity start"
    assert {style: list(steps) for style, steps in trace["test_accuracy"].items()} == \
        {"legacy": ["2", "4"], "function": ["2", "4"]}
    assert (out / "trace" / "accuracy_trace.png").stat().st_size > 0
    assert "function: " in result.stdout and "over steps 2-4" in result.stdout


def test_profile_times_every_candidate(runs):
    result, _, out = runs("profile_mnist_step.py")
    profile = json.loads((out / "profile.json").read_text())
    assert profile["batch_size"] == 8 and profile["steps"] == 2
    assert set(profile["ms_per_step"]) == {
        "legacy_feed_dict", "legacy_tf_data", "function", "function_numpy_inputs", "function_fused_adam", "eager",
        "eager_forward", "eager_forward_and_gradient", "eager_apply_gradients"}
    assert all(ms > 0 for ms in profile["ms_per_step"].values())
    assert profile["traces_over_batches_64_64_16_64_48"]["reduce_retracing"] >= 1
    assert f"wrote {out / 'profile.json'}" in result.stdout
