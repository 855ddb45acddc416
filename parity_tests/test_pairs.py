"""A user's own pair, as a user brings it: the example's 2017 TF1 script (default variable names,
v2 behaviour disabled at import, dropout through keep_prob, a Saver checkpoint and its .meta) and
its hand-written Keras 3 port, through the code route, the saved-graph route, the pytest plugin,
convert and map; and the port bugs and bad input a user would plant."""
import json
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from parity import cli

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "deep_mnist"
PAIR, PAIR_META = EXAMPLE / "pair.toml", EXAMPLE / "pair_meta.toml"
# Shorter than the example's own run: 5 teacher-forced steps and 120 free-running ones still take
# Fashion-MNIST well past twice chance.
FAST = ["--steps", "5", "--accuracy-steps", "120"]


def run_cli(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def saved_script(tmp_path_factory):
    """What the 2017 script leaves: a Saver checkpoint and its .meta after a few training steps. It
    is written in a child process, as the script disables v2 behaviour when imported."""
    import subprocess

    folder = tmp_path_factory.mktemp("script")
    code = textwrap.dedent(f"""
        import sys
        import numpy as np
        sys.path.insert(0, {str(EXAMPLE)!r})
        import deep_mnist_tf1
        rng = np.random.default_rng(0)
        x = rng.uniform(size=(150, 784)).astype(np.float32)
        y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 150)]
        deep_mnist_tf1.train_and_save({str(folder / "model")!r}, x, y, steps=3)
    """)
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=300)
    return folder / "model"


def test_the_example_passes_through_the_pytest_plugin(tf_parity):
    report = tf_parity(config=str(PAIR), steps=5)  # the example's 300 free-running steps, its tolerance's
    assert [c["status"] for c in report["checks"]] == ["passed"] * 6
    assert report["styles"]["legacy"]["trainable_params"] == 3_274_634 == report["styles"]["eager"]["trainable_params"]
    assert report["settings"]["randomness_held_fixed"] == {"legacy": ["Placeholder_2:0=1.0"], "eager": ["dropout"]}
    assert report["checks"][1]["layers"] == 6


def test_the_example_passes_through_its_saved_graph(capsys, tmp_path):
    """README's commands: the script trains and saves (a few steps here), then the pair_meta.toml run."""
    import subprocess

    subprocess.run([sys.executable, "examples/deep_mnist/deep_mnist_tf1.py", "--steps", "3"], cwd=ROOT, check=True,
                   capture_output=True, timeout=300)
    path = tmp_path / "meta.json"
    code, out, err = run_cli(capsys, "parity", "--config", PAIR_META, *FAST, "--json", path)
    assert code == 0, out + err
    assert "6 of 6 checks passed" in out
    report = json.loads(path.read_text())
    assert report["model"] == "deep_mnist_meta" and report["checks"][1]["layers"] == 6
    # The file names the checkpoint, which convert then converts.
    out_path = tmp_path / "meta.weights.h5"
    code, out, err = run_cli(capsys, "convert", "--config", PAIR_META, "--out", out_path)
    assert code == 0 and out_path.is_file(), err
    assert "converted 8 variables of deep_mnist_meta from " in out and "outputs on 64 random inputs agree" in out


@pytest.fixture
def buggy_port(tmp_path, monkeypatch):
    """A module of port bugs beside the test, importable by the pair."""
    (tmp_path / "buggy_port.py").write_text(textwrap.dedent("""
        import keras
        from keras import layers

        def adam_with_keras_defaults():
            return keras.optimizers.Adam(learning_rate=1e-4)   # epsilon 1e-7, TF1's is 1e-8

        def without_the_fc1_relu():
            inputs = keras.Input(shape=(784,))
            x = layers.Reshape((28, 28, 1))(inputs)
            x = layers.Conv2D(32, 5, padding="same", activation="relu", name="conv1")(x)
            x = layers.MaxPool2D(2, padding="same", name="pool1")(x)
            x = layers.Conv2D(64, 5, padding="same", activation="relu", name="conv2")(x)
            x = layers.MaxPool2D(2, padding="same", name="pool2")(x)
            x = layers.Dense(1024, name="fc1")(layers.Flatten()(x))
            return keras.Model(inputs, layers.Dense(10, name="fc2")(layers.Dropout(0.5)(x)))

        def a_smaller_model():
            inputs = keras.Input(shape=(784,))
            return keras.Model(inputs, layers.Dense(10, name="fc")(inputs))
    """))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("bug, flags, check, where", [
    ("Keras' default Adam epsilon", ["--optimizer", "buggy_port:adam_with_keras_defaults"], "training_steps",
     "step 1: after the update"),
    ("a missing ReLU", ["--eager", "buggy_port:without_the_fc1_relu", "--optimizer",
                        "deep_mnist_keras:make_optimizer"], "forward", "first at layer fc1"),
    ("a conv kernel transposed by the map", ["--map", "map.json"], "forward", "first at layer conv1"),
])
def test_a_planted_port_bug_fails_naming_the_check_and_the_layer(capsys, buggy_port, bug, flags, check, where):
    (buggy_port / "map.json").write_text(json.dumps({"Variable": {"to": "conv1/kernel", "transpose": [1, 0, 2, 3]}}))
    path = buggy_port / "r.json"
    code, out, err = run_cli(capsys, "parity", "--config", PAIR, *flags, *FAST, "--json", path)
    assert code == cli.EXIT_FAILED, out + err
    failed = [c for c in json.loads(path.read_text())["checks"] if c["status"] == "failed"]
    assert failed and failed[0]["name"] == check and where in failed[0]["message"], failed


