"""One test per entry of parity/pitfalls.py: each shows the two styles parting when the pitfall
is left in, and agreeing once it is ported as the catalogue says."""
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from parity import checks, pitfalls, registry, tolerances
from parity.runners import GraphRunner, KerasRunner
from parity.training_data import prepare_data
from parity.runtime import import_tensorflow

tf = import_tensorflow()
import keras  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SPEC = registry.get("mnist_cnn")


def run_python(code):
    """Runs `code` in a fresh interpreter (for process-wide TensorFlow switches)."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=300, env={"TF_CPP_MIN_LOG_LEVEL": "2", "PATH": "/usr/bin:/bin"})


def test_catalogue_entries_each_have_a_test():
    import ast

    for p in pitfalls.CATALOGUE:
        path, name = p.test.split("::")
        tree = ast.parse((ROOT / path).read_text())
        assert name in {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}, f"pitfall {p.id}: no {p.test}"
        assert p.legacy and p.eager and p.symptom and p.port


def test_pitfalls_markdown_is_generated_from_the_catalogue():
    assert (ROOT / "PITFALLS.md").read_text() == pitfalls.markdown() + "\n", \
        "PITFALLS.md is stale: run `tf-parity pitfalls --markdown > PITFALLS.md`"


def test_every_pitfall_scan_detects_is_covered_by_a_scan_test():
    """An entry that claims detection needs a snippet in parity_tests/scan_corpus marking it
    (`# expect: key`), which test_scan.py's corpus tests scan; every other entry says why only a run shows it."""
    import ast
    import re

    corpus = ROOT / "parity_tests" / "scan_corpus"
    marked = {key.strip() for path in corpus.rglob("*.py")
              for keys in re.findall(r"#\s*expect:\s*([a-z0-9, -]+)", path.read_text()) for key in keys.split(",")}
    tree = ast.parse((ROOT / "parity_tests" / "test_scan.py").read_text())
    tests = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert {"test_scan_finds_each_corpus_pitfall_on_its_line", "test_scan_compares_a_tf1_tree_with_its_port"} <= tests
    for p in pitfalls.CATALOGUE:
        assert p.scan == "detected" or (p.scan.startswith("run: ") and len(p.scan) > 10), \
            f"pitfall {p.id}: scan={p.scan!r}"
        if p.scan == "detected":
            assert p.id in marked, f"pitfall {p.id} claims scan detects it, and no scan_corpus snippet expects it"


def _one_adam_step(legacy_epsilon=None, keras_epsilon=None, gradient=1e-7):
    """The update each optimizer makes to a weight whose gradient is `gradient`."""
    graph = tf.Graph()
    with graph.as_default():
        v = tf.compat.v1.Variable(1.0)
        kwargs = {} if legacy_epsilon is None else {"epsilon": legacy_epsilon}
        step = tf.compat.v1.train.AdamOptimizer(1e-3, **kwargs).apply_gradients([(tf.constant(gradient), v)])
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            session.run(step)
            legacy = 1.0 - session.run(v)
    w = tf.Variable(1.0)
    kwargs = {} if keras_epsilon is None else {"epsilon": keras_epsilon}
    keras.optimizers.Adam(1e-3, **kwargs).apply_gradients([(tf.constant(gradient), w)])
    return legacy, 1.0 - float(w.numpy())


def _matched_training(epsilon, steps=10):
    data = prepare_data(SPEC, "digits")
    legacy = GraphRunner.from_spec(SPEC, seed=0)
    eager = KerasRunner.from_spec(SPEC, seed=0, epsilon=epsilon)
    records = checks.teacher_forced_steps(legacy, eager, data.batches(64, 0), steps)
    legacy.close()
    return checks.training_steps(legacy.names, legacy.trainable_mask, records, tolerances.DEFAULT)


