"""The `tf-parity` command: parses, checks every argument and output path before any model is
built, dispatches.

Exit status:
  0    success: every check passed
  1    a parity check failed or was not informative (or a benchmark style failed, its row
       written as an error)
  2    a usage or input error, or a file that could not be written: one line on stderr, no
       traceback, nothing half-written
  3    a training run diverged: its loss turned NaN or infinite, at the step named
  130  interrupted by SIGINT (Ctrl-C), 143 by SIGTERM; stderr says what was left on disk
"""
import argparse
import signal
import sys
from pathlib import Path

from parity import outputs, registry
from parity.datasets import DATASETS, DataError

LEGACY_STYLES = ("legacy",)
EAGER_STYLES = ("eager", "function", "xla", "fit")
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_DIVERGED, EXIT_SIGINT, EXIT_SIGTERM = 0, 1, 2, 3, 130, 143
SEED_RANGE = (0, 2**32 - 1)   # what NumPy's and Keras' seeding accept


class UsageError(Exception):
    pass


class Terminated(BaseException):
    """SIGTERM, raised like KeyboardInterrupt so that every `finally` cleans up on the way out."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(f"{message} (see: {self.prog} --help)")


def _model(name):
    try:
        return registry.get(name)
    except registry.UnknownModel as e:
        raise UsageError(str(e)) from None


def _dataset(name):
    if name != "auto" and name not in DATASETS:
        raise UsageError(f"unknown dataset {name!r}; choose one of: auto, {', '.join(DATASETS)}")
    return name


def _locate_data(args, spec):
    """Finds the run's data set (a bad --data-dir or $TF_PARITY_DATA, or files `auto` cannot place,
    fail here); the files themselves are read, and checked, when the run loads them."""
    from parity import datasets

    datasets.search_roots(args.data_dir)
    datasets.resolve(args.dataset, args.data_dir, spec.data)


def _style(name, allowed):
    if name not in allowed:
        raise UsageError(f"unknown style {name!r}; choose one of: {', '.join(allowed)}")
    return name


def _positive(name, value):
    if value is not None and value < 1:
        raise UsageError(f"{name} must be at least 1, got {value}")
    return value


def _seed(value):
    low, high = SEED_RANGE
    if not low <= value <= high:
        raise UsageError(f"--seed must be between {low} and {high}, got {value}")
    return value


def _writable(path):
    try:
        outputs.check_writable(path)
    except OSError as e:
        raise UsageError(str(e)) from None
    return Path(path)


def _checkpointing(args, path):
    """Checks --checkpoint-every and --resume against the checkpoint at `path` before any model is
    built; returns the checkpoint's header when resuming."""
    _positive("--checkpoint-every", args.checkpoint_every)
    if args.checkpoint_every or args.resume:
        _writable(path)
    return _read_meta(path) if args.resume else None


def _read_meta(path):
    from parity import checkpoints

    try:
        return checkpoints.read_meta(path)
    except checkpoints.CheckpointError as e:
        raise UsageError(str(e)) from None


def cmd_models(args):
    print(f"{'model':<18} {'input':<10} {'classes':>7}  {'parameters (trainable + non-trainable)':<40} recipe")
    for spec in registry.MODELS.values():
        r = spec.recipe
        params = f"{spec.total_params:,} ({spec.trainable_params:,} + {spec.non_trainable_params:,})"
        shape = "x".join(map(str, spec.input_shape))
        print(f"{spec.name:<18} {shape:<10} {spec.num_classes:>7}  {params:<40} "
              f"{r.optimizer} lr {r.learning_rate:g}, batch {r.batch_size}, {r.iterations:,} steps")
    return 0


def cmd_data(args):
    from parity import datasets
    from parity.datasets import adapt

    for row in datasets.describe(args.data_dir):
        print(f"{row.name:<16} {row.status:<8} {row.where}")
    print("\n--dataset auto, by model:")
    for spec in registry.MODELS.values():
        try:
            name = datasets.resolve("auto", args.data_dir, spec.data)
        except DataError as e:
            print(f"  {spec.name:<16} error: {e}")
            continue
        entry = datasets.DATASETS[name]
        # An autoencoder (num_classes 0) keeps every class, as prepare_data does.
        changes = adapt.plan(entry.image_shape, entry.num_classes, spec.input_shape,
                             spec.num_classes or entry.num_classes, spec.resize_proxy)
        fitted = f": {', '.join(changes)}" if changes else ""
        proxy = f" (a stand-in for {spec.data[0]}{fitted})" if name != spec.data[0] else ""
        print(f"  {spec.name:<16} {name}{proxy}")
    return 0


