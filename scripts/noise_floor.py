#!/usr/bin/env python3
"""Measures the figures behind parity/tolerances.py. By default, over several batch streams: the
teacher-forced steps the training_steps check judges (legacy graph against the Keras model, and
against Keras with its default Adam epsilon), beside free-running trainings (how far the styles
part when matched, how far each parts from itself when its start moves by one float32 ulp, and
how far Keras' default Adam epsilon moves them). With --accuracy: the test figure after the
recipe in both styles from starts one ulp apart, the floor of the accuracy check."""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

KERAS_DEFAULT_EPSILON = 1e-7
FIRST_STEPS = 10  # the free-running table's first columns: the early steps where the styles still agree


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="mnist_cnn")
    parser.add_argument("--dataset", default="auto")
    parser.add_argument("--steps", type=int,
                        help="default: the model's parity steps (with --accuracy: its accuracy steps)")
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

    from parity import checks, pair, registry, report, tolerances, transfer
    from parity.runners import KerasRunner
    from parity.training_data import prepare_data

    spec = registry.get(args.model)
    tol = tolerances.for_spec(spec)
    data = prepare_data(spec, args.dataset)
    steps = args.steps or spec.parity_steps
    batch_size = args.batch_size or spec.parity_batch_size or spec.recipe.batch_size
    print(f"data: {data.dataset.summary()}", file=sys.stderr)
    k = min(FIRST_STEPS, steps)

    def restart(runner, start):
        runner.set_weights(start)
        runner.reset_optimizer()

    def forced(legacy, other, start, seed, dead):
        """The teacher-forced steps as the parity run takes them, and the training_steps check's figures."""
        restart(legacy, start)
        restart(other, start)
        records = checks.teacher_forced_steps(legacy, other, data.batches(batch_size, seed), steps)
        check = checks.training_steps(legacy.names, legacy.trainable_mask, records, tol, dead)
        return {"loss": check.figures["max_loss_diff"],
                "weights": max(diff for r in records for diff, *_ in r.weights),
                "weights_to_tolerance": check.figures["max_weight_diff_to_tolerance"],
                "passed": check.passed}

    def free(runner, start, seed):
        """The losses of a free run of `steps` from `start`, and the weights after its first k."""
        restart(runner, start)
        batches = data.batches(batch_size, seed)
        losses = runner.train(batches, k)
        after_first = runner.get_weights()
        if steps > k:
            losses += runner.train(batches, steps - k)
        return np.array(losses), after_first

    def nudged(weights):
        return [np.nextafter(w, np.inf, dtype=np.float32) if i == 0 else w for i, w in enumerate(weights)]

    teacher_forced, free_running = {}, {}
    for seed in range(args.streams):
        _, legacy, eager = pair.build_runners(spec, seed, "function")
        try:
            keras_default = KerasRunner.from_spec(spec, seed=seed, epsilon=KERAS_DEFAULT_EPSILON)
            transfer.transfer(legacy, eager)
            start = legacy.get_weights()
            x, y = data.batch_at(0, batch_size)
            dead = checks.dead_variables(legacy, x, y, tol)
            for name, other in (("legacy vs eager", eager), ("legacy vs eager, Keras default epsilon", keras_default)):
                teacher_forced.setdefault(name, []).append(forced(legacy, other, start, seed, dead))
            runs = {
                "legacy": free(legacy, start, seed),
                "legacy, start +1 ulp": free(legacy, nudged(start), seed),
                "eager": free(eager, start, seed),
                "eager, start +1 ulp": free(eager, nudged(start), seed),
                "eager, Keras default epsilon": free(keras_default, start, seed),
            }
        finally:
            legacy.close()
        for a, b in (("legacy", "eager"), ("legacy", "legacy, start +1 ulp"), ("eager", "eager, start +1 ulp"),
                     ("legacy", "eager, Keras default epsilon")):
            (la, wa), (lb, wb) = runs[a], runs[b]
            diff = np.abs(la - lb)
            free_running.setdefault(f"{a} vs {b}", []).append(
                {"first_losses": float(diff[:k].max()),
                 "weights_after_first": max(float(np.abs(p - q).max()) for p, q in zip(wa, wb)),
                 "all_losses": float(diff.max())})
        print(f"batch stream {seed + 1} of {args.streams} measured", file=sys.stderr)

    def summarize(comparisons):
        return {name: {key: {"min": min(r[key] for r in rows), "max": max(r[key] for r in rows)}
                       for key in rows[0] if key != "passed"} for name, rows in comparisons.items()}

    def cell(s, key):
        return f"{s[key]['min']:.1e}..{s[key]['max']:.1e}"

    forced_summary, free_summary = summarize(teacher_forced), summarize(free_running)
    for name, rows in teacher_forced.items():
        forced_summary[name]["passed"] = sum(r["passed"] for r in rows)
    print(f"teacher-forced, {steps} steps, {args.streams} streams (the training_steps check):")
    print(f"{'comparison':<44} {'max loss diff':>18} {'max weight diff':>18} {'weight diff / tol':>18} passed")
    for name, s in forced_summary.items():
        print(f"{name:<44} {cell(s, 'loss'):>18} {cell(s, 'weights'):>18} {cell(s, 'weights_to_tolerance'):>18} "
              f"{s['passed']} of {args.streams}")
    print(f"tolerances: loss {tol.step_loss_atol.value:g}, weights {tol.step_weights_atol.value:g} + "
          f"{tol.step_weights_rtol.value:g}*|w| (weight diff / tol above 1 fails)")
    print(f"free-running, {steps} steps (not judged step by step; the accuracy check compares where they end):")
    print(f"{'comparison':<44} {'first ' + str(k) + ' losses':>18} {'weights after ' + str(k):>18} "
          f"{'all ' + str(steps) + ' losses':>18}")
    for name, s in free_summary.items():
        print(f"{name:<44} {cell(s, 'first_losses'):>18} {cell(s, 'weights_after_first'):>18} "
              f"{cell(s, 'all_losses'):>18}")
    report.write_json(args.json, {
        "model": spec.name, "dataset": data.dataset.name, "steps": steps, "batch_size": batch_size,
        "streams": args.streams,
        "tolerances": {name: getattr(tol, name).value
                       for name in ("step_loss_atol", "step_weights_atol", "step_weights_rtol")},
        "teacher_forced": forced_summary,
        "free_running": {"first_steps": k, "comparisons": free_summary}})