def test_adam_epsilon():
    assert tf.compat.v1.train.AdamOptimizer(1e-3)._epsilon == 1e-8
    assert keras.optimizers.Adam().epsilon == 1e-7
    assert tf.compat.v1.train.RMSPropOptimizer(1e-3)._epsilon == 1e-10
    assert keras.optimizers.RMSprop().epsilon == 1e-7
    legacy, ported_default = _one_adam_step()
    assert abs(legacy - ported_default) / legacy > 0.3  # 0.91e-3 against 0.5e-3 for a gradient of 1e-7
    legacy, ported_matched = _one_adam_step(keras_epsilon=1e-8)
    assert ported_matched == pytest.approx(legacy, rel=1e-5)
    # On the model: with Keras' default epsilon the first update already parts the weights.
    unmatched = _matched_training(epsilon=1e-7)
    assert not unmatched.passed and unmatched.message.startswith("step 1: after the update")
    assert unmatched.figures["max_weight_diff_to_tolerance"] > 10
    matched = _matched_training(epsilon=1e-8)
    assert matched.passed, matched.message


def test_truncated_normal_stddev():
    assert tf.compat.v1.truncated_normal_initializer().stddev == 1.0
    assert keras.initializers.TruncatedNormal().get_config()["stddev"] == 0.05
    dense = keras.layers.Dense(4)
    assert isinstance(dense.kernel_initializer, keras.initializers.GlorotUniform)
    assert isinstance(dense.bias_initializer, keras.initializers.Zeros)
    legacy = GraphRunner.from_spec(SPEC, seed=0)
    eager = KerasRunner.from_spec(SPEC, seed=0)
    conv1_legacy, conv1_eager = legacy.get_weights()[0], eager.get_weights()[0]
    # Ported with TruncatedNormal(0.05): the same distribution (std 0.05 * 0.8796 when cut at 2 sigma).
    assert conv1_eager.std() == pytest.approx(conv1_legacy.std(), rel=0.15)
    # What a port with Keras' defaults starts conv1 from: U(-l, l), l = sqrt(6 / (25 + 400)), std l / sqrt(3).
    glorot = keras.initializers.GlorotUniform(seed=0)((5, 5, 1, 16)).numpy()
    assert glorot.std() == pytest.approx(np.sqrt(6 / 425) / np.sqrt(3), rel=0.1)
    assert glorot.std() > 1.4 * conv1_legacy.std()
    legacy.close()


def test_input_data_removed():
    with pytest.raises(ModuleNotFoundError):
        import tensorflow.examples.tutorials.mnist  # noqa: F401
    from legacy_graph import input_data

    data = input_data.DataSet(np.zeros((10, 1, 1, 1), np.float32), np.arange(10), seed=0)
    data.next_batch(4), data.next_batch(4)
    # A naive `for i in range(0, n, batch)` replacement yields a short batch of 2 here; TF1 yields
    # 4, two from the old epoch and two from the reshuffled next one.
    assert len(data.next_batch(4)[1]) == 4 and data.epochs_completed == 1


def test_same_padding_asymmetric():
    x = tf.reshape(tf.range(16, dtype=tf.float32), [1, 4, 4, 1])
    k = tf.ones([3, 3, 1, 1])
    same = tf.nn.conv2d(x, k, strides=2, padding="SAME")
    symmetric = tf.nn.conv2d(tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]), k, strides=2, padding="VALID")
    bottom_right = tf.nn.conv2d(tf.pad(x, [[0, 0], [0, 1], [0, 1], [0, 0]]), k, strides=2, padding="VALID")
    assert same.shape == symmetric.shape == (1, 2, 2, 1)
    assert not np.allclose(same, symmetric)
    np.testing.assert_array_equal(same, bottom_right)
    layer = keras.layers.Conv2D(1, 3, strides=2, padding="same", use_bias=False)
    layer.build((None, 4, 4, 1))
    layer.kernel.assign(k)
    np.testing.assert_array_equal(layer(x), same)


