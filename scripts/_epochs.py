"""Argument handling shared by the epoch-based replays (seeds 000, 002, 003 and 004)."""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def run(model, description, styles, epochs, validation_freq, batch_size):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--style", default=styles[0], choices=styles)
    parser.add_argument("--dataset", default="auto", help="auto (the document's data, else a stated stand-in), or a name")
    parser.add_argument("--data-dir", help="folder searched first for data files")
    parser.add_argument("--epochs", type=int, default=epochs)
    parser.add_argument("--steps-per-epoch", type=int,
                        help="default: one pass over the training images")
    parser.add_argument("--batch-size", type=int, default=batch_size, help=f"default: the document's, {batch_size}")
    parser.add_argument("--out", default=f"results/{model}")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from parity import registry, replay
    from parity.datasets import DataError
    from parity.progress import Progress
    from parity.training_data import prepare_data

    spec = registry.get(model)
    try:
        data = prepare_data(spec, args.dataset, args.data_dir)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    print(f"data: {data.dataset.summary()}", file=sys.stderr)
    steps = args.steps_per_epoch or -(-len(data.x_train) // args.batch_size)
    try:
        replay.replay_epochs(spec, args.style, data, args.epochs, steps, args.batch_size, args.out, args.seed,
                             validation_freq, progress=Progress)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as e:
        from _common import exit_if_diverged

        exit_if_diverged(e)
        raise
