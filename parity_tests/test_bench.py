"""`tf-parity bench` on tiny settings: the report's shape, the counted FLOPs, the tf.data graph, the
one-line errors. Timings are never asserted: the figures of a two-step run mean nothing."""
import contextlib
import importlib.util
import inspect
import io
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from parity import bench, cli, registry
from parity.runners import GraphRunner

TINY_MODELS = ("mnist_cnn", "conv_autoencoder")
# The styles with a training loop over a batch stream, timed in the loop phase.
LOOP_STYLES = ("legacy_feed_dict", "eager", "function", "xla", "fit", "jax_function")
# Every style, the JAX ones where JAX is installed (the test extra installs it).
EXPECTED = sorted((m, s, p) for m in TINY_MODELS for s in bench.default_styles() for p in bench.PHASES
                  if p != "loop" or s in LOOP_STYLES)
HAS_JAX = importlib.util.find_spec("jax") is not None
ROW_NUMBERS = ("ms_per_step", "ms_p10", "ms_p25", "ms_p75", "ms_p90", "ratio", "images_per_s", "gflops_per_s",
               "peak_share", "warmup_s", "build_s", "peak_rss_mb")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """`tf-parity bench --model all` over the two small models, batch 4, 2 timed steps after 1."""
    path = tmp_path_factory.mktemp("bench") / "bench.json"
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(registry, "MODELS", {name: registry.MODELS[name] for name in TINY_MODELS})
        patch.setattr(bench.machine, "PEAK_SIZES", (128, 256))
        patch.setattr(bench.machine, "PEAK_SECONDS", 0.05)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(["bench", "--model", "all", "--batch-size", "4", "--steps", "2", "--warmup", "1",
                             "--json", str(path)])
    return code, path, out.getvalue(), err.getvalue()


def test_bench_writes_one_row_per_model_style_and_phase(tiny_run):
    code, path, _, err = tiny_run
    assert code == 0, err
    report = json.loads(path.read_text())
    assert {"command", "device", "tensorflow", "keras", "threads", "settings", "peak", "flops",
            "results"} <= set(report)
    assert report["command"].startswith("tf-parity bench --model all --batch-size 4 --steps 2 --warmup 1")
    assert set(report["threads"]) >= {"intra_op", "inter_op", "cpu_count"}
    assert report["settings"]["per_model"]["mnist_cnn"] == {"batch_size": 4, "steps": 2, "warmup": 1}
    assert report["peak"]["gflops_per_s"] > 0 and set(report["peak"]["by_size"]) == {"128", "256"}
    keys = [(r["model"], r["style"], r["phase"]) for r in report["results"]]
    assert sorted(keys) == EXPECTED
    assert report["settings"]["multi_steps"] == bench.MULTI_STEPS
    assert not HAS_JAX or report["jax_process"]["keras_backend"] == "jax"
    for row in report["results"]:
        where = f"{row['model']} {row['style']} {row['phase']}"
        assert "error" not in row, where
        in_jax_process = row["style"] in bench.JAX_STYLES
        for key in ROW_NUMBERS:
            if key == "peak_rss_mb" and in_jax_process:  # another process's memory: not claimed
                assert row[key] is None and row["rss_growth_mb"] is None, where
                continue
            assert isinstance(row[key], float) and math.isfinite(row[key]) and row[key] > 0, f"{where}: {key}"
        if not in_jax_process:
            assert isinstance(row["rss_growth_mb"], float) and row["rss_growth_mb"] >= 0, where
        assert row["batch_size"] == 4 and row["steps"] == 2, where
        assert row["ms_p10"] <= row["ms_per_step"] <= row["ms_p90"], where
        assert row["warmup_s"] >= row["build_s"], where
        counted = "train" if row["phase"] == "loop" else row["phase"]  # the loop trains
        assert row["flops_per_step"] == report["flops"][row["model"]][counted]["flops"], where
        if row["style"] == bench.BASELINE:
            assert row["ratio"] == 1.0, where