def test_loss_reduction():
    labels = np.eye(3, dtype=np.float32)[[0, 1]]
    logits = np.zeros((2, 3), np.float32)
    weights = np.array([1.0, 0.0], np.float32)
    v1 = float(tf.compat.v1.losses.softmax_cross_entropy(labels, logits, weights=weights))
    k3 = float(keras.losses.CategoricalCrossentropy(from_logits=True)(labels, logits, sample_weight=weights))
    assert v1 == pytest.approx(np.log(3), rel=1e-6)          # divided by the one non-zero weight
    assert k3 == pytest.approx(np.log(3) / 2, rel=1e-6)      # divided by the batch of two
    unweighted = float(tf.compat.v1.losses.softmax_cross_entropy(labels, logits))
    assert unweighted == pytest.approx(float(keras.losses.CategoricalCrossentropy(from_logits=True)(labels, logits)))
    # from_logits=False clips a zero probability to 1e-7: the loss stays finite at -log(1e-7).
    probabilities = np.array([[1.0, 0.0, 0.0]], np.float32)
    clipped = float(keras.losses.CategoricalCrossentropy()(np.array([[0.0, 1.0, 0.0]]), probabilities))
    assert clipped == pytest.approx(-np.log(1e-7), rel=1e-3)


def test_tf_keras_is_keras3():
    assert tf.keras.__version__.startswith("3.")
    with pytest.raises(AttributeError, match="not available with Keras 3"):
        tf.compat.v1.layers.Dense(3)


def test_placeholder_needs_graph():
    with pytest.raises(RuntimeError, match="not compatible with eager execution"):
        tf.compat.v1.placeholder(tf.float32, [None, 3])
    with tf.Graph().as_default():
        assert tf.compat.v1.placeholder(tf.float32, [None, 3]).shape.as_list() == [None, 3]
    result = run_python("""
        import numpy as np, tensorflow as tf, keras
        tf.compat.v1.disable_eager_execution()
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        model.compile("adam", "mse")
        model.fit(np.zeros((4, 3)), np.zeros((4, 2)), verbose=0)
    """)
    assert result.returncode != 0
    assert "only supports Python-style iteration in eager mode" in result.stderr


def test_keras3_weights_format(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="fc")])
    with pytest.raises(ValueError, match="must end in `.weights.h5`"):
        model.save_weights(str(tmp_path / "model.ckpt"))
    graph = tf.Graph()
    with graph.as_default():
        kernel = tf.compat.v1.Variable(np.full((3, 2), 0.5, np.float32), name="fc/weights")
        bias = tf.compat.v1.Variable(np.full(2, 0.25, np.float32), name="fc/biases")
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            prefix = saver.save(session, str(tmp_path / "model.ckpt"))
    with pytest.raises(Exception):
        model.load_weights(prefix)
    from parity import transfer

    values = transfer.read_checkpoint(prefix, ["fc/weights", "fc/biases"], [(3, 2), (2,)])
    transfer.check_compatible(["fc/weights", "fc/biases"], [(3, 2), (2,)],
                              [w.path for w in model.weights], [tuple(w.shape) for w in model.weights])
    model.set_weights(values)
    np.testing.assert_allclose(model(np.ones((1, 3), np.float32)), [[1.75, 1.75]])
    assert kernel.name == "fc/weights:0" and bias.name == "fc/biases:0"


def test_fit_logs_running_mean():
    from eager_v2 import optimizers

    data = prepare_data(SPEC, "synthetic")
    start = KerasRunner.from_spec(SPEC, seed=0).get_weights()
    per_step = KerasRunner.from_spec(SPEC, seed=0, style="function")
    per_step.set_weights(start)
    losses = np.array(per_step.train(data.batches(16, 0), 4))
    fitted = KerasRunner.from_spec(SPEC, seed=0, style="fit")
    fitted.set_weights(start)
    logged = []

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            logged.append(float(logs["loss"]))

    batches = data.batches(16, 0)
    dataset = tf.data.Dataset.from_generator(lambda: (next(batches) for _ in range(4)), output_signature=(
        tf.TensorSpec((None, 28, 28, 1), tf.float32), tf.TensorSpec((None, 10), tf.float32)))
    fitted.model.compile(optimizer=optimizers.adam(SPEC.recipe.learning_rate, 1e-8), loss=SPEC.eager().make_loss())
    fitted.model.fit(dataset, epochs=1, steps_per_epoch=4, verbose=0, shuffle=False, callbacks=[Record()])
    running_means = np.cumsum(losses) / np.arange(1, 5)
    np.testing.assert_allclose(logged, running_means, rtol=1e-5)
    assert abs(logged[-1] - losses[-1]) > 1e-3  # the logged figure is not the step's loss


