#!/usr/bin/env python3
"""Seed 001 end to end with the Keras 3 model (tf.function by default; --style eager, xla or fit):
the same stages, table and plots as seed001_legacy.py."""
from _common import load, main, parse, stages


def run():
    args = parse(__doc__, styles=("function", "eager", "xla", "fit"))
    from parity import replay

    name, class_names, data = load(args)
    with replay.KerasSeed001(data, style=args.style, seed=args.seed, class_names=class_names) as keras_run:
        replay.replay_seed001(keras_run, data, args.out, args.style, name, stages=stages(args))


if __name__ == "__main__":
    main(run)