def test_bench_counts_more_flops_to_train_than_to_infer(tiny_run):
    report = json.loads(tiny_run[1].read_text())
    for model in TINY_MODELS:
        counts = report["flops"][model]
        assert counts["batch_size"] == 4
        assert counts["train"]["flops"] > 2 * counts["infer"]["flops"] > 0, model
        assert "ResourceApplyAdam" in counts["train"]["uncounted_ops"], model


def test_bench_prints_the_table_and_draws_the_ratios(tiny_run):
    _, path, out, err = tiny_run
    lines = out.splitlines()
    assert "ms/step (p10-p90)" in lines[1] and "ratio" in lines[1] and "peak MB" in lines[1]
    rows = [line for line in lines if line.startswith(TINY_MODELS)]
    assert len(rows) == len(EXPECTED)
    assert any(line.split()[:3] == ["mnist_cnn", "loop", "legacy_feed_dict"] and " 1.00 " in line for line in rows)
    assert any(line.split()[:3] == ["mnist_cnn", "train", "legacy_feed_dict"] and " 1.00 " in line for line in rows)
    png = path.with_name("bench_ratios.png")
    assert lines[-1] == f"wrote {path} and {png}"
    assert png.stat().st_size > 5000
    # On a CPU the loop-compiled styles are left out of a default run, and the table says so.
    assert lines[-2].startswith(f"left out on a CPU: {', '.join(bench.LOOP_COMPILED)} (XLA's CPU backend")
    assert json.loads(path.read_text())["left_out"]["styles"] == list(bench.LOOP_COMPILED)
    assert not set(bench.LOOP_COMPILED) & {s for _, s, _ in EXPECTED}
    for model in TINY_MODELS:
        for style in bench.default_styles():
            assert f"{model} {style}: built in" in err


# What the profiler counts for the MNIST CNN, per image (batch size multiplies every term):
# conv 2*H_out*W_out*k*k*C_in*C_out; matmul 2*in*out; one FLOP per element for the bias adds;
# kernel area times output elements for max-pool. It leaves out, at zero: ReLU and its gradient,
# the softmax cross-entropy, the reshapes, and Adam's update (ResourceApplyAdam).
CONV = 2 * 28 * 28 * 5 * 5 * 1 * 16 + 2 * 14 * 14 * 5 * 5 * 16 * 36
MATMUL = 2 * 1764 * 128 + 2 * 128 * 10
BIAS_ADDS = 28 * 28 * 16 + 14 * 14 * 36 + 128 + 10
MAX_POOL = 2 * 2 * (14 * 14 * 16 + 7 * 7 * 36)


def test_flops_of_the_mnist_cnn_match_the_analytic_count():
    batch = 8
    counts = bench.count_flops(registry.get("mnist_cnn"), batch)
    infer = counts["infer"]
    # Inference: the four op types above, counted exactly (the profiler uses the same formulas).
    assert infer["by_op"] == {"Conv2D": batch * CONV, "MatMul": batch * MATMUL, "AddV2": batch * BIAS_ADDS,
                              "MaxPool": batch * MAX_POOL}
    assert infer["flops"] == batch * (CONV + MATMUL + BIAS_ADDS + MAX_POOL)
    assert {"Relu"} <= set(infer["uncounted_ops"])

    train = counts["train"]
    # Training: each conv once forward, once for its filter's gradient and once for its input's
    # gradient; the first conv's input gradient (with respect to the images) is wasted work, but
    # the legacy train op computes it (gate_gradients=GATE_OP groups each op's gradients). Each
    # matmul once forward and twice backward (input and weights).
    heavy = {"Conv2D": batch * CONV, "Conv2DBackpropFilter": batch * CONV, "Conv2DBackpropInput": batch * CONV,
             "MatMul": 3 * batch * MATMUL}
    assert {k: train["by_op"][k] for k in heavy} == heavy
    # The rest: bias adds and their gradients' sums, max-pool and its gradient, the loss's few
    # elementwise ops; about 0.4% of the step.
    assert train["flops"] == pytest.approx(sum(heavy.values()), rel=0.01)
    assert train["flops"] > sum(heavy.values())
    assert {"ReluGrad", "ResourceApplyAdam", "SoftmaxCrossEntropyWithLogits"} <= set(train["uncounted_ops"])


