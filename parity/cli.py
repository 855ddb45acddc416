"""The `tf-parity` command: parses, checks every argument and output path before any model is
built, dispatches.

Exit status:
  0    success: every check passed
  1    a parity check failed or was not informative (or a benchmark style failed, its row
       written as an error)
  2    a usage or input error, or a file that could not be written: one line on stderr, no
       traceback, nothing half-written
  3    a training run diverged: its loss turned NaN or infinite, at the step named
  4    tf-parity itself failed (a bug): its traceback, then one line; never 1, which is a verdict
  130  interrupted by SIGINT (Ctrl-C), 143 by SIGTERM; stderr says what was left on disk
"""
import argparse
import sys
from pathlib import Path

from parity import config, interrupts, outputs, registry
from parity.datasets import DATASETS, DataError

LEGACY_STYLES = ("legacy",)
EAGER_STYLES = config.EAGER_STYLES
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_DIVERGED, EXIT_SIGINT, EXIT_SIGTERM = 0, 1, 2, 3, 130, 143
EXIT_CRASH = 4
SEED_RANGE = config.SEED_RANGE


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(f"{message} (see: {self.prog} --help)")


def _model(name):
    try:
        return registry.get(name)
    except registry.UnknownModel as e:
        raise UsageError(str(e)) from None


RUN_DEFAULTS = {"dataset": "auto", "seed": 0, "eager_style": "function"}


def _target(args):
    """(spec, run options): a registered model (--model), or the user's pair from its flags, a
    --config file, or the current folder's pyproject.toml; the run options (dataset, steps...) from
    the flags, over the file's, over the defaults. Everything is checked before any model is built."""
    flags = {key: getattr(args, key.replace("-", "_"), None) for key in config.PAIR_KEYS}
    flags["endpoint"] = _endpoints(getattr(args, "endpoint", None))
    run = {key: getattr(args, key.replace("-", "_"), None) for key in config.RUN_KEYS}
    # convert's --checkpoint is the checkpoint to convert, for a registered model as for a pair.
    given = [k for k, v in flags.items() if v not in (None, [], {}) and not (k == "checkpoint" and
                                                                          args.command == "convert")]
    if args.model:
        if given or args.config:
            raise UsageError(f"--model names a registered model; --{given[0] if given else 'config'} belongs to a "
                             "pair of your own: give one or the other")
        spec, file_options = _model(args.model), {}
    else:
        file_options = config.read(args.config) if args.config else (None if given else config.from_pyproject())
        if not given and file_options is None:
            raise UsageError(f"give --model (one of: {', '.join(registry.MODELS)}) or your own pair: --legacy "
                             "package.module:function (or --legacy-meta FILE.meta --checkpoint PREFIX and the tensor "
                             "names) with --eager package.module:function, or --config pair.toml")
        if given and not args.config:
            flags["search-path"] = str(Path.cwd())
        spec = config.pair_spec(config.merge(file_options, flags))
    merged = config.merge({k.replace("-", "_"): v for k, v in (file_options or {}).items() if k in config.RUN_KEYS},
                          {k.replace("-", "_"): v for k, v in run.items()})
    return spec, {**{k.replace("-", "_"): None for k in config.RUN_KEYS}, **RUN_DEFAULTS, **merged}


def _endpoints(items):
    pairs = {}
    for item in items or ():
        name, sep, tensor = item.partition("=")
        if not sep or not name or not tensor:
            raise UsageError(f"--endpoint {item!r}: expected NAME=TENSOR, such as conv1=Relu:0")
        pairs[name] = tensor
    return pairs


def _dataset(name):
    if name != "auto" and name not in DATASETS and not str(name).endswith(".npz"):
        raise UsageError(f"unknown dataset {name!r}; choose one of: auto, {', '.join(DATASETS)}")
    return name


def _locate_data(run, spec):
    """Finds the run's data set (a bad --data-dir or $TF_PARITY_DATA, a missing .npz, or files `auto`
    cannot place, fail here); the files themselves are read, and checked, when the run loads them."""
    from parity import datasets

    datasets.search_roots(run["data_dir"])
    if str(run["dataset"]).endswith(".npz"):
        if not Path(run["dataset"]).is_file():
            raise UsageError(f"--dataset {run['dataset']}: no such file (a .npz of x_train, y_train, x_test, y_test)")
        return
    datasets.resolve(run["dataset"], run["data_dir"], spec.data)


def _has_matplotlib():
    import importlib.util

    return importlib.util.find_spec("matplotlib") is not None