def cmd_pitfalls(args):
    from parity import pitfalls

    if args.markdown:
        print(pitfalls.markdown())
        return 0
    for p in pitfalls.CATALOGUE:
        print(f"{p.id}: {p.title}\n  TF1:      {p.legacy}\n  Keras 3:  {p.eager}\n  port:     {p.port}\n")
    return 0


def _progress_factory():
    from parity.progress import Progress

    return Progress


def cmd_train(args):
    spec = _model(args.model)
    _style(args.style, LEGACY_STYLES + EAGER_STYLES)
    _dataset(args.dataset)
    _positive("--steps", args.steps)
    _positive("--batch-size", args.batch_size)
    _seed(args.seed)
    _locate_data(args, spec)
    if args.save and args.style != "legacy":
        if not args.save.endswith(".weights.h5"):
            raise UsageError(f"--save for a Keras style must end in .weights.h5, got {args.save!r}")
    if args.save:
        _writable(args.save)
        if args.style == "legacy":
            _writable(Path(args.save).parent / "checkpoint")
    json_path = _writable(Path(args.out) / f"train_{spec.name}_{args.style}.json")
    from parity import checkpoints, report, training

    config = training.TrainConfig(model=spec.name, style=args.style, dataset=args.dataset, data_dir=args.data_dir,
                                  steps=args.steps, batch_size=args.batch_size, seed=args.seed, save=args.save,
                                  checkpoint=str(checkpoints.path_for(json_path, "state")),
                                  checkpoint_every=args.checkpoint_every, resume=args.resume)
    png_path = _writable(report.companion(json_path, "_loss.png"))
    meta = _checkpointing(args, config.checkpoint)
    steps, batch_size = training.plan(spec, config)
    if meta is not None:
        _same_run(config.checkpoint, meta, training.settings(spec, config, batch_size))
        if meta["step"] > steps:
            raise UsageError(f"{config.checkpoint} is at step {meta['step']}, past --steps {steps}")
        config.checkpoint_every = config.checkpoint_every or meta["checkpoint_every"]
    from parity import plots

    result = training.train(spec, config, progress=_progress_factory(), log=_log)
    r = result["report"]
    with outputs.together():
        report.write_json(json_path, r)
        plots.plot_loss_curves(png_path, {args.style: result["losses"]}, f"{spec.name}, {args.style}, {r['dataset']}")
    if result["keeper"] is not None:
        checkpoints.remove(result["keeper"].path)
    metric = f"test accuracy {r['test_accuracy']:.2f}%" if "test_accuracy" in r else \
        f"test reconstruction loss {r['test_reconstruction_loss']:.5f}"
    print(f"{spec.name} ({args.style}) on {r['dataset']}: {r['steps']} steps in {r['train_seconds']:.1f} s "
          f"({r['ms_per_step']:.2f} ms/step); {metric}")
    print(f"wrote {json_path} and {png_path}" + (f"; weights saved to {r['saved']}" if r.get("saved") else ""))
    return EXIT_OK


def _same_run(path, meta, settings):
    from parity import checkpoints

    try:
        checkpoints.check_settings(path, meta, settings)
    except checkpoints.CheckpointError as e:
        raise UsageError(str(e)) from None


def cmd_parity(args):
    spec = _model(args.model)
    _dataset(args.dataset)
    _style(args.eager_style, EAGER_STYLES)
    _positive("--steps", args.steps)
    _positive("--accuracy-steps", args.accuracy_steps)
    _positive("--batch-size", args.batch_size)
    _seed(args.seed)
    _locate_data(args, spec)
    json_path = _writable(args.json or Path("results") / f"parity_{spec.name}.json")
    from parity import checkpoints, plots, report, suite

    companions = {"curves": _writable(report.companion(json_path, "_loss.png"))}
    if spec.task == "reconstruction":
        companions["reconstructions"] = _writable(report.companion(json_path, "_reconstructions.png"))
    config = suite.ParityConfig(model=spec.name, dataset=args.dataset, data_dir=args.data_dir, steps=args.steps,
                                accuracy_steps=args.accuracy_steps, seed=args.seed, eager_style=args.eager_style,
                                batch_size=args.batch_size, checkpoint_every=args.checkpoint_every,
                                resume=args.resume, checkpoint_prefix=str(json_path))
    paths = {style: checkpoints.path_for(json_path, style) for style in ("legacy", args.eager_style)}
    for style, path in paths.items():
        # The eager style's free run starts after the legacy's: its checkpoint may not exist yet.
        meta = _checkpointing(args, path) if style == "legacy" or path.exists() else None
        if meta is not None:
            _same_run(path, meta, suite.checkpoint_settings(spec, config, style))
            config.checkpoint_every = config.checkpoint_every or meta["checkpoint_every"]
    result, curves, reconstructions = suite.run(config, progress=_progress_factory(), log=_log)
    written = [json_path]
    with outputs.together():
        if curves:
            written.append(plots.plot_loss_curves(
                companions["curves"], curves,
                f"{spec.name} on {result['dataset']}: legacy graph vs {args.eager_style}, same start and batches"))
            result["loss_curves_png"] = str(written[-1])
        if reconstructions:
            rows = {"original": reconstructions.pop("original"), **reconstructions}
            written.append(plots.plot_reconstructions(companions["reconstructions"], rows,
                                                      f"{spec.name}: test images over both styles' reconstructions"))
            result["reconstructions_png"] = str(written[-1])
        report.write_json(json_path, result)
    for path in paths.values():
        checkpoints.remove(path)
    print(report.format_parity(result))
    print("wrote " + ", ".join(map(str, written)))
    if result.get("diverged"):
        runs = "; ".join(f"{d['style']} in the {d['phase']}: {d['reason']}" for d in result["diverged"])
        print(f"tf-parity: training diverged: {runs}. Lower the learning rate, or check the data and the loss for "
              "values that overflow", file=sys.stderr)
        return EXIT_DIVERGED
    return EXIT_OK if result["passed"] else EXIT_FAILED