def test_float32_chaos():
    """The same legacy graph, started one float32 ulp apart, agrees for the first steps and then parts;
    teacher forcing keeps two styles on one trajectory, so their steps can be compared exactly."""
    data = prepare_data(SPEC, "digits")
    legacy = GraphRunner.from_spec(SPEC, seed=0)
    start = legacy.get_weights()
    base = np.array(legacy.train(data.batches(64, 0), 200))
    nudged = [np.nextafter(w, np.inf, dtype=np.float32) if i == 0 else w for i, w in enumerate(start)]
    legacy.set_weights(nudged)
    legacy.reset_optimizer()
    other = np.array(legacy.train(data.batches(64, 0), 200))
    diff = np.abs(base - other)
    assert diff[:10].max() <= tolerances.DEFAULT.step_loss_atol.value
    assert diff.max() > 1e-4  # measured 1.4e-3: no port could be held to 1e-5 there, nor reliably to 1e-3
    legacy.set_weights(start)
    legacy.reset_optimizer()
    eager = KerasRunner.from_spec(SPEC, seed=0)
    records = checks.teacher_forced_steps(legacy, eager, data.batches(64, 0), 200)
    legacy.close()
    forced = np.array([abs(r.loss_l - r.loss_e) for r in records])
    assert forced.max() <= tolerances.DEFAULT.step_loss_atol.value


def test_gpu_tf32_jit_auto():
    result = run_python("""
        import tensorflow as tf
        print(tf.config.experimental.tensor_float_32_execution_enabled())
        from parity.runtime import import_tensorflow
        import_tensorflow()
        print(tf.config.experimental.tensor_float_32_execution_enabled())
    """.replace("import tensorflow as tf", f"import sys; sys.path.insert(0, {str(ROOT)!r}); import tensorflow as tf", 1))
    assert result.stdout.split() == ["True", "False"], result.stderr
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile("adam", "mse")  # jit_compile="auto"
    accelerators = [d for d in tf.config.list_physical_devices() if d.device_type != "CPU"]
    assert model.jit_compile == bool(accelerators)


def test_determinism_xla_maxpool():
    result = run_python("""
        import tensorflow as tf
        tf.config.experimental.enable_op_determinism()
        x = tf.random.stateless_uniform([2, 4, 4, 1], seed=[1, 2])
        w = tf.Variable(tf.ones([3, 3, 1, 1]))

        @tf.function(jit_compile=True)
        def step(x):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(tf.nn.max_pool2d(tf.nn.conv2d(x, w, 1, "SAME"), 2, 2, "SAME"))
            return tape.gradient(loss, w)

        step(x)
    """)
    assert result.returncode != 0
    assert "MaxPool gradient ops do not yet have a deterministic XLA implementation" in result.stderr
    # Without op determinism (parity.runtime leaves it off on CPU) the same step compiles and runs.
    x = tf.random.stateless_uniform([2, 4, 4, 1], seed=[1, 2])
    w = tf.Variable(tf.ones([3, 3, 1, 1]))

    @tf.function(jit_compile=True)
    def step(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.nn.max_pool2d(tf.nn.conv2d(x, w, 1, "SAME"), 2, 2, "SAME"))
        return tape.gradient(loss, w)

    gradient = step(x)
    assert gradient is not None and np.all(np.isfinite(gradient))


