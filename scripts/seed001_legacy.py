#!/usr/bin/env python3
"""Seed 001 end to end in the TF1 graph style: accuracy untrained and after 1, 100, 1,000 and
10,000 iterations of 64, with the document's plots, to set beside the document's table."""
from _common import load, main, parse, stages


def run():
    args = parse(__doc__)
    from parity import replay

    name, class_names, data = load(args)
    with replay.GraphSeed001(data, seed=args.seed, class_names=class_names) as session_run:
        replay.replay_seed001(session_run, data, args.out, "legacy", name, stages=stages(args))


if __name__ == "__main__":
    main(run)