def test_a_square_dense_kernel_transposed_by_the_map_fails_the_forward_check_at_its_layer(capsys, plain_legacy):
    (plain_legacy / "map.json").write_text(json.dumps({"Variable_2": {"to": "h2/kernel", "transpose": [1, 0]}}))
    path = plain_legacy / "r.json"
    code, out, err = run_cli(capsys, "parity", *INLINE, "--legacy", "small_tf1:build_square", "--eager",
                             "small_keras:square", "--map", "map.json", "--json", path)
    assert code == cli.EXIT_FAILED, out + err
    checks = {c["name"]: c for c in json.loads(path.read_text())["checks"]}
    assert checks["parameters"]["status"] == "passed" and checks["layer_shapes"]["status"] == "passed"
    assert checks["forward"]["status"] == "failed" and "first at layer h2" in checks["forward"]["message"]


def test_a_map_that_transposes_a_dense_kernel_out_of_shape_lists_both_sides(capsys, buggy_port):
    (buggy_port / "map.json").write_text(json.dumps({"Variable_6": {"to": "fc2/kernel", "transpose": [1, 0]}}))
    code, _, err = run_cli(capsys, "parity", "--config", PAIR, "--map", "map.json", *FAST)
    assert code == 2 and err.count("\n") == 1
    assert "Variable_6 (1024, 10) transposed by [1, 0] to (10, 1024) would go to fc2/kernel (1024, 10)" in err
    assert "legacy | Keras, in order: 0: Variable (5, 5, 1, 32) | conv1/kernel (5, 5, 1, 32)" in err


def test_convert_gives_weights_plain_keras_loads_with_the_graphs_outputs(capsys, tmp_path, saved_script):
    import keras

    from parity import config, datasets, pair, tolerances

    out = tmp_path / "deep_mnist.weights.h5"
    code, printed, err = run_cli(capsys, "convert", "--config", PAIR, "--checkpoint", saved_script, "--out", out)
    assert code == 0, printed + err
    assert "converted 8 variables of deep_mnist" in printed
    sys.path.insert(0, str(EXAMPLE))
    import deep_mnist_keras

    model = deep_mnist_keras.build_model()
    model.load_weights(str(out))
    images = datasets.load("fashion_mnist").x_test[:256].reshape(256, 784)
    spec = config.pair_spec({**config.read(PAIR), "checkpoint": str(saved_script)})
    legacy = pair.legacy_runner(spec.pair_legacy)
    try:
        expected = legacy.forward(images)
    finally:
        legacy.close()
    diff = np.max(np.abs(model.predict(images, verbose=0) - expected))
    assert diff <= tolerances.DEFAULT.forward_atol.value


def test_convert_with_only_the_port_and_a_map(capsys, tmp_path, saved_script):
    names = ["conv1/kernel", "conv1/bias", "conv2/kernel", "conv2/bias", "fc1/kernel", "fc1/bias", "fc2/kernel",
             "fc2/bias"]
    legacy = ["Variable"] + [f"Variable_{i}" for i in range(1, 8)]
    (tmp_path / "map.json").write_text(json.dumps(dict(zip(legacy, names))))
    out = tmp_path / "w.weights.h5"
    code, printed, err = run_cli(capsys, "convert", "--eager", "examples.deep_mnist.deep_mnist_keras:build_model",
                                 "--map", tmp_path / "map.json", "--checkpoint", saved_script, "--out", out)
    assert code == 0, printed + err
    assert "by the map" in printed and "outputs were not compared" in printed and out.exists()