def test_keras3_lr_keyword():
    with pytest.raises(ValueError, match="Argument\\(s\\) not recognized: \\{'lr': 0.0001\\}"):
        keras.optimizers.Adam(lr=1e-4)
    with pytest.warns(UserWarning, match="`decay` is no longer supported and will be ignored"):
        ignored = keras.optimizers.Adam(learning_rate=0.1, decay=0.5)
    assert float(ignored.learning_rate) == pytest.approx(0.1)
    with pytest.raises(ImportError, match="not supported in Keras 3"):
        keras.optimizers.legacy.Adam(learning_rate=1e-4)
    # Keras 2's decay: lr / (1 + decay * iterations), which InverseTimeDecay reproduces.
    schedule = keras.optimizers.schedules.InverseTimeDecay(0.1, decay_steps=1, decay_rate=0.5)
    assert [float(schedule(step)) for step in (0, 1, 4)] == pytest.approx([0.1, 0.1 / 1.5, 0.1 / 3])


def test_batchnorm_fused_variance():
    from legacy_graph import layers

    x = np.random.default_rng(0).normal(2.0, 3.0, (4, 2, 2, 3)).astype(np.float32)
    n = 4 * 2 * 2
    biased = np.var(x.reshape(-1, 3).astype(np.float64), axis=0)
    _, _, fused_variance = tf.compat.v1.nn.fused_batch_norm(x, tf.ones(3), tf.zeros(3), is_training=True)
    np.testing.assert_allclose(fused_variance, biased * n / (n - 1), rtol=1e-5)  # Bessel-corrected
    keras_bn = keras.layers.BatchNormalization(momentum=0.0)  # momentum 0: moving = this batch's
    keras_bn(x, training=True)
    np.testing.assert_allclose(keras_bn.moving_variance, biased, rtol=1e-5)
    graph = tf.Graph()
    with graph.as_default():
        out = layers.batch_norm(tf.constant(x), tf.constant(True), momentum=0.0, name="bn")
        updates = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            session.run([out, updates])
            moving = session.run(tf.compat.v1.global_variables("bn/moving_variance")[0])
    np.testing.assert_allclose(moving, biased, rtol=1e-5)  # the legacy tree's batch norm is Keras'


def _resnet_pair(run_update_ops, learning_rate=1e-5, image_shape=(16, 16, 3)):
    import dataclasses

    from parity import transfer

    spec = registry.get("resnet18")
    spec = dataclasses.replace(spec, recipe=dataclasses.replace(spec.recipe, learning_rate=learning_rate))
    legacy = GraphRunner(spec.legacy().build(tf.Graph(), learning_rate=learning_rate, seed=0,
                                             image_shape=image_shape, run_update_ops=run_update_ops))
    eager = KerasRunner.from_spec(spec, seed=0, image_shape=image_shape)
    transfer.transfer(legacy, eager)
    return legacy, eager


def _image_batches(shape, seed=0):
    rng = np.random.default_rng(seed)
    while True:
        yield rng.uniform(size=(8, *shape)).astype(np.float32), np.eye(100, dtype=np.float32)[rng.integers(0, 10, 8)]


def test_batchnorm_update_ops():
    broken, eager = _resnet_pair(run_update_ops=False)
    start = broken.get_weights()
    records = checks.teacher_forced_steps(broken, eager, _image_batches((16, 16, 3)), 2)
    result = checks.training_steps(broken.names, broken.trainable_mask, records, tolerances.DEFAULT)
    assert not result.passed
    stuck = result.figures["legacy_unmoved_statistics"]
    assert len(stuck) == 34 and stuck[0] == "prelayer/bn/moving_mean"  # 17 batch norms x (mean, variance)
    assert "34 legacy non-trainable variables never moved (does the train op depend on UPDATE_OPS?)" \
        in result.message
    # Trained from the same start on the same batches (at a learning rate small enough that float32
    # drift stays negligible), their inference outputs part ...
    for runner in (broken, eager):
        runner.set_weights(start)
        runner.reset_optimizer()
        runner.train(_image_batches((16, 16, 3)), 3)
    x = next(_image_batches((16, 16, 3), seed=5))[0]
    gap = np.max(np.abs(broken.forward(x) - eager.forward(x)))
    # ... and only through the statistics: given the broken graph's stale ones, Keras agrees again.
    stale = [legacy if not trainable else mine for legacy, mine, trainable in
             zip(broken.get_weights(), eager.get_weights(), eager.trainable_mask)]
    eager.set_weights(stale)
    aligned = np.max(np.abs(broken.forward(x) - eager.forward(x)))
    broken.close()
    assert aligned <= 1e-4
    assert gap > 100 * max(aligned, 1e-6)