def cmd_convert(args):
    spec = _model(args.model)
    out = str(args.out)
    if not out.endswith(".weights.h5"):
        raise UsageError(f"--out must end in .weights.h5 (Keras 3 writes no other weights format), got {out!r}")
    _writable(out)
    from parity import convert, transfer

    transfer.checkpoint_prefix(args.checkpoint)  # a wrong path fails here, before the models are built

    figures = convert.checkpoint_to_keras(spec, args.checkpoint, out)
    print(f"converted {figures['variables']} variables of {spec.name} from {args.checkpoint} to {out}; "
          f"outputs on {figures['images']} random images agree within {figures['max_abs_diff']:.2g}")
    return 0


def cmd_bench(args):
    from parity import bench

    if args.model == "all":
        models = tuple(registry.MODELS)
    elif args.model in registry.MODELS:
        models = (args.model,)
    else:
        raise UsageError(f"unknown model {args.model!r}; choose one of: all, {', '.join(registry.MODELS)}")
    styles = tuple(s.strip() for s in args.styles.split(",") if s.strip()) if args.styles else bench.STYLES
    if not styles:
        raise UsageError(f"--styles names no style; choose from: {', '.join(bench.STYLES)}")
    for style in styles:
        _style(style, bench.STYLES)
    _positive("--batch-size", args.batch_size)
    _positive("--steps", args.steps)
    _positive("--warmup", args.warmup)
    json_path = _writable(args.json)
    from parity import report

    png_path = _writable(report.companion(json_path, "_ratios.png"))
    command = ["tf-parity", "bench", "--model", args.model]
    for flag, value in (("--styles", args.styles), ("--batch-size", args.batch_size), ("--steps", args.steps),
                        ("--warmup", args.warmup), ("--json", args.json)):
        if value is not None:
            command += [flag, str(value)]
    import shlex

    config = bench.BenchConfig(models=models, styles=styles, batch_size=args.batch_size, steps=args.steps,
                               warmup=args.warmup, command=shlex.join(command))
    result = bench.run(config, log=_log)
    with outputs.together():
        report.write_json(json_path, result)
        bench.plot_ratios(png_path, result)
    print(bench.format_table(result))
    print(f"wrote {json_path} and {png_path}")
    failed = [f"{r['model']} {r['style']} {r['phase']}" for r in result["results"] if r.get("error")]
    if failed:
        print(f"tf-parity: {len(failed)} measurements failed: {', '.join(failed)}", file=sys.stderr)
    if any(r.get("diverged") for r in result["results"]):
        return EXIT_DIVERGED
    return EXIT_FAILED if failed else EXIT_OK


def _log(message):
    print(message, file=sys.stderr)