def test_convert_reads_a_default_named_checkpoint_of_seed_001s_graph(capsys, tmp_path):
    """The document's own script made its weights with tf.Variable: Variable, Variable_1, ...; a plain
    Saver() stores them with Adam's slots. The built-in model's scoped names then match none."""
    import tensorflow as tf

    shapes = [(5, 5, 1, 16), (16,), (5, 5, 16, 36), (36,), (1764, 128), (128,), (128, 10), (10,)]
    graph = tf.Graph()
    with graph.as_default():
        variables = [tf.compat.v1.Variable(tf.random.truncated_normal(s, stddev=0.05)) for s in shapes]
        loss = tf.add_n([tf.reduce_sum(v ** 2) for v in variables])
        train = tf.compat.v1.train.AdamOptimizer(1e-4).minimize(loss)
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            session.run(train)
            saver.save(session, str(tmp_path / "seed001"), write_meta_graph=False)
    code, out, err = run_cli(capsys, "convert", "--model", "mnist_cnn", "--checkpoint", tmp_path / "seed001",
                             "--out", tmp_path / "w.weights.h5")
    assert code == 0, out + err
    assert "converted 8 variables of mnist_cnn" in out


def test_map_prints_the_pairing_side_by_side(capsys):
    code, out, err = run_cli(capsys, "map", "--config", PAIR)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[1].startswith("Variable (5, 5, 1, 32)") and "conv1/kernel (5, 5, 1, 32)" in lines[1]
    assert "Variable_7 (10,)" in lines[-1] and "fc2/bias (10,)" in lines[-1] and lines[-1].endswith("order")


@pytest.fixture
def plain_legacy(tmp_path, monkeypatch):
    """A small TF1 builder that leaves v2 behaviour alone, so it can run in this process."""
    (tmp_path / "small_tf1.py").write_text(textwrap.dedent("""
        import tensorflow as tf
        v1 = tf.compat.v1

        def build():
            x = v1.placeholder(tf.float32, [None, 784])
            y = v1.placeholder(tf.float32, [None, 10])
            w = v1.Variable(v1.truncated_normal([784, 10], stddev=0.1))
            b = v1.Variable(v1.zeros([10]))
            logits = tf.matmul(x, w) + b
            loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits))
            return {"inputs": x, "labels": y, "logits": logits, "loss": loss,
                    "train_op": v1.train.GradientDescentOptimizer(0.1).minimize(loss)}

        def wrong():
            return 42

        def layers_of_keras_2():
            x = v1.placeholder(tf.float32, [None, 784])
            return v1.layers.dense(x, 10)  # gone with Keras 3

        def build_square():
            x = v1.placeholder(tf.float32, [None, 784])
            y = v1.placeholder(tf.float32, [None, 10])
            w1 = v1.Variable(v1.truncated_normal([784, 32], stddev=0.05))
            b1 = v1.Variable(v1.zeros([32]))
            w2 = v1.Variable(v1.truncated_normal([32, 32], stddev=0.2))
            b2 = v1.Variable(v1.zeros([32]))
            w3 = v1.Variable(v1.truncated_normal([32, 10], stddev=0.2))
            b3 = v1.Variable(v1.zeros([10]))
            h1 = tf.nn.relu(tf.matmul(x, w1) + b1)
            h2 = tf.nn.relu(tf.matmul(h1, w2) + b2)
            logits = tf.matmul(h2, w3) + b3
            loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits))
            return {"inputs": x, "labels": y, "logits": logits, "loss": loss,
                    "train_op": v1.train.AdamOptimizer(1e-3).minimize(loss),
                    "endpoints": {"h1": h1, "h2": h2, "out": logits}}

        def build_with_keep_prob():
            x = v1.placeholder(tf.float32, [None, 784])
            y = v1.placeholder(tf.float32, [None, 10])
            keep = v1.placeholder(tf.float32)
            w = v1.Variable(v1.truncated_normal([784, 10], stddev=0.1))
            b = v1.Variable(v1.zeros([10]))
            logits = tf.matmul(v1.nn.dropout(x, keep), w) + b
            loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits))
            return {"inputs": x, "labels": y, "logits": logits, "loss": loss,
                    "train_op": v1.train.GradientDescentOptimizer(0.1).minimize(loss)}
    """))
    (tmp_path / "small_keras.py").write_text(textwrap.dedent("""
        import keras

        def build():
            inputs = keras.Input(shape=(784,))
            return keras.Model(inputs, keras.layers.Dense(10, name="fc")(inputs))

        def square():
            inputs = keras.Input(shape=(784,))
            h1 = keras.layers.Dense(32, activation="relu", name="h1")(inputs)
            h2 = keras.layers.Dense(32, activation="relu", name="h2")(h1)
            return keras.Model(inputs, keras.layers.Dense(10, name="out")(h2))

        def raises():
            raise ValueError("the port's own bug")

        def conv():
            inputs = keras.Input(shape=(784,))
            x = keras.layers.Reshape((28, 28, 1))(inputs)
            x = keras.layers.Conv2D(4, 3, name="c")(x)
            return keras.Model(inputs, keras.layers.Dense(10)(keras.layers.Flatten()(x)))
    """))
    arrays = {"x_train": np.zeros((4, 784), np.float32), "y_train": np.zeros(4, np.int64),
              "x_test": np.zeros((4, 784), np.float32)}
    np.savez(tmp_path / "no_y_test.npz", **arrays)
    monkeypatch.chdir(tmp_path)
    return tmp_path


