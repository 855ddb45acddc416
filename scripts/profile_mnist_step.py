#!/usr/bin/env python3
"""Where a training step of the MNIST CNN spends its time in each style, and why eager is slower.

Times, on one fixed batch (median of `--steps` steps taken in interleaved rounds):
  legacy feed_dict / legacy tf.data: Session.run of the train op, the batch fed or read in-graph;
  function: the tf.function step on tensors, and on NumPy arrays (a conversion per call);
  function, fused Adam: the same step with eager_v2.optimizers.FusedAdam;
  eager: the step without tf.function, and its three parts (forward and loss under the tape,
  tape.gradient, apply_gradients).
Counts: the ops in each part's traced graph, which eager runs one by one from Python, and the
measured cost of dispatching one small op eagerly; their product against the eager-minus-graph
gap says how much of the gap is per-op Python overhead. Retracing: traces of a plain tf.function
and of Trainer's (reduce_retracing) over batches of 64, 64, 16, 64, 48.
Writes the figures to --json.
"""
import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np


def step_times(fn, steps):
    """Seconds of each of `steps` calls of `fn`; the caller interleaves candidates in rounds."""
    times = []
    for _ in range(steps):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=60, help="timed steps per candidate (default 60)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", default="results/profile_mnist_step.json")
    args = parser.parse_args()

    from parity import registry, runtime
    from parity.bench import synthetic_batch
    from parity.bench.styles import LegacyStyle

    tf = runtime.import_tensorflow()
    import keras

    from eager_v2 import mnist_cnn, optimizers
    from eager_v2.training import Trainer

    spec = registry.get("mnist_cnn")
    x, y = synthetic_batch(spec, args.batch_size)
    xt, yt = tf.constant(x), tf.constant(y)

    def keras_setup(optimizer_class):
        keras.utils.set_random_seed(0)
        model = mnist_cnn.build_model()
        optimizer = optimizer_class(learning_rate=spec.recipe.learning_rate, epsilon=spec.recipe.epsilon)
        return model, optimizer, mnist_cnn.make_loss()

    model, optimizer, loss_fn = keras_setup(keras.optimizers.Adam)
    variables = model.trainable_variables
    optimizer.build(variables)

    def forward(a=xt, b=yt):
        with tf.GradientTape() as tape:
            loss = loss_fn(b, model(a, training=True))
        return tape, loss

    def forward_and_gradient(a=xt, b=yt):
        tape, loss = forward(a, b)
        return tape.gradient(loss, variables)

    grads = forward_and_gradient()

    def apply():
        optimizer.apply_gradients(zip(grads, variables))

    def eager_step():
        apply_grads = forward_and_gradient()
        optimizer.apply_gradients(zip(apply_grads, variables))

    function_trainer = Trainer(*keras_setup(keras.optimizers.Adam), style="function")
    fused_trainer = Trainer(*keras_setup(optimizers.FusedAdam), style="function")
    feed = LegacyStyle(spec, x, y, seed=0, tf_data=False)
    in_graph = LegacyStyle(spec, x, y, seed=0, tf_data=True)

    candidates = {
        "legacy_feed_dict": feed.train_step,
        "legacy_tf_data": in_graph.train_step,
        "function": lambda: function_trainer.train_step(xt, yt),
        "function_numpy_inputs": lambda: function_trainer.train_step(x, y),
        "function_fused_adam": lambda: fused_trainer.train_step(xt, yt),
        "eager": lambda: (eager_step(), float(optimizer.iterations)),
        "eager_forward": lambda: float(forward()[1]),
        "eager_forward_and_gradient": lambda: [g.numpy() for g in forward_and_gradient()][:0],
        "eager_apply_gradients": lambda: (apply(), float(optimizer.iterations)),
    }
    for fn in candidates.values():  # warm up: first runs, traces
        for _ in range(3):
            fn()
    times = {name: [] for name in candidates}
    per_round = max(1, args.steps // args.rounds)
    for _ in range(args.rounds):
        for name, fn in candidates.items():
            times[name] += step_times(fn, per_round)
    ms = {name: round(1000 * float(np.median(t)), 3) for name, t in times.items()}

    def graph_ops(fn, *inputs):
        return len(tf.function(fn).get_concrete_function(*inputs).graph.get_operations())

    ops = {
        "forward_and_loss": graph_ops(lambda a, b: forward(a, b)[1], xt, yt),
        "forward_loss_and_gradient": graph_ops(forward_and_gradient, xt, yt),
        "step_keras_adam": len(function_trainer._compiled_step.get_concrete_function(xt, yt).graph.get_operations()),
        "step_fused_adam": len(fused_trainer._compiled_step.get_concrete_function(xt, yt).graph.get_operations()),
    }
    small_a, small_b = tf.constant(1.0), tf.constant(2.0)
    for _ in range(100):
        tf.add(small_a, small_b)
    began = time.perf_counter()
    for _ in range(2000):
        tf.add(small_a, small_b)
    dispatch_us = (time.perf_counter() - began) / 2000 * 1e6

    traces = {}
    for name, wrap in (("plain_tf_function", lambda f: tf.function(f)),
                       ("reduce_retracing", lambda f: tf.function(f, reduce_retracing=True))):
        count = []

        def body(a):
            count.append(1)  # runs once per trace
            return tf.reduce_sum(model(a, training=False))

        fn = wrap(body)
        for size in (64, 64, 16, 64, 48):
            fn(tf.constant(x[:size] if size <= len(x) else np.resize(x, (size, *x.shape[1:]))))
        traces[name] = len(count)

    gap_ms = ms["eager"] - ms["function"]
    result = {
        "model": "mnist_cnn", "batch_size": args.batch_size, "device": runtime.device_description(),
        **runtime.versions(), "steps": per_round * args.rounds, "rounds": args.rounds,
        "command": " ".join(["python"] + sys.argv),
        "ms_per_step": ms,
        "graph_ops": ops,
        "eager_dispatch_us_per_small_op": round(dispatch_us, 2),
        "eager_gap_ms": round(gap_ms, 3),
        "eager_gap_explained_by_dispatch_ms": round(ops["step_keras_adam"] * dispatch_us / 1000, 3),
        "traces_over_batches_64_64_16_64_48": traces,
    }
    feed.close()
    in_graph.close()
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    width = max(map(len, ms))
    for name, value in ms.items():
        print(f"{name:<{width}}  {value:8.3f} ms  {value / ms['legacy_feed_dict']:5.2f}x")
    print(f"ops per traced graph: {ops}")
    print(f"eager dispatch of one small op: {dispatch_us:.1f} us; step ops x dispatch = "
          f"{result['eager_gap_explained_by_dispatch_ms']:.2f} ms of the {gap_ms:.2f} ms eager-minus-function gap")
    print(f"traces over batches 64, 64, 16, 64, 48: {traces}")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
