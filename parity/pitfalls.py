"""The migration pitfall catalogue: one entry per way a TF1 -> TF2 / Keras 3 port silently
differs, each shown by a test: parity_tests/test_pitfalls.py::test_<id with _>, or the test
named in `shown_by` where it needs a model's fixtures."""
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
    shown_by: str = ""  # "file::test" when the test lives beside its model; else test_pitfalls.py
    scan: str = ""      # "detected" (tf-parity scan finds it in source), or "run: <why only a run shows it>"

    @property
    def test(self):
        return self.shown_by or f"parity_tests/test_pitfalls.py::test_{self.id.replace('-', '_')}"


CATALOGUE = (
    Pitfall(
        "adam-epsilon", "Adam's epsilon default differs",
        legacy="tf.compat.v1.train.AdamOptimizer: epsilon=1e-8 (RMSPropOptimizer: 1e-10)",
        eager="keras.optimizers.Adam: epsilon=1e-7 (RMSprop: 1e-7); same update formula otherwise",
        symptom="Every weight whose gradient is near epsilon moves differently: one step of mnist_cnn moves "
                "weights up to 1e-4 apart, one of resnet18 1e-4 (4,800 times the tolerance); the parity "
                "training_steps check fails at step 1.",
        port="keras.optimizers.Adam(learning_rate=lr, epsilon=1e-8).",
        scan="detected",
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
        scan="detected",
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
        scan="detected",
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
        scan="detected",
        models=("mnist_cnn",)),
    Pitfall(
        "loss-reduction", "Loss reduction and clipping differ",
        legacy="tf.compat.v1.losses.softmax_cross_entropy divides by the number of non-zero weights "
               "(SUM_BY_NONZERO_WEIGHTS); softmax_cross_entropy_with_logits_v2 + reduce_mean by the batch",
        eager="Keras losses divide by the batch size (sum_over_batch_size) and, with from_logits=False, clip "
              "probabilities to [1e-7, 1 - 1e-7] (unless they carry the logits of a softmax layer: pitfall "
              "`keras-softmax-logits`)",
        symptom="Equal without sample weights; with zero weights in a batch the Keras loss (and gradient) is "
                "smaller by the fraction of zero weights. Probabilities computed outside the model and fed "
                "with from_logits=False lose gradient where they saturate.",
        port="Feed logits with from_logits=True; for weighted v1 losses, divide by the non-zero weight count "
             "yourself.",
        scan="detected",
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
        scan="detected",
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
        scan="detected",
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
        scan="detected",
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
        scan="detected",
        models=("mnist_cnn",)),
    Pitfall(
        "float32-chaos", "Long training runs part even when the port is exact",
        legacy="float32 training; rounding differs between any two implementations at about 1e-7",
        eager="the same: a different summation order (a broadcast + versus bias_add) or Adam written with other "
              "ops leaves ulp-sized differences",
        symptom="Matched styles agree to 1e-6 for the first steps, then part: by step 200 of mnist_cnn the "
                "losses differ by about 1e-3, as much as the same graph does from a start one ulp away; "
                "resnet18 at Adam 0.01 parts by 3e-2 within 10 steps. A step-by-step comparison of two "
                "free-running trainings cannot pass or fail a port.",
        port="Compare teacher-forced steps: put both styles on the same weights before every step and "
             "apply one side's gradients in both (parity.checks.teacher_forced_steps): losses then agree to "
             "1e-6 and updates to an ulp at every step. Compare free-running runs by accuracy.",
        scan="run: rounding differences grow during training; only running both styles shows how far",
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
        scan="run: a device's defaults, not the source, decide it; only a run on that device shows it",
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
        scan="detected",
        models=("mnist_cnn",)),
    Pitfall(
        "keras3-lr-keyword", "Keras 3 optimizers refuse lr= and ignore decay=",
        legacy="tf.keras (Keras 2) optimizers took Adam(lr=1e-4) and decay=; tf_upgrade_v2 rewrites "
               "Adam(lr=...) to tf.keras.optimizers.legacy.Adam(lr=...)",
        eager="Keras 3: Adam(lr=...) raises ValueError ('Argument(s) not recognized'); decay= is warned about "
              "and ignored; keras.optimizers.legacy raises ImportError ('not supported in Keras 3')",
        symptom="The documents' Adam(lr=1e-4) (VGG13) and Adam(lr=0.01) (ResNet18) fail at construction; a "
                "kept decay= silently trains at a constant rate.",
        port="Adam(learning_rate=...); for Keras 2's decay use "
             "keras.optimizers.schedules.InverseTimeDecay(lr, decay_steps=1, decay_rate=decay).",
        scan="detected",
        models=("vgg13", "resnet18")),
    Pitfall(
        "batchnorm-fused-variance", "TF1's fused batch norm updates the moving variance unbiased",
        legacy="tf.compat.v1.nn.fused_batch_norm (what tf.layers.batch_normalization ran by default) returns "
               "the Bessel-corrected variance n/(n-1) * var for the moving average; it normalizes with the "
               "biased one",
        eager="Keras 3 BatchNormalization normalizes with, and averages, the biased variance "
              "(tf.nn.moments); momentum 0.99, epsilon 1e-3",
        symptom="Moving variances part by a factor n/(n-1), n = batch x height x width: 0.8% at resnet18's "
                "2x2 last stage with batch 32, and inference outputs part with them.",
        port="Write TF1 batch norm with tf.nn.moments and tf.nn.batch_normalization (legacy_graph.layers), or "
             "rescale the moving variance by (n-1)/n when converting fused-kernel checkpoints.",
        scan="detected",
        models=("resnet18", "mobilenet_v2")),
    Pitfall(
        "batchnorm-update-ops", "A TF1 train op must run UPDATE_OPS",
        legacy="batch-norm moving averages are updated by ops in tf.GraphKeys.UPDATE_OPS, which run only if the "
               "train op depends on them (tf.control_dependencies)",
        eager="Keras updates the moving statistics inside the layer call whenever training=True",
        symptom="The TF1 model trains, but its moving statistics never leave 0 and 1, so its inference outputs "
                "part from the Keras model's; parity's training_steps check names the statistics that never "
                "moved.",
        port="with tf.control_dependencies(tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)): "
             "train_op = optimizer.apply_gradients(...).",
        scan="detected",
        models=("resnet18", "mobilenet_v2")),
    Pitfall(
        "bias-before-batchnorm", "A bias feeding batch norm has a zero gradient that Adam still follows",
        legacy="the documents give every conv a bias, also where batch norm follows (ResNet18)",
        eager="the same in Keras (Conv2D use_bias=True by default)",
        symptom="Batch norm subtracts the mean, so the loss does not depend on such a bias: its gradient is "
                "rounding noise (1e-8 to 1e-4 of the largest in resnet18), with no agreement between two "
                "computations. Adam divides by its own running scale, so where the noise exceeds its "
                "epsilon a step still moves the bias by about the learning rate, in the direction of the "
                "noise: two styles (or two gradient graphs of one style) move it differently.",
        port="Keep the bias for parity with the original and compare its gradient as dead "
             "(parity.checks.dead_variables); apply the train op's own gradients when teacher forcing. In new "
             "code drop it: Conv2D(use_bias=False) before BatchNormalization.",
        scan="run: a dead bias is correct code in both styles; parity's gradients check names it as dead",
        models=("resnet18",)),
    Pitfall(
        "applications-bn-momentum", "keras.applications' batch norm moves its statistics slowly",
        legacy="TF1 code rebuilt by hand tends to take batch-norm defaults: tf.layers' and Keras' momentum "
               "0.99, epsilon 1e-3 (tf.compat.v1.layers) or 1e-5 (tf.nn.fused_batch_norm's default)",
        eager="keras.applications.MobileNetV2 builds every batch norm with momentum 0.999 and epsilon 1e-3",
        symptom="A port with momentum 0.99 parts at the first training step. And after a short run (the "
                "document's one pass over tf_flowers, 115 steps) the moving statistics are still 89% at their "
                "initial 0 and 1, so inference-mode predictions collapse to one class: 20.00% on 5 classes, "
                "in both styles, while the training loss has fallen.",
        port="Read the application's layer settings (momentum, epsilon, padding) rather than assume defaults; "
             "train long enough for the statistics (about 3,000 steps at 0.999) or evaluate a short run "
             "knowing its inference mode lags.",
        scan="detected",
        models=("mobilenet_v2",)),
    Pitfall(
        "resize-half-pixel-centers", "TF1's bilinear resize is shifted by half a pixel",
        legacy="tf.compat.v1.image.resize_bilinear defaults to align_corners=False, half_pixel_centers=False: "
               "output pixel i samples input position i * in / out",
        eager="tf.image.resize and Keras UpSampling2D(interpolation='bilinear') sample (i + 0.5) * in / out - 0.5",
        symptom="Same shapes, different values: a bilinear x2 upsampling parts by up to a quarter of the "
                "step between neighbouring pixels, and the whole image shifts by half an input pixel. "
                "Nearest-neighbour x2 is the same in both (pixel repetition).",
        port="tf.compat.v1.image.resize_bilinear(..., half_pixel_centers=True) in the TF1 graph "
             "(legacy_graph.layers.upsample), or UpSampling2D(interpolation='bilinear') in Keras.",
        scan="detected",
        models=("conv_autoencoder",)),
    Pitfall(
        "loss-sum-vs-mean", "A summed batch loss scales every gradient by the batch size",
        legacy="the legacy graphs average the batch loss (reduce_mean), as TF1 losses did",
        eager="seed 003 takes tf.reduce_sum of Keras' per-example loss; Keras losses default to the batch mean",
        symptom="Summed, the loss and every gradient are batch-size times the mean's: with Adam the early steps "
                "barely change (Adam is scale-free but epsilon is not), with SGD the learning rate is in effect "
                "32 times larger at batch 32, and loss values do not compare across batch sizes.",
        port="Keep the mean (make_loss(reduction='mean'), the default here) and scale the learning rate if the "
             "sum's dynamics are wanted; the document's sum stays selectable with reduction='sum'.",
        scan="detected",
        models=("mobilenet_v2",),
        shown_by="parity_tests/test_mobilenet_v2.py::test_summed_loss_is_batch_size_times_the_mean"),
    Pitfall(
        "keras-softmax-logits", "Keras 3 takes the cross-entropy of a softmax output from its logits",
        legacy="a TF1 graph that computes -log(clip(softmax(z))) loses the gradient wherever a probability "
               "saturates (below 1e-7 the loss sticks at 16.1)",
        eager="a Keras 3 softmax layer attaches its logits to its output and from_logits=False losses read "
              "them, so the model's own output is never clipped (a probability below 1e-7 gives about 60)",
        symptom="Losses and gradients part exactly where the model is confidently wrong, which is where "
                "training learns most.",
        port="In the TF1 graph take the cross-entropy of the logits "
             "(tf.nn.sparse_softmax_cross_entropy_with_logits), as legacy_graph/mobilenet_v2.py does.",
        scan="detected",
        models=("mobilenet_v2",),
        shown_by="parity_tests/test_mobilenet_v2.py::test_keras_loss_of_the_softmax_output_reads_the_logits"),
    Pitfall(
        "keras-adam-unfused", "Keras 3's Adam is some twenty ops per variable, not TF1's one fused kernel",
        legacy="tf.compat.v1.train.AdamOptimizer updates each variable with one ResourceApplyAdam op, and "
               "keeps beta_1^t and beta_2^t as running products",
        eager="keras.optimizers.Adam writes the same update as elementwise ops (casts, powers, both moments, "
              "the step) and takes beta^t as a power",
        symptom="Same algebra, other rounding: weights part by an ulp from the first step. A small model's "
                "traced step runs about 250 ops more (mnist_cnn: 454 against 262), which costs it time "
                "per step on a CPU.",
        port="keras.optimizers.Adam(epsilon=1e-8) is a faithful port within parity's tolerances. Where the "
             "optimizer's ops show in the step time, eager_v2.optimizers.FusedAdam is Keras' Adam calling "
             "TF's fused kernel: TF1's update bit for bit while beta^t agrees, Keras' slots and config; "
             "eager_v2's models train with it (eager_v2.optimizers.adam(learning_rate, epsilon, fused=False) "
             "gives Keras' own).",
        scan="run: the same algebra in other ops: an ulp of rounding and the step time, measured by a run",
        models=("mnist_cnn", "vgg13", "resnet18", "conv_autoencoder", "mobilenet_v2")),
    Pitfall(
        "eager-vs-graph-gradients", "Eager gradients can part from graph gradients",
        legacy="a Session runs the graph after TensorFlow's graph optimizer has rewritten it",
        eager="tf.function graphs are optimized the same way; eagerly taken gradients are not",
        symptom="Where a ReLU6 input lies within rounding of 0, one side passes that element's gradient and "
                "the other blocks it, and a batch norm behind spreads the difference over the channel: "
                "mobilenet_v2's eager gradients part from the graph's by up to 10% on most batches, while "
                "tf.function's match the TF1 graph bit for bit.",
        port="Compare TF1 against tf.function, not against eager execution (parity's gradients check does; "
             "TensorFlow's migration guide advises it too).",
        scan="run: eager and graph gradients part only where rounding meets a kink, which the data decide",
        models=("mobilenet_v2",),
        shown_by="parity_tests/test_mobilenet_v2.py::test_eager_vs_graph_gradients"),
    Pitfall(
        "float32-kink", "Rounding can put a ReLU input on the other side of its kink",
        legacy="a Session runs the TF1 graph as TensorFlow's graph optimizer rewrote it",
        eager="the Keras model's tf.function graph, which the optimizer may rewrite otherwise where its ops "
              "differ: in resnet18 grappler's arithmetic optimizer leaves the two graphs' residual ReLU "
              "inputs 1e-6 apart from layer1's first block on, ReLU inputs up to 5e-6 of their largest "
              "value apart by layer4, and the losses within 1e-6",
        symptom="Where an input lies within that rounding of a kink (ReLU at 0, ReLU6 also at 6, the two "
                "largest of a max-pool window), one style passes its gradient and the other blocks it or "
                "sends it elsewhere: on resnet18's first batch of the Fashion-MNIST stand-in one ReLU input of "
                "reslayer/layer3/blocks/block1 is +1.2e-7 in the graph and -2.4e-6 in Keras, and the gradient "
                "of the kernel before it parts by 17%. Given the graph's ReLU mask Keras' gradients agree to "
                "6e-6; with the arithmetic optimizer off in Keras' graph every kink input agrees bit for bit.",
        port="Nothing to port: both styles are right. Judge gradients only on a batch where both pick the same "
             "side of every kink: parity's gradients check pairs the styles' ReLU and max-pool inputs, names "
             "a crossing and moves to the next batch; gradients that part with every kink agreeing are a "
             "real fault. `python scripts/kink_report.py --model M` shows a batch's crossings.",
        scan="run: which side of a kink rounding puts an input depends on the data and the graph optimizer",
        models=("resnet18",)),
    Pitfall(
        "softmax-probabilities-backend", "A loss on softmax probabilities depends on the Keras backend",
        legacy="tf.nn.softmax_cross_entropy_with_logits and its sparse twin take logits: exact for any gap "
               "between them",
        eager="keras.losses.(Sparse)CategoricalCrossentropy(from_logits=False) on a Softmax layer's output: on the "
              "TensorFlow backend Keras reads the logits behind the softmax; on JAX and torch it takes the "
              "probabilities, clipped to [1e-7, 1 - 1e-7]",
        symptom="An example the model is sure of and wrong costs what the clip allows: logits (20, -20) with "
                "label 1 cost 40.0 on TensorFlow and 16.12 on JAX and torch, where its gradient is zero. The "
                "same port, verified against one record, trains otherwise on another backend; mobilenet_v2's "
                "port (the document's softmax head) meets it.",
        port="Give the loss logits: end the model in a Dense without activation, pass from_logits=True, and "
             "apply the softmax for predictions only.",
        scan="run: the Keras backend is chosen when the program starts (KERAS_BACKEND), not in the source",
        models=("mobilenet_v2",)),
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
                  f"- **Scan:** {_scan_line(p)}",
                  f"- **Models:** {', '.join(p.models)}; **test:** `{p.test}`", ""]
    return "\n".join(lines)


def _scan_line(p):
    if p.scan == "detected":
        return "detected in source by `tf-parity scan`"
    return f"not visible in source ({p.scan.partition(':')[2].strip()}); check with `tf-parity parity`"