INLINE = ["--legacy-process", "inline", "--dataset", "synthetic", *FAST]


@pytest.mark.parametrize("argv, message", [
    (["--legacy", "no_such_module:build", "--eager", "small_keras:build"],
     "--legacy no_such_module:build: no module named 'no_such_module'"),
    (["--legacy", "small_tf1:biuld", "--eager", "small_keras:build"],
     "--legacy small_tf1:biuld: module small_tf1 has no 'biuld'; did you mean build"),
    (["--legacy", "small_tf1:wrong", "--eager", "small_keras:build"],
     "small_tf1:wrong returned int without 'inputs'"),
    (["--legacy", "small_tf1:build", "--eager", "small_keras:nothing"], "module small_keras has no 'nothing'"),
    (["--legacy", "small_tf1:layers_of_keras_2", "--eager", "small_keras:build"],
     "--legacy small_tf1:layers_of_keras_2 raised AttributeError: `dense` is not available with Keras 3."),
    (["--legacy", "small_tf1:build", "--eager", "small_keras:raises"],
     "--eager small_keras:raises raised ValueError: the port's own bug (at "),
    (["--legacy", "small_tf1:build", "--eager", "small_keras:build", "--map", "map.json"],
     "the map names legacy variable 'W', which the graph does not have"),
    (["--legacy", "small_tf1:build", "--eager", "small_keras:conv"],
     "the legacy graph has 2 variables and the Keras model 4 weights; legacy | Keras, in order: "
     "0: Variable (784, 10) | c/kernel (3, 3, 1, 4)"),
    (["--legacy", "small_tf1:build_with_keep_prob", "--eager", "small_keras:build"],
     "the legacy graph needs values for Placeholder_2:0 (float32 of any shape)"),
    (["--legacy", "small_tf1:build", "--eager", "small_keras:build", "--dataset", "no_y_test.npz"],
     "no_y_test.npz: missing y_test"),
    (["--legacy", "small_tf1:build", "--keras-loss", "hinge", "--eager", "small_keras:build"],
     "--keras-loss 'hinge': choose one of softmax_cross_entropy"),
])
def test_bad_pair_input_is_one_line_exit_2_and_nothing_written(capsys, plain_legacy, argv, message):
    (plain_legacy / "map.json").write_text(json.dumps({"W": "fc/kernel"}))
    code, _, err = run_cli(capsys, "parity", *INLINE, *argv, "--json", plain_legacy / "out" / "r.json")
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert message in err, err
    assert not (plain_legacy / "out").exists()


def test_a_tensor_name_not_in_the_saved_graph_lists_the_nearest(capsys, saved_script):
    code, _, err = run_cli(capsys, "parity", "--config", PAIR_META, "--legacy-meta", f"{saved_script}.meta",
                           "--checkpoint", saved_script, "--logits", "add_9:0", *FAST)
    assert code == 2 and err.count("\n") == 1
    assert "--logits add_9:0: no such tensor in the graph; the nearest are add_3:0" in err