def test_bias_before_batchnorm():
    from legacy_graph import layers

    rng = np.random.default_rng(0)
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.set_random_seed(0)
        # Small inputs leave batch norm dividing by sqrt(epsilon): large upstream gradients, large noise.
        x = tf.constant(rng.uniform(0, 0.01, size=(8, 6, 6, 2)).astype(np.float32))
        out = tf.nn.relu(layers.batch_norm(layers.conv2d(x, 4, 3, name="conv"), tf.constant(True), name="bn"))
        loss = tf.reduce_mean(tf.square(layers.dense(tf.reduce_mean(out, axis=[1, 2]), 3, name="fc") - 1.0))
        bias = tf.compat.v1.global_variables("conv/biases")[0]
        kernel = tf.compat.v1.global_variables("conv/weights")[0]
        grads = tf.compat.v1.gradients(loss, [bias, kernel])
        shift = bias.assign_add(tf.fill([4], 0.5))
        step = tf.compat.v1.train.AdamOptimizer(1e-3).minimize(loss, var_list=[bias])
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            g_bias, g_kernel = session.run(grads)
            before, loss_before = session.run([bias, loss])
            session.run(shift)
            loss_shifted = session.run(loss)
            session.run(bias.assign(before))
            session.run(step)
            moved = session.run(bias) - before
    assert np.abs(g_bias).max() < 1e-3 * np.abs(g_kernel).max()   # zero up to rounding
    assert abs(loss_shifted - loss_before) <= tolerances.DEFAULT.dead_loss_atol.value  # the loss ignores it
    # Yet Adam's first step, lr * g / (|g| + epsilon / sqrt(1 - beta2)), an effective epsilon of 3.2e-7,
    # moves it by most of the learning rate, in the direction of whatever noise the train op's own
    # gradient graph computed (not quite the noise of the separate tf.gradients above).
    assert np.all((np.abs(moved) > 0.5e-3) & (np.abs(moved) <= 1.0001e-3))


def test_resize_half_pixel_centers():
    x = np.arange(2 * 4 * 4 * 1, dtype=np.float32).reshape(2, 4, 4, 1)
    keras_bilinear = keras.layers.UpSampling2D(2, interpolation="bilinear")(x).numpy()
    graph = tf.Graph()
    with graph.as_default():
        t = tf.constant(x)
        tf1_default = tf.compat.v1.image.resize_bilinear(t, [8, 8])
        tf1_ported = tf.compat.v1.image.resize_bilinear(t, [8, 8], half_pixel_centers=True)
        tf1_nearest = tf.compat.v1.image.resize_nearest_neighbor(t, [8, 8])
        with tf.compat.v1.Session(graph=graph) as session:
            default, ported, nearest = session.run([tf1_default, tf1_ported, tf1_nearest])
    assert default.shape == keras_bilinear.shape
    assert np.abs(default - keras_bilinear).max() >= 0.25  # a quarter of the step of 1 between columns
    np.testing.assert_allclose(ported, keras_bilinear, atol=1e-5)
    np.testing.assert_array_equal(nearest, keras.layers.UpSampling2D(2)(x))