@pytest.mark.parametrize("model", ["mnist_cnn", "conv_autoencoder", "vgg13"])
def test_tf_data_graph_computes_what_feed_dict_computes(model):
    spec = registry.get(model)
    x, y = bench.synthetic_batch(spec, 4, seed=1)
    fed = GraphRunner.from_spec(spec, seed=0)
    from_data = bench.styles.legacy_tf_data_runner(spec, x, y, seed=0)
    from_data.set_weights(fed.get_weights())
    m = from_data.model
    training = {m.training: True} if m.training is not None else {}
    # The same kernels on the same numbers: equal to the last bit, before and after one step.
    assert from_data.session.run(m.loss, training) == fed.loss(x, y)
    _, loss = from_data.session.run([m.train_op, m.loss], training)
    assert loss == fed.train(iter([(x, y)]), 1)[0]
    for name, a, b in zip(fed.names, fed.get_weights(), from_data.get_weights()):
        np.testing.assert_array_equal(a, b, err_msg=name)
    fed.close()
    from_data.close()


def test_every_legacy_builder_takes_its_inputs_as_tensors():
    for spec in registry.MODELS.values():
        parameter = inspect.signature(spec.legacy().build).parameters.get("inputs")
        assert parameter is not None and parameter.default is None, spec.name


def test_a_failing_style_leaves_the_baseline_and_a_failed_row(monkeypatch):
    build = bench.styles.build

    def build_or_fail(spec, style, *args):
        if style == "xla":
            raise RuntimeError("no XLA here\nsecond line")
        return build(spec, style, *args)

    monkeypatch.setattr(bench.styles, "build", build_or_fail)
    config = bench.BenchConfig(models=("mnist_cnn",), styles=("xla",), batch_size=2, steps=1, warmup=1,
                               peak_sizes=(64,))
    report = bench.run(config)
    # The baseline runs unasked: every ratio is to it.
    assert report["settings"]["styles"] == ["legacy_feed_dict", "xla"]
    rows = {(r["style"], r["phase"]): r for r in report["results"]}
    # A style that failed to build has no loop row: only the styles with a loop have one.
    assert set(rows) == {(s, p) for s in ("legacy_feed_dict", "xla") for p in ("train", "infer")} | {
        ("legacy_feed_dict", "loop")}
    assert rows["legacy_feed_dict", "train"]["ratio"] == 1.0
    failed = rows["xla", "infer"]
    assert failed["error"].startswith("RuntimeError: no XLA here") and failed["ms_per_step"] is None
    assert "xla              failed: RuntimeError: no XLA here" in bench.format_table(report)


def test_each_model_brings_its_setting_and_options_override_it():
    vgg13 = registry.get("vgg13").bench
    assert vgg13 != registry.get("mnist_cnn").bench
    config = bench.BenchConfig(models=("vgg13",), steps=3)
    assert config.setting("vgg13") == bench.Setting(vgg13.batch_size, 3, vgg13.warmup)
    assert config.setting(registry.get("vgg13")) == config.setting("vgg13")


@pytest.mark.parametrize("argv, message", [
    (["bench", "--model", "lenet"], "unknown model 'lenet'; choose one of: all, mnist_cnn"),
    (["bench", "--model", "all", "--styles", "eager,graph"], "unknown style 'graph'; choose one of: legacy_feed_dict"),
    (["bench", "--model", "all", "--styles", ","], "--styles names no style"),
    (["bench", "--model", "mnist_cnn", "--steps", "0"], "--steps must be at least 1, got 0"),
    (["bench", "--model", "mnist_cnn", "--warmup", "0"], "--warmup must be at least 1, got 0"),
    (["bench", "--model", "mnist_cnn", "--batch-size", "-2"], "--batch-size must be at least 1, got -2"),
    (["bench"], "give --model (one of: mnist_cnn"),
    (["bench", "--legacy", "nowhere.module:build", "--eager", "nowhere.port:build"], "nowhere"),
])
def test_bench_usage_errors_are_one_line_and_exit_2(capsys, argv, message):
    code = cli.main(argv)
    _, err = capsys.readouterr()
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("tf-parity: error: ") and message in err