def _device(args):
    """Hides or requires the GPU as --device asks, before any model is built; what the report states."""
    from parity import runtime

    try:
        return runtime.select_device(getattr(args, "device", None) or "auto")
    except RuntimeError as e:
        raise UsageError(str(e)) from None


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


def cmd_scan(args):
    """Scans the sources; exit 1 where a finding reaches --fail-on, 2 on input scan cannot read."""
    from parity import mapping, scan, scan_cross

    layer_pairs = scan_cross.layer_pairs_from_map(mapping.read_map(args.map)) if args.map else None
    if args.json:
        _writable(args.json)
    try:
        result = scan.run(args.paths, legacy=args.legacy, eager=args.eager,
                          upgrade_report=not args.no_upgrade_report, layer_pairs=layer_pairs)
    except scan.ScanError as e:
        raise UsageError(str(e)) from None
    formats = {"text": scan.format_text, "json": scan.format_json, "sarif": scan.format_sarif}
    print(formats[args.format](result))
    if args.json:
        with outputs.atomic(args.json, "scan report") as tmp:
            tmp.write_text(scan.format_json(result) + "\n")
        print(f"wrote {outputs.named(args.json)}", file=sys.stderr if args.format != "text" else sys.stdout)
    return EXIT_FAILED if args.fail_on != "never" and result.failing(args.fail_on) else EXIT_OK


def cmd_inspect(args):
    """What a saved graph holds and would do, read without importing or running any of it."""
    from parity import inspect_graph, report

    for path in (args.json, args.toml):
        if path:
            _writable(path)
    try:
        kind, meta_graph, graph_def = inspect_graph.read(args.graph)
    except inspect_graph.InspectError as e:
        raise UsageError(str(e)) from None
    data = inspect_graph.describe(kind, meta_graph, graph_def)
    skeleton = inspect_graph.skeleton(data, args.graph, Path(args.toml).parent if args.toml else ".")
    data["pair_toml"] = skeleton
    print(inspect_graph.format_text(data, args.graph))
    print(f"\na pair file to start from{' (' + str(args.toml) + ')' if args.toml else ''}:\n{skeleton}", end="")
    with outputs.together():
        if args.json:
            report.write_json(args.json, data, "inspection")
        if args.toml:
            with outputs.atomic(args.toml, "pair file") as tmp:
                tmp.write_text(skeleton)
    written = [outputs.named(p) for p in (args.json, args.toml) if p]
    if written:
        print("wrote " + ", ".join(written))
    return EXIT_OK


def _progress_factory():
    from parity.progress import Progress

    return Progress