def test_applications_bn_momentum():
    model = keras.applications.MobileNetV2(weights=None, classes=5, input_shape=(32, 32, 3))
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(norms) == 52
    assert {(n.momentum, n.epsilon) for n in norms} == {(0.999, 1e-3)}
    assert keras.layers.BatchNormalization().momentum == 0.99
    # The document's 115 steps: how far the moving mean gets from 0 towards a constant batch mean of 1.
    x = np.ones((4, 2, 2, 1), np.float32)
    reached = {}
    for momentum in (0.999, 0.99):
        bn = keras.layers.BatchNormalization(momentum=momentum)
        for _ in range(115):
            bn(x, training=True)
        reached[momentum] = float(bn.moving_mean.numpy()[0])
    assert reached[0.999] == pytest.approx(1 - 0.999 ** 115, rel=1e-4)  # 0.109: 89% still at the start
    assert reached[0.99] == pytest.approx(1 - 0.99 ** 115, rel=1e-4)    # 0.685


def _adam_trajectory(make_step, steps=5):
    """A [64, 10] weight after `steps` Adam updates on a fixed stream of gradients."""
    rng = np.random.default_rng(0)
    start = rng.normal(size=(64, 10)).astype(np.float32)
    gradients = [rng.normal(scale=10.0 ** rng.integers(-6, 0), size=(64, 10)).astype(np.float32)
                 for _ in range(steps)]
    return make_step(start, gradients)


def _legacy_adam(start, gradients):
    graph = tf.Graph()
    with graph.as_default():
        v = tf.compat.v1.Variable(start)
        g = tf.compat.v1.placeholder(tf.float32, start.shape)
        step = tf.compat.v1.train.AdamOptimizer(1e-3).apply_gradients([(g, v)])
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            for gradient in gradients:
                session.run(step, {g: gradient})
            return session.run(v)


def _keras_adam(optimizer_class):
    def run(start, gradients):
        w = keras.Variable(start)
        optimizer = optimizer_class(learning_rate=1e-3, epsilon=1e-8)
        step = tf.function(lambda g: optimizer.apply_gradients([(g, w)]))
        for gradient in gradients:
            step(tf.constant(gradient))
        ops = {op.type for op in step.get_concrete_function(tf.constant(gradients[0])).graph.get_operations()}
        return w.numpy(), ops
    return run


def test_keras_adam_unfused():
    from eager_v2.optimizers import FusedAdam
    from eager_v2.training import Trainer

    # Two steps: Keras' elementwise ops already round differently from TF1's fused kernel; the
    # fused port is TF1's update bit for bit. (From step 3 on, beta^t, which Keras takes as a power
    # and TF1 as a running product, may differ by an ulp.)
    legacy = _adam_trajectory(_legacy_adam, steps=2)
    keras_weights, keras_ops = _adam_trajectory(_keras_adam(keras.optimizers.Adam), steps=2)
    fused_weights, fused_ops = _adam_trajectory(_keras_adam(FusedAdam), steps=2)
    assert "ResourceApplyAdam" not in keras_ops and {"Sqrt", "Square", "AssignSubVariableOp"} <= keras_ops
    assert "ResourceApplyAdam" in fused_ops and not {"Sqrt", "Square"} & fused_ops
    assert np.abs(keras_weights - legacy).max() > 0
    np.testing.assert_array_equal(fused_weights, legacy)

    # On the model: the traced training step runs a few hundred ops fewer.
    counts = {}
    for name, optimizer_class in (("keras", keras.optimizers.Adam), ("fused", FusedAdam)):
        runner = KerasRunner.from_spec(SPEC, seed=0, style="function")
        trainer = Trainer(runner.model, optimizer_class(learning_rate=1e-4, epsilon=1e-8), runner.trainer.loss_fn)
        x = tf.zeros((8, 28, 28, 1))
        y = tf.one_hot(tf.zeros(8, tf.int32), 10)
        counts[name] = len(trainer._compiled_step.get_concrete_function(x, y).graph.get_operations())
    assert counts["keras"] - counts["fused"] > 150