def accuracy_floor(args):
    """Runs the shortened recipe in each style from the same start and from starts nudged by one ulp
    (the first and the last trainable tensor that is not all zero, up and down, then the others;
    --starts per style) and prints each test figure: the spread over all of them is the floor of
    the accuracy check."""
    import numpy as np

    from parity import registry, report, tolerances
    from parity.free_runs import free_run
    from parity.runners import GraphRunner, KerasRunner
    from parity.training_data import prepare_data

    spec = registry.get(args.model)
    tol = tolerances.for_spec(spec)
    data = prepare_data(spec, args.dataset)
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
    try:
        for style, runner in (("legacy", legacy), ("eager", eager)):
            for index, direction in nudges[:args.starts]:
                runner.set_weights(start if index is None else nudged(index, direction))
                runner.reset_optimizer()
                key = f"{style}, {label(index, direction)}"
                *_, runs[key], checkpoints = free_run(spec, runner, data, data.batches(batch_size, 0), steps)
                print(f"{key:<48} {runs[key]:.5g}", flush=True)
    finally:
        legacy.close()
    values = {style: [v for k, v in runs.items() if k.startswith(style)] for style in ("legacy", "eager")}
    for style, v in values.items():
        print(f"{style}: {min(v):.4g} to {max(v):.4g} (spread {max(v) - min(v):.4g}, mean {np.mean(v):.4g})")
    every = values["legacy"] + values["eager"]
    if len(checkpoints) > 1:
        print(f"each test figure read over the weights after steps {checkpoints}")
    print(f"all {len(every)} runs: spread {max(every) - min(every):.4g}; "
          f"the two styles from the same start {abs(runs['eager, start'] - runs['legacy, start']):.4g} apart")
    # The tolerances' rule (their reasons in parity/registry.py): twice the legacy graph's spread.
    floor = 2 * (max(values["legacy"]) - min(values["legacy"]))
    name = "reconstruction_atol" if spec.task == "reconstruction" else "accuracy_points"
    print(f"twice the legacy spread: {floor:.4g}; the check's tolerance {name}: {getattr(tol, name).value:g}")
    report.write_json(args.json, {"model": spec.name, "dataset": data.dataset.name, "steps": steps,
                                  "batch_size": batch_size, "checkpoints": checkpoints, "test_figures": runs,
                                  "twice_legacy_spread": floor, "tolerance": {name: getattr(tol, name).value}})


if __name__ == "__main__":
    main()