def test_inspect_finds_the_names_pair_meta_toml_gives(capsys, saved_script):
    """The 2017 script's default names, found from its .meta alone."""
    from parity import config

    code, out, err = run_cli(capsys, "inspect", f"{saved_script}.meta")
    assert code == 0, err
    given = config.read(PAIR_META)
    for key in ("inputs", "labels", "logits", "loss", "train-op"):
        assert f"{key:<10} {given[key]} " in out, (key, out)
    assert '# "Placeholder_2:0" = 1.0' in out  # keep_prob, found as a float scalar placeholder


def test_a_small_pair_in_this_process_infers_its_optimizer_and_loss(capsys, plain_legacy):
    path = plain_legacy / "r.json"
    code, out, err = run_cli(capsys, "parity", *INLINE, "--legacy", "small_tf1:build", "--eager", "small_keras:build",
                             "--json", path)
    assert code == 0, out + err
    settings = json.loads(path.read_text())["settings"]
    assert settings["optimizer"] == "sgd (learning_rate 0.1)"


def test_randomness_nothing_switches_off_is_named_not_blamed_on_kinks(capsys, plain_legacy):
    """keep_prob fed 0.5 in every run: the legacy graph's dropout stays on, and the checks say why
    they cannot judge it instead of failing with another reason."""
    path = plain_legacy / "r.json"
    code, out, err = run_cli(capsys, "parity", *INLINE, "--legacy", "small_tf1:build_with_keep_prob",
                             "--feed", "Placeholder_2:0=0.5", "--eager", "small_keras:build", "--json", path)
    assert code == cli.EXIT_FAILED, out + err
    checks = {c["name"]: c for c in json.loads(path.read_text())["checks"]}
    assert checks["gradients"]["status"] == "not_informative"
    assert "the legacy graph gives other values on the same batch a second time" in checks["gradients"]["message"]
    assert "dropout" in checks["gradients"]["message"]


def test_bench_times_the_pair_in_its_styles(capsys, tmp_path):
    """The legacy side's steps run in its own process (the script disables v2 behaviour); only
    their times come back, and every ratio is to them."""
    from parity import bench

    path = tmp_path / "bench.json"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bench.machine, "PEAK_SIZES", (128,))
        patch.setattr(bench.machine, "PEAK_SECONDS", 0.05)
        code, out, err = run_cli(capsys, "bench", "--config", PAIR, "--styles", "function,fit", "--batch-size", 8,
                                 "--steps", 3, "--warmup", 1, "--json", path)
    assert code == 0, out + err
    report = json.loads(path.read_text())
    assert report["settings"]["models"] == ["deep_mnist"]
    assert report["settings"]["styles"] == ["legacy_feed_dict", "function", "fit"]
    rows = {(r["style"], r["phase"]): r for r in report["results"]}
    assert set(rows) == {(s, p) for s in ("legacy_feed_dict", "function", "fit") for p in ("train", "infer")}
    for (style, phase), row in rows.items():
        assert not row.get("error") and row["steps"] == 3 and row["ms_per_step"] > 0, row
        assert row["ratio"] == 1.0 if style == "legacy_feed_dict" else row["ratio"] > 0
    assert rows["legacy_feed_dict", "train"]["peak_rss_mb"] is None  # measured in another process: not claimed
    assert report["flops"]["deep_mnist"]["train"]["flops"] is None
    assert "deep_mnist" in out and path.with_name("bench_ratios.png").is_file()


def test_bench_refuses_the_tf_data_style_for_a_pair(capsys, tmp_path):
    code, out, err = run_cli(capsys, "bench", "--config", PAIR, "--styles", "legacy_tf_data",
                             "--json", tmp_path / "b.json")
    assert code == 2 and "legacy_tf_data: a pair's own graph reads its placeholders" in err
    assert err.count("\n") == 1 and not list(tmp_path.iterdir())


def test_a_file_extends_another_and_replaces_its_legacy_route(tmp_path):
    from parity import config

    options = config.read(PAIR_META)
    assert options["tolerances"] == config.read(PAIR)["tolerances"] and "legacy" not in options
    assert options["legacy-meta"] == str(EXAMPLE / "checkpoints" / "model.meta")
    (tmp_path / "a.toml").write_text('extends = "b.toml"\neager = "m:f"\n')
    (tmp_path / "b.toml").write_text('extends = "a.toml"\n')
    with pytest.raises(config.ConfigError, match="extends a.toml again, in a loop"):
        config.read(tmp_path / "a.toml")
    (tmp_path / "c.toml").write_text('extends = "missing.toml"\n')
    with pytest.raises(config.ConfigError, match="missing.toml"):
        config.read(tmp_path / "c.toml")