def build_parser():
    parser = _Parser(prog="tf-parity", description="Prove that a TF1 graph model and its TF2 / Keras 3 port "
                                                   "are the same model: shapes, numbers, training, speed.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("models", help="list the registered models and their anchors")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("data", help="where each data set was found, or how to get it")
    p.add_argument("--data-dir", help="folder searched first")
    p.set_defaults(func=cmd_data)

    p = sub.add_parser("pitfalls", help="the migration pitfall catalogue")
    p.add_argument("--markdown", action="store_true", help="print PITFALLS.md")
    p.set_defaults(func=cmd_pitfalls)

    def common(p, steps_help):
        p.add_argument("--model", required=True, help=f"one of: {', '.join(registry.MODELS)}")
        p.add_argument("--dataset", default="auto", help="auto (MNIST, else Fashion-MNIST, else digits), "
                                                         f"or one of: {', '.join(DATASETS)}")
        p.add_argument("--data-dir", help="folder searched first for data files")
        p.add_argument("--steps", type=int, help=steps_help)
        p.add_argument("--batch-size", type=int, help="default: the document's")
        p.add_argument("--seed", type=int, default=0, help="initial weights and batch order (default 0)")
        p.add_argument("--checkpoint-every", type=int, metavar="N",
                       help="write a training checkpoint (weights, optimizer state, data position) every N steps, "
                            "beside the report; a finished run removes it")
        p.add_argument("--resume", action="store_true",
                       help="continue from the checkpoint an interrupted run with the same settings left")

    p = sub.add_parser("train", help="train one model in one style with the document's recipe")
    common(p, "training steps (default: the document's full recipe)")
    p.add_argument("--style", required=True, help=f"one of: {', '.join(LEGACY_STYLES + EAGER_STYLES)}")
    p.add_argument("--out", default="results", help="folder for the JSON and the loss-curve PNG")
    p.add_argument("--save", help="save the trained weights: a Saver checkpoint prefix (legacy) or "
                                  "a .weights.h5 file (eager styles)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("parity", help="run the six parity checks on one model")
    common(p, "teacher-forced training steps compared one by one (default: the model's; 200 for mnist_cnn)")
    p.add_argument("--accuracy-steps", type=int, help="steps of the recipe before comparing test accuracy "
                                                      "(default: the model's shortened recipe)")
    p.add_argument("--eager-style", default="function", help=f"one of: {', '.join(EAGER_STYLES)}")
    p.add_argument("--json", help="report path (default results/parity_MODEL.json); the loss curves PNG "
                                  "goes beside it")
    p.set_defaults(func=cmd_parity)

    p = sub.add_parser("bench", help="time a training and an inference step in every style, against the "
                                     "legacy graph fed by feed_dict")
    p.add_argument("--model", required=True, help=f"all, or one of: {', '.join(registry.MODELS)}")
    p.add_argument("--styles", help="comma-separated, default all: legacy_feed_dict, legacy_tf_data, eager, "
                                    "function, xla, fit (legacy_feed_dict always runs: every ratio is to it)")
    p.add_argument("--batch-size", type=int, help="images per step (default: per model, see parity/bench.py)")
    p.add_argument("--steps", type=int, help="timed steps per style and phase (default: per model)")
    p.add_argument("--warmup", type=int, help="untimed steps before them, the first included (default: per model)")
    p.add_argument("--json", default="results/bench.json", help="report path (default results/bench.json); "
                                                                 "the ratio chart goes beside it")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("convert", help="copy a TF1 Saver checkpoint into the Keras model's .weights.h5")
    p.add_argument("--model", required=True)
    p.add_argument("--checkpoint", required=True, help="checkpoint prefix, its .index file, or its folder")
    p.add_argument("--out", required=True, help="the .weights.h5 file to write")
    p.set_defaults(func=cmd_convert)
    return parser


def main(argv=None):
    from parity.checkpoints import CheckpointError
    from parity.transfer import TransferError

    parser = build_parser()
    outputs.reset()
    previous = signal.signal(signal.SIGTERM, _terminate) if _main_thread() else None
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return EXIT_USAGE
        return args.func(args)
    except (UsageError, DataError, TransferError, CheckpointError) as e:
        print(f"tf-parity: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as e:
        print(f"tf-parity: error: {_os_error(e)}; {outputs.left_on_disk()}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"tf-parity: interrupted (SIGINT); {outputs.left_on_disk()}", file=sys.stderr)
        return EXIT_SIGINT
    except Terminated:
        print(f"tf-parity: terminated (SIGTERM); {outputs.left_on_disk()}", file=sys.stderr)
        return EXIT_SIGTERM
    except _diverged() as e:
        print(f"tf-parity: {e}; {outputs.left_on_disk()}. Lower the learning rate, or check the data "
              "and the loss for values that overflow", file=sys.stderr)
        return EXIT_DIVERGED
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _main_thread():
    import threading

    return threading.current_thread() is threading.main_thread()


def _terminate(signum, frame):
    raise Terminated()


def _diverged():
    """runners.Diverged once TensorFlow is imported; an exception nothing raises before that."""
    runners = sys.modules.get("parity.runners")
    return runners.Diverged if runners else _NeverRaised


class _NeverRaised(Exception):
    pass


def _os_error(e):
    return f"{e.filename}: {e.strerror}" if e.filename and e.strerror else str(e)


if __name__ == "__main__":
    sys.exit(main())