def test_float32_kink():
    from parity import kinks

    # One pre-activation summed in two orders, both right: 1 + 1e-8 rounds to 1, so one order ends
    # at exactly 0 and the other at 1e-8. The outputs agree to 1e-8; the gradients do not at all.
    x = tf.constant([1.0, 1e-8, -1.0])
    w = tf.Variable([1.0, 1.0, 1.0])
    with tf.GradientTape(persistent=True) as tape:
        terms = x * w
        z_graph = (terms[0] + terms[1]) + terms[2]
        z_keras = (terms[0] + terms[2]) + terms[1]
        out_graph, out_keras = tf.nn.relu(z_graph), tf.nn.relu(z_keras)
    assert float(z_graph) == 0.0 and float(z_keras) == pytest.approx(1e-8)
    assert abs(float(out_graph) - float(out_keras)) <= 1e-8
    g_graph, g_keras = tape.gradient(out_graph, w).numpy(), tape.gradient(out_keras, w).numpy()
    np.testing.assert_array_equal(g_graph, [0.0, 0.0, 0.0])
    np.testing.assert_allclose(g_keras, [1.0, 1e-8, -1.0])
    # The check sees why: the one ReLU input lies on either side of 0.
    relu = kinks.KinkOp("Relu", "Relu")
    [crossing] = kinks.crossings([relu], [z_graph.numpy()], [relu], [z_keras.numpy()])
    assert crossing.elements == 1 and crossing.margin == pytest.approx(1e-8)


SOFTMAX_LOSS = r"""
import json, numpy as np, keras
inputs = keras.Input((2,))
logits = keras.layers.Identity()(inputs)
model = keras.Model(inputs, keras.layers.Softmax()(logits))
x = np.array([[20.0, -20.0], [2.0, 1.0]], np.float32)
y = np.array([[0.0, 1.0], [1.0, 0.0]], np.float32)
on_probabilities = keras.losses.CategoricalCrossentropy(reduction=None)(y, model(x))
on_logits = keras.losses.CategoricalCrossentropy(from_logits=True, reduction=None)(y, x)
out = {"probabilities": keras.ops.convert_to_numpy(on_probabilities).tolist(),
       "logits": keras.ops.convert_to_numpy(on_logits).tolist()}
if keras.backend.backend() == "jax":
    import jax
    loss = keras.losses.CategoricalCrossentropy()
    out["gradient"] = np.asarray(jax.grad(lambda z: loss(y[:1], jax.nn.softmax(z)))(x[:1])).tolist()
print("RESULT " + json.dumps(out))
"""


def test_softmax_probabilities_backend():
    import importlib.util
    import json
    import os

    def losses(backend):
        result = subprocess.run([sys.executable, "-c", SOFTMAX_LOSS], capture_output=True, text=True, timeout=300,
                                env={**os.environ, "KERAS_BACKEND": backend, "OMP_WAIT_POLICY": "PASSIVE"})
        assert result.returncode == 0, result.stderr[-2000:]
        return json.loads(result.stdout.split("RESULT ", 1)[1])

    others = [b for b in ("jax", "torch") if importlib.util.find_spec(b) is not None]
    assert others, "needs JAX or torch (the test extra installs JAX)"
    tensorflow = losses("tensorflow")
    # TensorFlow's backend reads the softmax's logits: the exact 40 (log-sum-exp of (20, -20) less -20).
    assert tensorflow["probabilities"][0] == pytest.approx(40.0, rel=1e-6)
    for backend in others:
        out = losses(backend)
        # The clipped probability: -log(1e-7) = 16.118, whatever the gap; the port on logits is exact.
        assert out["probabilities"][0] == pytest.approx(-np.log(1e-7), rel=1e-5), backend
        assert out["logits"][0] == pytest.approx(40.0, rel=1e-6), backend
        if backend == "jax":  # and teaches nothing: the clip's gradient is zero
            assert out["gradient"] == [[0.0, 0.0]], out["gradient"]
        # An example inside the clip costs the same on every backend.
        assert out["probabilities"][1] == pytest.approx(tensorflow["probabilities"][1], rel=1e-6), backend

