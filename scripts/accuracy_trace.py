#!/usr/bin/env python3
"""How steady is a model's test accuracy at the end of its free run? The accuracy check compares
one figure per style, so that figure must not jump from one step to the next.

Trains the model from the parity start (or from one tensor nudged by one float32 ulp, as
scripts/noise_floor.py --accuracy does) in each style asked for, and scores the whole test set
every --every steps from --from-step to --steps. For a batch-norm model it also scores the
weights of the worst-scored step and of the last with batch statistics (test batches of 250)
instead of the moving averages: if those figures are steady where the moving-average ones jump,
the moving averages are what lag. Writes the accuracies as JSON and as a PNG beside it.

    python scripts/accuracy_trace.py --model resnet18 --styles function \\
        --nudge prelayer/bn/gamma:+1 --json results/accuracy_trace_resnet18.json
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--dataset", default="auto")
    parser.add_argument("--styles", default="legacy,function",
                        help="comma-separated: legacy and any Keras style (eager, function, xla, fit)")
    parser.add_argument("--steps", type=int, help="default: the model's accuracy steps")
    parser.add_argument("--from-step", type=int, help="first step scored (default: 50 before --steps)")
    parser.add_argument("--every", type=int, default=10)
    parser.add_argument("--nudge", metavar="VARIABLE:+1|-1",
                        help="start from the parity start with this tensor's nonzero values one ulp up or down")
    parser.add_argument("--json", default="results/accuracy_trace.json")
    args = parser.parse_args()

    import numpy as np

    from eager_v2.training import STYLES
    from parity import metrics, plots, registry, report
    from parity.runners import GraphRunner, KerasRunner
    from parity.training_data import prepare_data

    styles = args.styles.split(",")
    unknown = [s for s in styles if s != "legacy" and s not in STYLES]
    if unknown:
        sys.exit(f"error: unknown style {', '.join(unknown)}; choose from legacy, {', '.join(STYLES)}")
    spec = registry.get(args.model)
    steps = args.steps or spec.accuracy_steps
    first = args.from_step if args.from_step is not None else max(args.every, steps - 50)
    if not 0 < first <= steps or args.every < 1:
        sys.exit(f"error: --from-step {first} and --every {args.every} must score steps 1 to {steps}")
    data = prepare_data(spec, args.dataset)
    print(f"data: {data.dataset.summary()}", file=sys.stderr)
    batch_size = spec.parity_batch_size or spec.recipe.batch_size

    legacy = GraphRunner.from_spec(spec, seed=0)
    start = legacy.get_weights()
    if args.nudge:
        name, _, direction = args.nudge.rpartition(":")
        if name not in legacy.names or direction not in ("+1", "-1"):
            sys.exit(f"error: --nudge {args.nudge}: give VARIABLE:+1 or VARIABLE:-1 with a variable of "
                     f"{spec.name}, such as {legacy.names[0]}:+1")
        i = legacy.names.index(name)
        start[i] = np.where(start[i] != 0, np.nextafter(start[i], int(direction) * np.inf, dtype=np.float32),
                            start[i])

    def batch_statistics_accuracy(runner):
        logits = np.concatenate([runner.forward(data.x_test[k:k + 250], training=True)
                                 for k in range(0, len(data.x_test), 250)])
        return 100.0 * float(np.mean(np.argmax(logits, axis=1) == data.y_test))

    scored = list(range(first, steps + 1, args.every))
    if scored[-1] != steps:
        scored.append(steps)
    traces, batch_stats, weights = {}, {}, {}
    for style in styles:
        runner = legacy if style == "legacy" else KerasRunner.from_spec(spec, seed=0, style=style)
        runner.set_weights(start)
        runner.reset_optimizer()
        batches, done, traces[style] = data.batches(batch_size, 0), 0, {}
        for step in scored:
            runner.train(batches, step - done)
            done = step
            traces[style][step] = metrics.accuracy_percent(runner, data)
            weights[step] = runner.get_weights()
            print(f"{style:>8} step {step}: {traces[style][step]:.2f}%", flush=True)
        if spec.batch_norm:
            worst = min(traces[style], key=traces[style].get)
            batch_stats[style] = {}
            for step in sorted({worst, steps}):
                # Restored each time: a Keras training-mode call also moves the moving averages.
                runner.set_weights(weights[step])
                batch_stats[style][step] = batch_statistics_accuracy(runner)
                print(f"{style:>8} step {step} with batch statistics: {batch_stats[style][step]:.2f}%", flush=True)
    for style, trace in traces.items():
        values = list(trace.values())
        print(f"{style}: {min(values):.2f}% to {max(values):.2f}% over steps {scored[0]}-{scored[-1]}")

    out = {"model": spec.name, "dataset": data.dataset.name, "batch_size": batch_size,
           "start": args.nudge or "parity start", "test_accuracy": traces,
           "batch_statistics_accuracy": batch_stats}
    report.write_json(args.json, out)
    png = plots.plot_accuracy_traces(Path(args.json).with_suffix(".png"), traces, batch_stats,
                                     f"{spec.name} test accuracy, start: {out['start']}")
    print(f"wrote {args.json}, {png}")


if __name__ == "__main__":
    main()
