#!/usr/bin/env python3
"""Measures the figures behind parity/tolerances.py. By default: free-running trainings over several
batch streams, how far the styles part when matched, how far each parts from itself when its start
moves by one float32 ulp, and how far Keras' default Adam epsilon moves them. With --accuracy: the
test figure after the recipe in both styles from starts one ulp apart, the floor of the accuracy check."""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="mnist_cnn")
    parser.add_argument("--dataset", default="auto")
    parser.add_argument("--steps", type=int, help="default: the model's parity steps")
    parser.add_argument("--batch-size", type=int, help="default: the model's parity batch size")
    parser.add_argument("--streams", type=int, default=4, help="batch streams (seeds) to measure")
    parser.add_argument("--accuracy", action="store_true",
                        help="measure the free-running accuracy floor instead: the recipe's steps from starts "
                             "one ulp apart, test accuracy (or reconstruction loss) of each")
    parser.add_argument("--starts", type=int, default=4,
                        help="with --accuracy: runs per style, from the start and from starts one ulp away")
    parser.add_argument("--json", default="results/noise_floor.json")
    args = parser.parse_args()
    if args.accuracy:
        return accuracy_floor(args)

    import numpy as np

    from parity import registry, report, suite, tolerances
    from parity.runners import GraphRunner, KerasRunner

    spec = registry.get(args.model)
    tol = tolerances.for_spec(spec)
    data = suite.prepare_data(spec, args.dataset)
    steps = args.steps or spec.parity_steps
    batch_size = args.batch_size or spec.parity_batch_size or spec.recipe.batch_size
    print(f"data: {data.dataset.summary()}", file=sys.stderr)
    k = tol.early_steps

    def train(runner, start, seed):
        runner.set_weights(start)
        runner.reset_optimizer()
        losses, snaps = suite.train_in_segments(runner, data.batches(batch_size, seed),
                                                [k, steps], lambda i, loss: None)
        return np.array(losses), snaps[0]

    def nudged(weights):
        return [np.nextafter(w, np.inf, dtype=np.float32) if i == 0 else w for i, w in enumerate(weights)]

    comparisons = {}
    for seed in range(args.streams):
        legacy = GraphRunner.from_spec(spec, seed=seed)
        eager = KerasRunner.from_spec(spec, seed=seed)
        keras_default = KerasRunner.from_spec(spec, seed=seed, epsilon=1e-7)
        start = legacy.get_weights()
        runs = {
            "legacy": train(legacy, start, seed),
            "legacy, start +1 ulp": train(legacy, nudged(start), seed),
            "eager": train(eager, start, seed),
            "eager, start +1 ulp": train(eager, nudged(start), seed),
            "eager, Keras default epsilon": train(keras_default, start, seed),
        }
        legacy.close()
        for a, b in (("legacy", "eager"), ("legacy", "legacy, start +1 ulp"), ("eager", "eager, start +1 ulp"),
                     ("legacy", "eager, Keras default epsilon")):
            (la, wa), (lb, wb) = runs[a], runs[b]
            diff = np.abs(la - lb)
            row = comparisons.setdefault(f"{a} vs {b}", [])
            row.append({"early_loss": float(diff[:k].max()),
                        "early_weights": max(float(np.abs(x - y).max()) for x, y in zip(wa, wb)),
                        "all_loss": float(diff.max())})
        print(f"batch stream {seed + 1} of {args.streams} measured", file=sys.stderr)

    summary = {name: {key: {"min": min(r[key] for r in rows), "max": max(r[key] for r in rows)}
                      for key in rows[0]} for name, rows in comparisons.items()}
    print(f"{'comparison':<44} {'first ' + str(k) + ' losses':>18} {'weights after ' + str(k):>18} "
          f"{'all ' + str(steps) + ' losses':>18}")
    for name, s in summary.items():
        cells = [f"{s[key]['min']:.1e}..{s[key]['max']:.1e}" for key in ("early_loss", "early_weights", "all_loss")]
        print(f"{name:<44} {cells[0]:>18} {cells[1]:>18} {cells[2]:>18}")
    print(f"tolerances: first {k} losses {tol.early_loss_atol.value:g}, weights after {k} "
          f"{tol.early_weights_atol.value:g}, all losses {tol.loss_atol.value:g}")
    report.write_json(args.json, {"model": spec.name, "dataset": data.dataset.name, "steps": steps,
                                  "batch_size": batch_size,
                                  "streams": args.streams, "early_steps": k, "comparisons": summary})