def test_bench_refuses_the_jax_backend_in_one_line(capsys, monkeypatch):
    from parity import runtime

    monkeypatch.setattr(runtime, "keras_backend", lambda: "jax")
    code = cli.main(["bench", "--model", "mnist_cnn", "--styles", "function_multi"])
    _, err = capsys.readouterr()
    assert code == 2 and err.count("\n") == 1
    assert "tf-parity bench runs on Keras' TensorFlow backend, not jax (unset KERAS_BACKEND)" in err


def test_timed_steps_alternate_between_styles(monkeypatch):
    """Drift on a shared machine must weigh on every style alike: the styles take turns."""
    calls = []

    class Recorder:
        def __init__(self, style):
            self.style = style

        def infer_step(self):
            calls.append((self.style, "infer"))

        def train_step(self):
            calls.append((self.style, "train"))
            return 1.0

        def close(self):
            pass

    monkeypatch.setattr(bench.styles, "build", lambda spec, style, x, y, seed, pair=None: Recorder(style))
    monkeypatch.setattr(bench.flops, "count_flops", lambda spec, batch: {p: {"flops": 10} for p in bench.PHASES})
    config = bench.BenchConfig(models=("mnist_cnn",), styles=("legacy_feed_dict", "eager"), steps=4, warmup=1)
    rows, _ = bench.bench_model(registry.get("mnist_cnn"), config, 100.0, bench.machine.Memory())
    timed = calls[4:]  # one warm-up step per style and phase comes first
    assert calls[:4] == [("legacy_feed_dict", "infer"), ("legacy_feed_dict", "train"),
                         ("eager", "infer"), ("eager", "train")]
    assert timed[:4] == [("legacy_feed_dict", "infer"), ("eager", "infer")] * 2
    assert len(timed) == 16 and all(r["steps"] == 4 for r in rows)


def test_function_multi_runs_several_steps_per_call_and_computes_the_function_style(monkeypatch):
    monkeypatch.setattr(bench.styles, "MULTI_STEPS", 3)
    spec = registry.get("mnist_cnn")
    x, y = bench.synthetic_batch(spec, 4, seed=1)
    multi = bench.styles.KerasStyle(spec, x, y, 0, "function_multi")
    single = bench.styles.KerasStyle(spec, x, y, 0, "function")
    single.runner.set_weights(multi.runner.get_weights())
    untimed, times = multi.multi("train", 5)
    # Two calls, of 3 and 2 steps: each call's time is shared by its steps. Each length's first
    # call (its trace) ran before, untimed: 10 steps trained in all.
    assert len(times) == 5 and len(set(times[:3])) == 1 and len(set(times[3:])) == 1 and multi.trained == 10
    assert untimed > 0 and multi.multi("train", 3)[0] == 0.0 and multi.trained == 13
    for _ in range(13):
        single.train_step()
    for name, a, b in zip(single.runner.names, single.runner.get_weights(), multi.runner.get_weights()):
        np.testing.assert_array_equal(a, b, err_msg=name)
    _, times = multi.multi("infer", 4)
    assert len(times) == 4


def test_the_loop_phase_trains_through_the_runner_on_a_stream_of_batches():
    spec = registry.get("mnist_cnn")
    x, y = bench.synthetic_batch(spec, 4)
    legacy = bench.styles.LegacyStyle(spec, x, y, 0, tf_data=False)
    fit = bench.styles.KerasStyle(spec, x, y, 0, "fit")
    assert legacy.loop(3)[1] and len(legacy.loop(3)[1]) == 3 and legacy.runner.step == 6
    setup, times = fit.loop(3)
    # fit's first batch (the call's set-up) is trained but not timed.
    assert len(times) == 3 and setup > 0 and fit.runner.step == 4
    assert not hasattr(bench.styles.LegacyStyle(spec, x, y, 0, tf_data=True), "loop")