def cmd_train(args):
    spec, run = _target(args)
    _style(args.style, LEGACY_STYLES + EAGER_STYLES)
    _dataset(run["dataset"])
    _positive("--steps", run["steps"])
    _positive("--batch-size", run["batch_size"])
    _seed(run["seed"])
    _locate_data(run, spec)
    if args.save and args.style != "legacy":
        if not args.save.endswith(".weights.h5"):
            raise UsageError(f"--save for a Keras style must end in .weights.h5, got {args.save!r}")
    if args.save:
        _writable(args.save)
        if args.style == "legacy":
            _writable(Path(args.save).parent / "checkpoint")
    json_path = _writable(Path(args.out) / f"train_{spec.name}_{args.style}.json")
    from parity import checkpoints, report, training

    config = training.TrainConfig(model=spec.name, style=args.style, dataset=run["dataset"],
                                  data_dir=run["data_dir"], steps=run["steps"], batch_size=run["batch_size"],
                                  seed=run["seed"], save=args.save,
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

    device = _device(args)
    result = training.train(spec, config, progress=_progress_factory(), log=_log)
    r = result["report"]
    r["device_settings"] = device
    with outputs.together():
        report.write_json(json_path, r)
        plots.plot_loss_curves(png_path, {args.style: result["losses"]}, f"{spec.name}, {args.style}, {r['dataset']}")
    if result["keeper"] is not None:
        checkpoints.remove(result["keeper"].path)
    metric = f"test accuracy {r['test_accuracy']:.2f}%" if "test_accuracy" in r else \
        f"test reconstruction loss {r['test_reconstruction_loss']:.5f}"
    print(f"{spec.name} ({args.style}) on {r['dataset']}: {r['steps']} steps in {r['train_seconds']:.1f} s "
          f"({r['ms_per_step']:.2f} ms/step); {metric}")
    print(f"wrote {outputs.named(json_path)} and {outputs.named(png_path)}" + (f"; weights saved to {r['saved']}" if r.get("saved") else ""))
    return EXIT_OK


def _same_run(path, meta, settings):
    from parity import checkpoints

    try:
        checkpoints.check_settings(path, meta, settings)
    except checkpoints.CheckpointError as e:
        raise UsageError(str(e)) from None


def cmd_parity(args):
    spec, run = _target(args)
    _dataset(run["dataset"])
    _style(run["eager_style"], EAGER_STYLES)
    _positive("--steps", run["steps"])
    _positive("--accuracy-steps", run["accuracy_steps"])
    _positive("--batch-size", run["batch_size"])
    _seed(run["seed"])
    _locate_data(run, spec)
    json_path = _writable(args.json or Path("results") / f"parity_{spec.name}.json")
    from parity import checkpoints, free_runs, plots, report, suite

    companions = {"curves": _writable(report.companion(json_path, "_loss.png"))}
    if spec.task == "reconstruction":
        companions["reconstructions"] = _writable(report.companion(json_path, "_reconstructions.png"))
    config = suite.ParityConfig(model=spec.name, dataset=run["dataset"], data_dir=run["data_dir"],
                                steps=run["steps"], accuracy_steps=run["accuracy_steps"], seed=run["seed"],
                                eager_style=run["eager_style"], batch_size=run["batch_size"],
                                checkpoint_every=args.checkpoint_every, resume=args.resume,
                                checkpoint_prefix=str(json_path), spec=spec if spec.pair_legacy else None)
    paths = {style: checkpoints.path_for(json_path, style) for style in ("legacy", config.eager_style)}
    for style, path in paths.items():
        # The eager style's free run starts after the legacy's: its checkpoint may not exist yet.
        meta = _checkpointing(args, path) if style == "legacy" or path.exists() else None
        if meta is not None:
            _same_run(path, meta, free_runs.checkpoint_settings(spec, config, style))
            config.checkpoint_every = config.checkpoint_every or meta["checkpoint_every"]
    device = _device(args)
    result, curves, reconstructions = suite.run(config, progress=_progress_factory(), log=_log)
    result["settings"]["device"] = device
    written = [json_path]
    with outputs.together():
        if curves:
            written.append(plots.plot_loss_curves(
                companions["curves"], curves,
                f"{spec.name} on {result['dataset']}: legacy graph vs {config.eager_style}, same start and batches"))
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
    print("wrote " + ", ".join(map(outputs.named, written)))
    if result.get("diverged"):
        runs = "; ".join(f"{d['style']} in the {d['phase']}: {d['reason']}" for d in result["diverged"])
        print(f"tf-parity: training diverged: {runs}. {report.divergence_advice(result)}", file=sys.stderr)
        return EXIT_DIVERGED
    return EXIT_OK if result["passed"] else EXIT_FAILED


def cmd_record(args):
    if args.checkpoint_every or args.resume:
        raise UsageError("record runs whole: --checkpoint-every and --resume belong to train and parity")
    spec, run = _target(args)
    _dataset(run["dataset"])
    _positive("--steps", run["steps"])
    _positive("--accuracy-steps", run["accuracy_steps"])
    _positive("--batch-size", run["batch_size"])
    _seed(run["seed"])
    _locate_data(run, spec)
    from parity import golden, suite

    out = Path(args.out)
    if out.exists() and not (out / golden.JSON_NAME).is_file():
        raise UsageError(f"--out {out}: exists and is not a record; name a new folder")
    _writable(out / golden.JSON_NAME)
    steps = run["steps"] or min(spec.parity_steps, golden.COMPACT_STEPS if args.compact else golden.RECORD_STEPS)
    config = suite.ParityConfig(model=spec.name, dataset=run["dataset"], data_dir=run["data_dir"], steps=steps,
                                accuracy_steps=run["accuracy_steps"], seed=run["seed"], batch_size=run["batch_size"],
                                spec=spec if spec.pair_legacy else None)
    _device(args)
    record, size = golden.record_run(config, out, log=_log, progress=_progress_factory(), endpoints=not args.compact)
    legacy = record["legacy"]
    figure = (f"test reconstruction loss {legacy['test_reconstruction_loss']}" if "test_reconstruction_loss" in legacy
              else f"test accuracy {legacy.get('test_accuracy')}%")
    print(f"recorded {record['model']}'s legacy side on {record['dataset']['name']}: {len(record['answers'])} answers, "
          f"{record['settings']['steps']} teacher-forced steps, {record['settings']['accuracy_steps']} free-running "
          f"({figure}, {legacy.get('ms_per_step')} ms/step); wrote {out} ({size} MB)")
    if record["diverged"]:
        print(f"tf-parity: the legacy side diverged: {record['diverged'][0]['reason']}", file=sys.stderr)
        return EXIT_DIVERGED
    return EXIT_OK


def cmd_verify(args):
    from parity import golden, report, suite

    record = golden.read(args.golden)
    if args.model and args.model != record["model"]:
        raise UsageError(f"--golden {args.golden} is a record of {record['model']}, not {args.model}")
    given = any(getattr(args, k.replace("-", "_"), None) for k in ("legacy", "legacy-meta", "eager", "config"))
    if given:
        spec, _ = _target(args)
    elif record["model"] in registry.MODELS:
        spec = registry.get(record["model"])
    else:
        raise UsageError(f"--golden {args.golden} is a record of your pair {record['model']!r}: give its Keras side "
                         "with --config pair.toml (or --eager package.module:function)")
    _style(args.eager_style, EAGER_STYLES)
    settings = record["settings"]
    dataset = record["dataset"]["requested"] if str(record["dataset"]["requested"]).endswith(".npz") else \
        record["dataset"]["name"]
    run = {"dataset": dataset, "data_dir": args.data_dir}
    _locate_data(run, spec)
    json_path = _writable(args.json or Path("results") / f"verify_{record['model']}.json")
    png_path = _writable(report.companion(json_path, "_loss.png")) if _has_matplotlib() else None
    config = suite.ParityConfig(model=spec.name, dataset=dataset, data_dir=args.data_dir, steps=settings["steps"],
                                accuracy_steps=settings["accuracy_steps"], seed=settings["seed"],
                                eager_style=args.eager_style, batch_size=settings["batch_size"],
                                spec=spec if spec.pair_legacy else None)
    device = _device(args)
    result, curves, _ = golden.verify_run(record, config, log=_log, progress=_progress_factory())
    result["settings"]["device"] = device
    with outputs.together():
        if png_path is not None:
            from parity import plots

            plots.plot_loss_curves(png_path, curves, f"{spec.name}: recorded legacy graph vs {args.eager_style}")
            result["loss_curves_png"] = str(png_path)
        report.write_json(json_path, result)
    print(report.format_parity(result))
    print(golden.describe_environments(result))
    print(f"wrote {outputs.named(json_path)}" + (f", {outputs.named(png_path)}" if png_path else " (no loss-curve PNG: matplotlib is not installed)"))
    if result.get("diverged"):
        return EXIT_DIVERGED
    return EXIT_OK if result["passed"] else EXIT_FAILED


def cmd_convert(args):
    out = str(args.out)
    if not out.endswith(".weights.h5"):
        raise UsageError(f"--out must end in .weights.h5 (Keras 3 writes no other weights format), got {out!r}")
    _writable(out)
    from parity import convert

    if not args.model and not args.legacy and not args.legacy_meta and not args.config and args.eager:
        if not args.map:
            raise UsageError("with only --eager, convert needs --map naming the legacy variable of every Keras "
                             "weight; or give the legacy side too (--legacy or --legacy-meta)")
        checkpoint = _checkpoint_to_convert(args.checkpoint)
        from parity.pair import EagerSource

        source = EagerSource(model=args.eager, map=args.map, search_path=str(Path.cwd()))
        figures = convert.with_map_only(source, checkpoint, out)
        print(f"converted {figures['variables']} variables from {checkpoint} to {out} by the map {args.map}; "
              "no legacy graph was given, so the outputs were not compared")
        return EXIT_OK
    spec, _ = _target(args)
    # A pair's config may name its checkpoint; --checkpoint is then the one converted.
    checkpoint = _checkpoint_to_convert(args.checkpoint or (spec.pair_legacy.checkpoint if spec.pair_legacy else None))
    figures = convert.checkpoint_to_keras(spec, checkpoint, out)
    print(f"converted {figures['variables']} variables of {spec.name} from {checkpoint} to {out}; "
          f"outputs on {figures['images']} random inputs agree within {figures['max_abs_diff']:.2g}")
    return EXIT_OK


def _checkpoint_to_convert(path):
    """The checkpoint's prefix; a missing or wrong path fails here, before any model is built."""
    from parity import transfer

    if not path:
        raise UsageError("--checkpoint is required: the TF1 Saver checkpoint to convert")
    transfer.checkpoint_prefix(path)
    return path


def cmd_map(args):
    from parity import mapping, pair

    spec, _ = _target(args)
    spec, legacy, eager = pair.build_runners(spec)
    legacy.close()
    names = [w.path for w in eager.model.weights]
    shapes = [tuple(w.shape) for w in eager.model.weights]
    entries = mapping.read_map(spec.pair_eager.map) if spec.pair_eager and spec.pair_eager.map else None
    print(mapping.table(mapping.plan(legacy.names, legacy.shapes, names, shapes, entries)))
    return EXIT_OK


LOOP_COMPILED_ON_CPU = ("XLA's CPU backend runs a loop of training steps compiled as one computation many times "
                        "slower than one step a call: parity/bench/styles.py")


def cmd_bench(args):
    from parity import bench

    pair = None
    if args.model == "all":
        models = tuple(registry.MODELS)
    elif args.model in registry.MODELS or args.model is None:
        pair, _ = _target(args)
        models = (pair if pair.pair_legacy is not None else pair.name,)
    else:
        raise UsageError(f"unknown model {args.model!r}; choose one of: all, {', '.join(registry.MODELS)}")
    asked = tuple(s.strip() for s in args.styles.split(",") if s.strip()) if args.styles else None
    if asked is not None and not asked:
        raise UsageError(f"--styles names no style; choose from: {', '.join(bench.STYLES)}")
    for style in asked or ():
        _style(style, bench.STYLES)
    styles = asked or bench.default_styles(on_gpu=True)
    from parity import runtime

    if runtime.keras_backend() != "tensorflow":
        raise UsageError(f"tf-parity bench runs on Keras' TensorFlow backend, not {runtime.keras_backend()} "
                         "(unset KERAS_BACKEND): its styles jax_function and jax_scan time JAX in a process of "
                         "their own")
    missing = [s for s in asked or () if s in bench.JAX_STYLES and s not in bench.default_styles(on_gpu=True)]
    if missing:
        raise UsageError(f"--styles {missing[0]}: JAX is not installed")
    if pair is not None and pair.pair_legacy is not None:
        if asked and "legacy_tf_data" in asked:
            raise UsageError("--styles legacy_tf_data: a pair's own graph reads its placeholders; its legacy side "
                             "is timed as legacy_feed_dict")
        jax_asked = [s for s in asked or () if s in bench.JAX_STYLES]
        if jax_asked:
            raise UsageError(f"--styles {jax_asked[0]}: the JAX styles time the registered models; a pair's port is "
                             "timed on the TensorFlow backend")
        styles = tuple(s for s in styles if s != "legacy_tf_data" and s not in bench.JAX_STYLES)
    _positive("--batch-size", args.batch_size)
    _positive("--steps", args.steps)
    _positive("--warmup", args.warmup)
    json_path = _writable(args.json)
    from parity import report

    png_path = _writable(report.companion(json_path, "_ratios.png"))
    import shlex

    device = _device(args)
    left_out = ()
    if asked is None and not device["device"].startswith("GPU"):
        left_out = tuple(s for s in styles if s in bench.LOOP_COMPILED)
        styles = tuple(s for s in styles if s not in left_out)
    config = bench.BenchConfig(models=models, styles=styles, batch_size=args.batch_size, steps=args.steps,
                               warmup=args.warmup, command=shlex.join(["tf-parity", *args.argv]),
                               device=getattr(args, "device", None) or "auto")
    result = bench.run(config, log=_log)
    result["device_settings"] = device
    if left_out:
        result["left_out"] = {"styles": list(left_out), "why": LOOP_COMPILED_ON_CPU}
    with outputs.together():
        report.write_json(json_path, result)
        bench.plot_ratios(png_path, result)
    print(bench.format_table(result))
    if left_out:
        print(f"left out on a CPU: {', '.join(left_out)} ({LOOP_COMPILED_ON_CPU}); --styles names them")
    print(f"wrote {outputs.named(json_path)} and {outputs.named(png_path)}")
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

    p = sub.add_parser("scan", help="find the catalogue's pitfalls in the sources of a TF1 model, its port, or both")
    p.add_argument("paths", nargs="*", metavar="PATH", help="Python files or folders to scan")
    p.add_argument("--legacy", metavar="DIR", help="the TF1 tree; with --eager its settings are compared with the port's")
    p.add_argument("--eager", metavar="DIR", help="the Keras 3 port's tree")
    p.add_argument("--map", help="a map file (see tf-parity map) whose pairs name TF1 layers after Keras layers")
    p.add_argument("--format", choices=("text", "json", "sarif"), default="text", help="output (default text)")
    p.add_argument("--json", metavar="PATH", help="also write the findings as JSON to PATH (--format json prints them)")
    p.add_argument("--fail-on", choices=("error", "warning", "note", "never"), default="error",
                   help="exit 1 where a finding is at this level or above (default error)")
    p.add_argument("--no-upgrade-report", action="store_true",
                   help="skip tf_upgrade_v2's analysis (read from the TensorFlow wheel without importing TensorFlow)")
    p.set_defaults(func=cmd_scan)

    p = sub.add_parser("inspect", help="list a saved graph's ops, variables, placeholders and the likely names of "
                                       "its inputs, logits, loss and train op, without running any of it")
    p.add_argument("graph", metavar="GRAPH", help="a .meta, a frozen GraphDef .pb or .pbtxt, or a SavedModel folder")
    p.add_argument("--json", metavar="PATH", help="also write the inspection as JSON")
    p.add_argument("--toml", metavar="PATH", help="also write the pair file it suggests")
    p.set_defaults(func=cmd_inspect)

    def common(p, steps_help):
        p.add_argument("--model", help=f"a registered model: {', '.join(registry.MODELS)}; or check your own pair "
                                       "with --legacy/--legacy-meta and --eager, or --config")
        p.add_argument("--dataset", help="auto (the model's own data, else a stated stand-in), one of: "
                                         f"{', '.join(DATASETS)}, or a .npz of x_train, y_train, x_test, y_test")
        p.add_argument("--data-dir", help="folder searched first for data files")
        p.add_argument("--steps", type=int, help=steps_help)
        p.add_argument("--batch-size", type=int, help="default: the document's (a pair's: 64)")
        p.add_argument("--seed", type=int, help="initial weights and batch order (default 0)")
        p.add_argument("--checkpoint-every", type=int, metavar="N",
                       help="write a training checkpoint (weights, optimizer state, data position) every N steps, "
                            "beside the report; a finished run removes it")
        p.add_argument("--resume", action="store_true",
                       help="continue from the checkpoint an interrupted run with the same settings left")
        device_argument(p)
        pair_arguments(p)

    p = sub.add_parser("train", help="train one model in one style with the document's recipe")
    common(p, "training steps (default: the document's full recipe)")
    p.add_argument("--style", required=True, help=f"one of: {', '.join(LEGACY_STYLES + EAGER_STYLES)}")
    p.add_argument("--out", default="results", help="folder for the JSON and the loss-curve PNG")
    p.add_argument("--save", help="save the trained weights: a Saver checkpoint prefix (legacy) or "
                                  "a .weights.h5 file (eager styles)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("parity", help="run the six parity checks on one model, or on your own pair")
    common(p, "teacher-forced training steps compared one by one (default: the model's; 200 for mnist_cnn, "
              "50 for a pair)")
    p.add_argument("--accuracy-steps", type=int, help="steps of the recipe before comparing test accuracy "
                                                      "(default: the model's shortened recipe; 500 for a pair)")
    p.add_argument("--eager-style", help=f"one of: {', '.join(EAGER_STYLES)} (default function)")
    p.add_argument("--json", help="report path (default results/parity_MODEL.json); the loss curves PNG "
                                  "goes beside it")
    p.set_defaults(func=cmd_parity)

    p = sub.add_parser("record", help="run the legacy side once and write its golden record, for verify to check "
                                      "the port against anywhere")
    common(p, "teacher-forced steps recorded (default: the model's, at most 10)")
    p.add_argument("--accuracy-steps", type=int, help="steps of the legacy free run whose test figure is recorded "
                                                      "(default: the model's shortened recipe; 500 for a pair)")
    p.add_argument("--out", required=True, help="the record's folder (record.json and arrays.npz)")
    p.add_argument("--compact", action="store_true", help="record 3 teacher-forced steps and no layer outputs (a "
                                                          "forward check that fails then names no layer): a record "
                                                          "small enough to carry (see README)")
    p.set_defaults(func=cmd_record)

    p = sub.add_parser("verify", help="run the six checks on the Keras side alone, against a golden record")
    p.add_argument("--golden", required=True, help="a record folder tf-parity record wrote")
    p.add_argument("--model", help="the registered model the record must be of (default: the record's)")
    p.add_argument("--eager-style", default="function", help=f"one of: {', '.join(EAGER_STYLES)} (default function)")
    p.add_argument("--data-dir", help="folder searched first for the record's data set")
    device_argument(p)
    p.add_argument("--json", help="report path (default results/verify_MODEL.json); the loss curves PNG goes "
                                  "beside it")
    pair_arguments(p)
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("bench", help="time a training and an inference step in every style, against the "
                                     "legacy graph fed by feed_dict")
    p.add_argument("--model", help=f"all, or one of: {', '.join(registry.MODELS)}; or time your own pair with "
                                   "--legacy/--legacy-meta and --eager, or --config")
    p.add_argument("--styles", help="comma-separated, default all: legacy_feed_dict, legacy_tf_data (not for a pair), "
                                    "eager, function, function_multi, xla, xla_multi, fit, fit_multi, jax_function "
                                    "and jax_scan (on JAX, in a process of their own; where JAX is installed; not for "
                                    "a pair) (legacy_feed_dict always runs: every ratio is to it)")
    p.add_argument("--batch-size", type=int, help="images per step (default: per model, its ModelSpec.bench in "
                                                  "parity/registry.py; a pair's: 64)")
    p.add_argument("--steps", type=int, help="timed steps per style and phase (default: per model)")
    p.add_argument("--warmup", type=int, help="untimed steps before them, the first included (default: per model)")
    p.add_argument("--json", default="results/bench.json", help="report path (default results/bench.json); "
                                                                 "the ratio chart goes beside it")
    device_argument(p)
    pair_arguments(p)
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("convert", help="copy a TF1 Saver checkpoint into the Keras model's .weights.h5")
    p.add_argument("--model", help=f"a registered model: {', '.join(registry.MODELS)}; or your own pair's flags")
    p.add_argument("--out", required=True, help="the .weights.h5 file to write")
    pair_arguments(p, checkpoint_help="the TF1 Saver checkpoint to convert: its prefix, .index file, or folder "
                                      "(required)")
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser("map", help="which Keras weight takes which legacy variable, side by side")
    p.add_argument("--model", help=f"a registered model: {', '.join(registry.MODELS)}; or your own pair's flags")
    pair_arguments(p)
    p.set_defaults(func=cmd_map)
    return parser


def device_argument(p):
    p.add_argument("--device", choices=("auto", "cpu", "gpu"), default="auto",
                   help="cpu hides every GPU; gpu requires one (TF32 off and deterministic ops there); auto "
                        "(default) takes what there is. The Keras backend is KERAS_BACKEND's (tensorflow, jax, torch)")


def pair_arguments(p, checkpoint_help=None):
    """The flags that name a user's own pair; every one is also a key of a --config file."""
    g = p.add_argument_group("your own pair (each flag is also a key of a --config TOML file)")
    g.add_argument("--config", help="a TOML file naming the pair and its run (or a pyproject.toml with a "
                                    "[tool.tf-parity] table, which is also read from the current folder)")
    g.add_argument("--name", help="the pair's name, used in report names (default: the legacy module's)")
    g.add_argument("--legacy", help="package.module:function building the TF1 graph; it returns an object or dict "
                                    "naming inputs, labels, logits, loss, train_op (optional: train_feeds, "
                                    "eval_feeds, training, endpoints, variables)")
    g.add_argument("--legacy-meta", help="a saved .meta graph, in place of --legacy (with --checkpoint and the "
                                         "tensor names below)")
    g.add_argument("--checkpoint", help=checkpoint_help or "the legacy weights to start from: a Saver checkpoint "
                                                           "prefix, its .index file, or folder")
    for flag, what in (("--inputs", "input placeholder"), ("--labels", "label placeholder"),
                       ("--logits", "output tensor"), ("--loss", "loss tensor"),
                       ("--training", "bool placeholder of batch norm's mode")):
        g.add_argument(flag, help=f"with --legacy-meta: the {what}, as tf.compat.v1 prints it (x:0)")
    g.add_argument("--train-op", help="with --legacy-meta: the train op's name")
    g.add_argument("--feed", action="append", metavar="TENSOR=VALUE",
                   help="fed in every comparison to switch randomness off (keep_prob:0=1.0); repeatable")
    g.add_argument("--train-feed", action="append", metavar="TENSOR=VALUE",
                   help="fed while the legacy graph trains on its own (keep_prob:0=0.5); repeatable")
    g.add_argument("--endpoint", action="append", metavar="NAME=TENSOR",
                   help="a named intermediate output, compared by the layer-shapes check with the Keras layer of "
                        "that name; repeatable")
    g.add_argument("--eager", help="package.module:function returning the keras.Model port")
    g.add_argument("--optimizer", help="package.module:function returning its Keras optimizer (default: the one "
                                       "the legacy train op applies, with its settings read from the graph)")
    g.add_argument("--keras-loss", help="the port's loss: softmax_cross_entropy, sparse_softmax_cross_entropy, "
                                        "sigmoid_cross_entropy, mean_squared_error, or package.module:function "
                                        "(default: what the legacy loss computes)")
    g.add_argument("--reduction", choices=("mean", "sum"), help="of a named --keras-loss (default mean)")
    g.add_argument("--map", help="a JSON or TOML file pairing legacy variables with Keras weights where creation "
                                 "order and shape do not (see tf-parity map)")
    g.add_argument("--params", type=int, help="the trainable parameter count both sides must have")
    g.add_argument("--trust-graph", action="store_true", default=None,
                   help="run an imported graph (--legacy-meta) even where its ops read or write files, reach the "
                        "network, run Python or block on queues; by default such a graph is refused before any of it "
                        "runs (tf-parity inspect lists its ops), and the report records the choice")
    g.add_argument("--legacy-process", choices=("isolated", "inline"),
                   help="run the legacy side in a process of its own (default), so a module that disables v2 "
                        "behaviour at import works unchanged; or in this one")


def main(argv=None):
    from parity.checkpoints import CheckpointError
    from parity.config import ConfigError
    from parity.golden import RecordError
    from parity.legacy import LegacyError
    from parity.mapping import MappingError
    from parity.transfer import TransferError

    parser = build_parser()
    outputs.reset()
    restore = interrupts.install()
    try:
        args = parser.parse_args(argv)
    except UsageError as e:
        restore()
        print(f"tf-parity: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except BaseException:  # --help and --version exit here, as argparse does
        restore()
        raise
    try:
        args.argv = list(sys.argv[1:] if argv is None else argv)
        from parity import runtime

        runtime.torch_environment(getattr(args, "device", None))
        if args.command is None:
            parser.print_help()
            return EXIT_USAGE
        return args.func(args)
    except (UsageError, DataError, TransferError, CheckpointError, LegacyError, ConfigError, MappingError,
            RecordError) as e:
        print(f"tf-parity: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as e:
        print(f"tf-parity: error: {_os_error(e)}; {outputs.left_on_disk()}", file=sys.stderr)
        return EXIT_USAGE
    except interrupts.Terminated:
        print(f"tf-parity: terminated (SIGTERM); {outputs.left_on_disk()}", file=sys.stderr)
        return EXIT_SIGTERM
    except KeyboardInterrupt as e:
        if interrupts.from_signal():
            print(f"tf-parity: interrupted (SIGINT); {outputs.left_on_disk()}", file=sys.stderr)
            return EXIT_SIGINT
        return _user_code_failed(e)
    except SystemExit as e:  # code the run called (a port's layer, a loss) exited: no check may pass so
        return _user_code_failed(e)
    except _diverged() as e:
        from parity.report import LEARNING_RATE_ADVICE

        advice = getattr(e, "advice", None) or LEARNING_RATE_ADVICE
        print(f"tf-parity: {e}; {outputs.left_on_disk()}. {advice}", file=sys.stderr)
        return EXIT_DIVERGED
    except Exception as e:
        failed = _trusted_op_failed(e)
        if failed:
            print(f"tf-parity: error: {failed}; {outputs.left_on_disk()}", file=sys.stderr)
            return EXIT_USAGE
        return _user_code_failed(e) if _user_frame(e) else _crashed(e)
    finally:
        restore()


def _trusted_op_failed(error):
    """The line for a TensorFlow error raised by one of the graph's own file, network or Python ops
    (run with --trust-graph): the graph's failure, not tf-parity's. None for any other error."""
    op = getattr(error, "op", None)
    if op is None or not hasattr(op, "node_def") or "tensorflow" not in type(error).__module__:
        return None
    from parity import graph_trust

    what = graph_trust.classify(op.node_def, lambda op_type: True)
    if what is None:
        return None
    text = (str(getattr(error, "message", error)).strip().splitlines() or [""])[0]
    return (f"the graph's {op.type} op {op.name!r} ({what}) failed as it ran: {type(error).__name__}: {text}; "
            "no check completed")


def _user_frame(error):
    from parity.legacy import user_frame

    return user_frame(error.__traceback__)


def _user_code_failed(error):
    """Exit 2 for an error that the user's code raised (or a sys.exit or KeyboardInterrupt of its
    own) while the run called it: one line naming it and where, no traceback."""
    from parity.legacy import user_error

    print(f"tf-parity: error: {user_error(error, 'your code', 'raised')}; {outputs.left_on_disk()}", file=sys.stderr)
    return EXIT_USAGE


def _crashed(error):
    """Exit 4, never 1 (a check failed), for an error of tf-parity's own: its traceback, then one line."""
    import traceback

    traceback.print_exception(type(error), error, error.__traceback__, file=sys.stderr)
    text = (str(error).strip().splitlines() or [""])[0]
    print(f"tf-parity: internal error (a bug in tf-parity, not in your pair): {type(error).__name__}: {text}; "
          f"{outputs.left_on_disk()}. Please report it with the traceback above", file=sys.stderr)
    return EXIT_CRASH


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
