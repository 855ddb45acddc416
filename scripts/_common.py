"""Argument handling shared by the seed-001 replay scripts."""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def parse(description, styles=None):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--dataset", default="auto", help="auto, mnist, fashion_mnist, digits or synthetic")
    parser.add_argument("--data-dir", help="folder searched first for data files")
    parser.add_argument("--out", default="results/seed001", help="folder for the PNGs and the JSON")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="stop after 1,000 iterations")
    parser.add_argument("--iterations", type=int, default=10_000,
                        help="run the document's stages (after 0, 1, 100, 1,000 and 10,000 iterations) "
                             "up to this many iterations; default 10,000")
    if styles:
        parser.add_argument("--style", default=styles[0], choices=styles)
    return parser.parse_args()


def load(args):
    from parity import datasets
    from parity.datasets import tutorial

    name = datasets.resolve(args.dataset, args.data_dir)
    data = datasets.load(name, args.data_dir)
    validation = min(5000, len(data.x_train) // 10)
    print(f"data: {data.summary()}", file=sys.stderr)
    return name, data.class_names, tutorial.data_sets(data, one_hot=True, validation_size=validation, seed=args.seed)


def stages(args):
    from parity import replay

    last = min(args.iterations, 1000) if args.quick else args.iterations
    chosen, total = [], 0
    for stage in replay.STAGES:
        total += stage[0]
        if total > last:
            break
        chosen.append(stage)
    return tuple(chosen)


def main(body):
    from parity.datasets import DataError

    try:
        body()
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as e:
        exit_if_diverged(e)
        raise


def exit_if_diverged(error):
    """Exits with status 3 and one line when `error` is a diverged training run."""
    runners = sys.modules.get("parity.runners")
    if runners and isinstance(error, runners.Diverged):
        print(f"error: {error}", file=sys.stderr)
        sys.exit(3)