def test_xla_multi_runs_the_xla_step_in_one_compiled_loop(monkeypatch):
    monkeypatch.setattr(bench.styles, "MULTI_STEPS", 3)
    spec = registry.get("mnist_cnn")
    x, y = bench.synthetic_batch(spec, 4, seed=1)
    multi = bench.styles.KerasStyle(spec, x, y, 0, "xla_multi")
    single = bench.styles.KerasStyle(spec, x, y, 0, "xla")
    single.runner.set_weights(multi.runner.get_weights())
    assert multi.runner.trainer.style == "xla" and not hasattr(multi, "loop")
    _, times = multi.multi("train", 3)
    assert len(times) == 3 and len(set(times)) == 1 and multi.trained == 6  # the untimed first call, then one
    xs, ys = np.stack([multi.runner._images(x)] * 3), np.stack([y] * 3)
    losses = multi.runner.trainer.train_steps(xs, ys)
    expected = [single.runner.trainer.train_step(xs[0], ys[0]) for _ in range(9)][-3:]
    # XLA compiles the loop's body as a module of its own, and orders some of the convolutions'
    # gradient sums otherwise than in the one-step module: after 9 steps the losses differ by a
    # float32 rounding or two (measured: 2.4e-7 at a loss of 2.36 after 2 steps), not more.
    np.testing.assert_allclose(losses, expected, rtol=1e-6)
    _, times = multi.multi("infer", 2)
    assert len(times) == 2


# Run on Keras' JAX backend (in its own process: the backend is fixed per process): JaxTrainer's
# scanned block against one jitted call per step, from the same weights, on 4 different batches.
JAX_SCAN_CHECK = """
import json, numpy as np
from parity import registry
from parity.bench import synthetic_batch
from parity.runners import KerasRunner
out = {}
for name in ("mnist_cnn",):
    spec = registry.get(name)
    scanned, stepped = (KerasRunner.from_spec(spec, style="function") for _ in range(2))
    stepped.set_weights(scanned.get_weights())
    batches = [synthetic_batch(spec, 4, seed=s) for s in range(4)]
    xs, ys = np.stack([scanned._images(x) for x, _ in batches]), np.stack([y for _, y in batches])
    blocks = KerasRunner.from_spec(spec, style="function")
    blocks.set_weights(scanned.get_weights())
    blocks.trainer.steps_per_call = 3
    # Blocks of 3: a scanned call of 3, then the 4th batch and a smaller one, each alone (two shapes).
    partial = (xs[0][:2], ys[0][:2])
    stream = iter([(x, y) for x, y in zip(xs, ys)] + [partial])
    out[name] = {"scanned": scanned.trainer.train_steps(xs, ys),
                 "stepped": [stepped.trainer.train_step(x, y) for x, y in zip(xs, ys)],
                 "weights": max(float(np.max(np.abs(a - b))) for a, b in zip(scanned.get_weights(),
                                                                             stepped.get_weights())),
                 "train": blocks.trainer.train(stream, 5)}
print("RESULT " + json.dumps(out))
"""


@pytest.mark.skipif(not HAS_JAX, reason="JAX is not installed")
def test_jax_scanned_steps_give_the_losses_of_one_call_per_step_and_train_runs_blocks_of_them():
    result = subprocess.run([sys.executable, "-c", JAX_SCAN_CHECK], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "KERAS_BACKEND": "jax"})
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.split("RESULT ", 1)[1])
    for name, check in out.items():
        # The same losses to the last bit over the 4 steps; the weights after them differ in the
        # last bits (measured: 1.5e-8 for mnist_cnn; 6.0e-8 for conv_autoencoder), as XLA compiles
        # the convolutions' gradients in the loop's body otherwise (JaxTrainer's docstring).
        assert check["scanned"] == check["stepped"], name
        assert 0 <= check["weights"] < 2e-7, name
        assert check["train"][:4] == check["stepped"] and len(check["train"]) == 5, name
        assert math.isfinite(check["train"][4]), name
