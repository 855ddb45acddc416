#!/usr/bin/env python3
"""Why two styles' gradients part on one batch: the kinks (parity.kinks) behind it.

For the model's k-th parity batch, from the legacy graph and the Keras model on transferred
weights, in training mode: both losses, the worst relative gradient difference (dead variables left out, as
the gradients check leaves them), the first kink op
whose inputs differ and by how much, and every kink where the styles are on different sides.
Then the same with grappler's arithmetic optimizer off while the Keras graph is first run (on
resnet18 that puts every kink input on the graph's value bit for bit).

    python scripts/kink_report.py --model resnet18 --batch 0
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--dataset", default="auto")
    parser.add_argument("--batch", type=int, default=0, help="which slice of the training images (default 0)")
    parser.add_argument("--batch-size", type=int, help="default: the model's parity batch size")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import numpy as np

    from parity import checks, kinks, pair, registry, tolerances, transfer
    from parity.runners import KerasRunner
    from parity.training_data import prepare_data
    from parity.runtime import import_tensorflow

    tf = import_tensorflow()
    spec = registry.get(args.model)
    data = prepare_data(spec, args.dataset)
    batch_size = args.batch_size or spec.parity_batch_size or spec.recipe.batch_size
    x, y = data.batch_at(args.batch, batch_size)
    print(f"{spec.name}, batch {args.batch} of {batch_size} from {data.dataset.summary()}")
    _, legacy, eager = pair.build_runners(spec, args.seed, "function")
    transfer.transfer(legacy, eager)
    loss_l, grads_l, ops_l, values_l = legacy.gradients_and_kinks(x, y)
    names = [n for n, t in zip(legacy.names, legacy.trainable_mask) if t]
    dead = set(checks.dead_variables(legacy, x, y, tolerances.for_spec(spec)))

    def compare(title, runner):
        saved = runner.get_weights()
        loss_e, grads_e, ops_e, values_e = runner.gradients_and_kinks(x, y)
        runner.set_weights(saved)
        worst = checks.worst_relative(names, grads_l, grads_e, dead, tolerances.DEFAULT.gradient_rtol.value)[:2]
        print(f"\n{title}\n  loss: legacy {loss_l:.7f}, eager {loss_e:.7f}")
        print(f"  worst relative gradient difference: {worst[0]:.3g} at {worst[1]} ({len(dead)} dead variables left out)")
        parted = next(((op.name, float(np.max(np.abs(a - b)))) for op, a, b in zip(ops_l, values_l, values_e)
                       if a.shape == b.shape and not np.array_equal(a, b)), None)
        print(f"  kink inputs ({len(ops_l)} ops): " + ("equal bit for bit" if parted is None else
                                                         f"first differ at {parted[0]}, by up to {parted[1]:.3g}"))
        crossed = kinks.crossings(ops_l, values_l, ops_e, values_e)
        for c in crossed:
            print(f"  crossing: {c.describe()}")
        if not crossed:
            print("  no crossing: both styles are on the same side of every kink")

    compare("Keras model as tf.function (the parity check's gradients)", eager)
    tf.config.optimizer.set_experimental_options({"arithmetic_optimization": False})
    try:
        plain = KerasRunner.from_spec(spec, seed=args.seed)
        transfer.transfer(legacy, plain)
        compare("the same, with grappler's arithmetic optimizer off in the Keras graph", plain)
    finally:
        tf.config.optimizer.set_experimental_options({"arithmetic_optimization": True})
    legacy.close()


if __name__ == "__main__":
    main()