def accuracy_floor(args):
    """Runs the shortened recipe in each style from the same start and from starts nudged by one ulp
    (the first and the last trainable tensor that is not all zero, up and down, then the others;
    --starts per style) and prints each test figure: the spread over all of them is the floor of
    the accuracy check."""
    import numpy as np

    from parity import registry, report, suite
    from parity.runners import GraphRunner, KerasRunner

    spec = registry.get(args.model)
    data = suite.prepare_data(spec, args.dataset)
    print(f"data: {data.dataset.summary()}", file=sys.stderr)
    batch_size = args.batch_size or spec.parity_batch_size or spec.recipe.batch_size
    steps = args.steps or spec.accuracy_steps
    legacy, eager = GraphRunner.from_spec(spec, seed=0), KerasRunner.from_spec(spec, seed=0)
    start = legacy.get_weights()
    # A zero moves by one ulp to 1e-45, which vanishes in the first sum it enters, so a tensor that
    # starts at zero (biases) repeats the start's run (it did, to the digit): only nonzero values
    # are nudged.
    movable = [i for i, (t, w) in enumerate(zip(legacy.trainable_mask, start)) if t and np.any(w)]
    first, last = movable[0], movable[-1]
    nudges = [(None, 0), (first, 1), (first, -1), (last, 1), (last, -1)]
    nudges += [(i, d) for i in movable[1:-1] for d in (1, -1)]
    if args.starts > len(nudges):
        sys.exit(f"error: --starts {args.starts}: {spec.name} has {len(nudges)} distinct starts "
                 "(the start and each nonzero trainable tensor one ulp up and down)")

    def nudged(index, direction):
        return [np.where(w != 0, np.nextafter(w, direction * np.inf, dtype=np.float32), w)
                if i == index else w for i, w in enumerate(start)]

    def label(index, direction):
        return "start" if index is None else f"{legacy.names[index]} {'+' if direction > 0 else '-'}1 ulp"

    runs = {}
    for style, runner in (("legacy", legacy), ("eager", eager)):
        for index, direction in nudges[:args.starts]:
            runner.set_weights(start if index is None else nudged(index, direction))
            runner.reset_optimizer()
            key = f"{style}, {label(index, direction)}"
            *_, runs[key], checkpoints = suite.free_run(spec, runner, data, data.batches(batch_size, 0), steps)
            print(f"{key:<48} {runs[key]:.5g}", flush=True)
    values = {style: [v for k, v in runs.items() if k.startswith(style)] for style in ("legacy", "eager")}
    for style, v in values.items():
        print(f"{style}: {min(v):.4g} to {max(v):.4g} (spread {max(v) - min(v):.4g}, mean {np.mean(v):.4g})")
    every = values["legacy"] + values["eager"]
    if len(checkpoints) > 1:
        print(f"each test figure read over the weights after steps {checkpoints}")
    print(f"all {len(every)} runs: spread {max(every) - min(every):.4g}; "
          f"the two styles from the same start {abs(runs['eager, start'] - runs['legacy, start']):.4g} apart")
    report.write_json(args.json, {"model": spec.name, "dataset": data.dataset.name, "steps": steps,
                                  "batch_size": batch_size, "checkpoints": checkpoints, "test_figures": runs})

if __name__ == "__main__":
    main()
