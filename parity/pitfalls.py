"""The migration pitfall catalogue: one entry per way a TF1 -> TF2 / Keras 3 port silently
differs, each shown by a test in parity_tests/test_pitfalls.py named `test_<id with _>`."""
from dataclasses import dataclass


@dataclass(frozen=True)
class Pitfall:
    id: str
    title: str
    legacy: str     # what the TF1 side does or defaults to
    eager: str      # what the TF2 / Keras 3 side does or defaults to
    symptom: str    # what a port that misses it sees
    port: str       # how to port it
    models: tuple   # the project's models that meet it

    @property
    def test(self):
        return f"parity_tests/test_pitfalls.py::test_{self.id.replace('-', '_')}"


CATALOGUE = (
    Pitfall(
        "adam-epsilon", "Adam's epsilon default differs",
        legacy="tf.compat.v1.train.AdamOptimizer: epsilon=1e-8 (RMSPropOptimizer: 1e-10)",
        eager="keras.optimizers.Adam: epsilon=1e-7 (RMSprop: 1e-7); same update formula otherwise",
        symptom="Every weight whose gradient is near epsilon moves differently; mnist_cnn's losses part by "
                "about 1e-4 within 10 steps and its weights by 4e-4, the parity training_steps check fails.",
        port="keras.optimizers.Adam(learning_rate=lr, epsilon=1e-8).",
        models=("mnist_cnn",)),
    Pitfall(
        "truncated-normal-stddev", "Initializer defaults differ",
        legacy="tf.compat.v1.truncated_normal_initializer(): stddev=1.0; the documents pass stddev=0.05 to "
               "tf.truncated_normal and start biases at 0.05",
        eager="keras.initializers.TruncatedNormal(): stddev=0.05; Keras layers default to glorot_uniform "
              "kernels and zero biases",
        symptom="A port that keeps Keras' layer defaults starts from another distribution: the first "
                "losses differ and ReLU units with zero bias start closer to dead.",
        port="kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.05), "
             "bias_initializer=keras.initializers.Constant(0.05); or copy the TF1 weights (tf-parity convert).",
        models=("mnist_cnn",)),
    Pitfall(
        "input-data-removed", "tensorflow.examples.tutorials.mnist is gone",
        legacy="from tensorflow.examples.tutorials.mnist import input_data; "
               "input_data.read_data_sets(dir, one_hot=True) with next_batch()",
        eager="the module does not exist in TF 2 (ModuleNotFoundError); tf_upgrade_v2 does not flag the import",
        symptom="The script fails at import, or a hasty replacement changes the batching: TF1's next_batch "
                "reshuffles every epoch and fills the last batch from the next epoch.",
        port="legacy_graph.input_data.read_data_sets (same interface, no download), or tf.data with "
             "shuffle and repeat.",
        models=("mnist_cnn",)),
    Pitfall(
        "same-padding-asymmetric", "'SAME' padding is not symmetric",
        legacy="tf.nn.conv2d / max_pool with padding='SAME' pad the odd extra pixel at the bottom and right",
        eager="Keras padding='same' does the same; explicit symmetric padding (tf.pad, or frameworks that pad "
              "both sides) gives the same output shape and different values",
        symptom="Shapes match, numbers do not: a shape check alone passes. Stride-2 convolutions and pools on "
                "even sizes are where it shows.",
        port="Keep padding='same' in Keras; when porting from explicit padding, pad (top, bottom) = "
             "(p // 2, p - p // 2).",
        models=("mnist_cnn",)),
    Pitfall(
        "loss-reduction", "Loss reduction and clipping differ",
        legacy="tf.compat.v1.losses.softmax_cross_entropy divides by the number of non-zero weights "
               "(SUM_BY_NONZERO_WEIGHTS); softmax_cross_entropy_with_logits_v2 + reduce_mean by the batch",
        eager="Keras losses divide by the batch size (sum_over_batch_size) and, with from_logits=False, clip "
              "probabilities to [1e-7, 1 - 1e-7]",
        symptom="Equal without sample weights; with zero weights in a batch the Keras loss (and gradient) is "
                "smaller by the fraction of zero weights. Softmax outputs fed with from_logits=False "
                "lose gradient where the probability saturates.",
        port="Feed logits with from_logits=True; for weighted v1 losses, divide by the non-zero weight count "
             "yourself.",
        models=("mnist_cnn",)),
    Pitfall(
        "tf-keras-is-keras3", "tf.keras is Keras 3, and the v1 layers are gone with it",
        legacy="tf.compat.v1.layers.dense / conv2d, tf.compat.v1.keras.utils.DeterministicRandomTestTool",
        eager="from TF 2.16 tf.keras is Keras 3; tf.compat.v1.layers.Dense raises AttributeError ('not "
              "available with Keras 3') unless tf_keras is installed",
        symptom="TF1 code using tf.layers fails on import or first call; random-seed alignment tools are "
                "missing.",
        port="Write the layers with raw tf.nn ops and tf.compat.v1.Variable (as this project's legacy tree "
             "does), and align the two styles by copying weights, not by aligning random seeds.",
        models=("mnist_cnn",)),
    Pitfall(
        "placeholder-needs-graph", "TF1 graph code needs its own graph, not global graph mode",
        legacy="tf.placeholder and Session.run assume graph mode, which was the default",
        eager="TF 2 runs eagerly: tf.compat.v1.placeholder raises RuntimeError; "
              "tf.compat.v1.disable_eager_execution() is global and breaks Keras 3 in the same process",
        symptom="'tf.placeholder() is not compatible with eager execution', or after disable_eager_execution "
                "Keras 3's fit fails ('tf.data.Dataset only supports Python-style iteration in eager mode'). "
                "Saver.save outside `graph.as_default()` refuses even with an explicit session ('Can only "
                "save/restore ResourceVariables when executing eagerly').",
        port="Build the TF1 model inside `with tf.Graph().as_default():`, run it with "
             "tf.compat.v1.Session(graph=...), and save under the same `as_default()`, so both styles live "
             "in one process.",
        models=("mnist_cnn",)),
    Pitfall(
        "keras3-weights-format", "Keras 3 cannot read or write TF checkpoints",
        legacy="tf.compat.v1.train.Saver writes checkpoint prefixes (model.ckpt.index / .data-*)",
        eager="Keras 3 save_weights writes only '.weights.h5' (ValueError otherwise) and load_weights does not "
              "read TF checkpoints",
        symptom="ValueError: 'The filename must end in `.weights.h5`'; a TF1 checkpoint cannot be loaded "
                "into the Keras model.",
        port="Read the checkpoint variable by variable with tf.train.load_checkpoint and assign in canonical "
             "order (tf-parity convert does it, checking every name and shape).",
        models=("mnist_cnn",)),
    Pitfall(
        "fit-logs-running-mean", "Model.fit logs a running mean, not the step's loss",
        legacy="sess.run([train_op, loss]) returns the loss of this batch",
        eager="Keras 3 fit's logs['loss'] (callbacks, progress bar, History per epoch) is the mean over the "
              "epoch so far",
        symptom="Loss curves from fit look smoother and lag the TF1 curve; comparing them step by step "
                "shows differences that are not there.",
        port="Compare per-step losses from a GradientTape loop, or recover step k as "
             "k * mean_k - (k - 1) * mean_(k-1) (what eager_v2.training does for fit).",
        models=("mnist_cnn",)),
    Pitfall(
        "float32-chaos", "Long training runs part even when the port is exact",
        legacy="float32 training; rounding differs between any two implementations at about 1e-7",
        eager="the same: a different summation order (a broadcast + versus bias_add) or Adam written with other "
              "ops leaves ulp-sized differences",
        symptom="Matched styles agree to 1e-6 for the first steps, then part: by step 200 of mnist_cnn the "
                "losses differ by about 1e-3, as much as the same graph does from a start one ulp away.",
        port="Compare the first steps tightly (this project: 10 steps within 1e-5, losses and weights) and "
             "later steps only against the measured float32 floor; compare accuracy after the full recipe.",
        models=("mnist_cnn",)),
    Pitfall(
        "gpu-tf32-jit-auto", "GPU defaults change the numbers: TF32 and XLA 'auto'",
        legacy="TF1 ran float32 matmuls and convolutions in full float32",
        eager="tensor_float_32_execution is on by default (it acts on Ampere and newer GPUs, cutting matmul "
              "precision to about 1e-3); Keras compile(jit_compile='auto') turns XLA on when a GPU is seen "
              "and off on CPU",
        symptom="The same script gives different numbers, and different speed, on CPU and GPU.",
        port="For parity runs call tf.config.experimental.enable_tensor_float_32_execution(False) and pass "
             "jit_compile explicitly (parity.runtime does the first).",
        models=("mnist_cnn",)),
    Pitfall(
        "determinism-xla-maxpool", "Op determinism and XLA cannot train max-pooling models together",
        legacy="graph-mode TF1 has no XLA by default",
        eager="tf.config.experimental.enable_op_determinism() makes tf.function(jit_compile=True) refuse "
              "MaxPool gradients ('GPU MaxPool gradient ops do not yet have a deterministic XLA "
              "implementation'), on CPU too",
        symptom="UnimplementedError on the first XLA training step of any model with max pooling once "
                "determinism is on.",
        port="Turn op determinism on only where it is needed (GPU kernels) and not for XLA runs; CPU kernels "
             "repeat bit for bit without it (parity.runtime does this).",
        models=("mnist_cnn",)),
)

BY_ID = {p.id: p for p in CATALOGUE}


def markdown():
    """The catalogue as Markdown (PITFALLS.md is this text)."""
    lines = ["# Migration pitfalls", "",
             "Each entry is a way a TF1 graph model and its TF2 / Keras 3 port part without an error. "
             "Every one is shown by the test named beside it. Generated from `parity/pitfalls.py` by "
             "`tf-parity pitfalls --markdown`; edit that file, not this one.", ""]
    for p in CATALOGUE:
        lines += [f"## `{p.id}`: {p.title}", "",
                  f"- **TF1:** {p.legacy}",
                  f"- **TF2 / Keras 3:** {p.eager}",
                  f"- **Symptom:** {p.symptom}",
                  f"- **Port:** {p.port}",
                  f"- **Models:** {', '.join(p.models)}; **test:** `{p.test}`", ""]
    return "\n".join(lines)
