"""A benchmark run: per model, its FLOPs counted, its styles built and warmed up, their timed steps
taken in turns, the rows assembled; the report."""
import time

from parity.bench import flops as flop_counts, machine, report, styles, timing
from parity.bench.settings import BASELINE, JAX_STYLES, PHASES, STYLES, synthetic_batch


def run(config, log=lambda message: None):
    """Runs the benchmark.

    Args:
        config: a BenchConfig; the baseline style is run even when not asked for, as every
            ratio needs it.
        log: called with a line of progress per model and style.

    Returns:
        The report: settings, machine, measured matmul peak, FLOP counts and `results`, one row
        per model, style and phase.
    """
    from parity import runtime

    if runtime.keras_backend() != "tensorflow":
        raise RuntimeError(f"tf-parity bench runs on Keras' TensorFlow backend, not {runtime.keras_backend()} "
                           f"(KERAS_BACKEND): the {' and '.join(JAX_STYLES)} styles time JAX in a process of their "
                           "own")
    asked = tuple(config.styles)
    if BASELINE not in asked:
        asked = (BASELINE,) + asked
    config.styles = tuple(s for s in STYLES if s in asked)
    memory = machine.Memory()
    jax_process = None
    if any(s in JAX_STYLES for s in config.styles):
        from parity.bench import jax_styles

        log("starting the JAX styles' process")
        jax_styles.use_device(config.device)
        jax_process = jax_styles.description()
    # A pair's legacy side is built first: a module, function or tensor name it cannot find fails
    # here, before the minutes of measuring.
    pairs = {spec.name: styles.Pair(spec, config.seed) for spec in config.specs() if spec.pair_legacy is not None}
    try:
        sizes = config.peak_sizes or machine.PEAK_SIZES
        log(f"measuring the float32 matmul peak ({', '.join(map(str, sizes))})")
        peak = machine.measure_matmul_peak(sizes)
        log(f"peak {peak['gflops_per_s']:.1f} GFLOP/s")
        rows, flops, settings = [], {}, {}
        for spec in config.specs():
            s = config.setting(spec)
            settings[spec.name] = {"batch_size": s.batch_size, "steps": s.steps, "warmup": s.warmup}
            model_rows, flops[spec.name] = bench_model(spec, config, peak["gflops_per_s"], memory, log,
                                                       pairs.get(spec.name))
            rows += model_rows
    finally:
        for pair in pairs.values():
            pair.close()
        if any(s in JAX_STYLES for s in config.styles):
            from parity.bench import jax_styles

            jax_styles.stop()
    result = report.assemble(config, settings, peak, flops, rows, memory.method, machine.threads())
    if jax_process is not None:
        result["jax_process"] = jax_process
    return result


def bench_model(spec, config, peak_gflops, memory, log=lambda message: None, pair=None):
    """Every asked style of one model, every phase it has; returns (rows, the FLOP counts)."""
    setting = config.setting(spec)
    if pair is None and spec.pair_legacy is not None:
        pair = styles.Pair(spec, config.seed)
    drivers, failed = {}, {}
    try:
        if pair is not None:
            spec = pair.spec
            flops = flop_counts.not_counted()
        else:
            log(f"{spec.name}: counting FLOPs at batch {setting.batch_size}")
            flops = flop_counts.count_flops(spec, setting.batch_size)
        flops["batch_size"] = setting.batch_size
        _forget_keras_state()
        ready = build_styles(spec, config, setting, pair, memory, drivers, failed, log)
        times = time_styles(spec, setting, drivers, ready, failed, log)
        rows = assemble_rows(spec, config.styles, setting, ready, times, failed, flops, peak_gflops)
        log(f"{spec.name}: " + ", ".join(f"{row['style']} {row['phase']} {row['ms_per_step']:.1f} ms"
                                          for row in rows if row.get("ms_per_step")))
    finally:
        for driver in drivers.values():
            driver.close()
        drivers.clear()
        if pair is not None:
            pair.close()
        _forget_keras_state()
    report.set_ratios(rows)
    return rows, flops


def build_styles(spec, config, setting, pair, memory, drivers, failed, log):
    """Builds and warms up each asked style in turn, its memory peak taken there; its driver goes
    into `drivers`, or (the stage it failed in, the error) into `failed`, as one style failing must
    not throw away the others' figures.

    Returns {style: {"build_s", "warm" (phase -> warm-up seconds), "memory"}} of those built.
    """
    x, y = synthetic_batch(spec, setting.batch_size, config.seed)
    ready = {}
    for style in config.styles:
        rss_start, stage = memory.start(), "build"
        try:
            began = time.perf_counter()
            drivers[style] = styles.build(spec, style, x, y, config.seed, pair)
            build_s = time.perf_counter() - began
            if isinstance(drivers[style], styles.PairLegacyStyle):
                build_s += pair.build_s
            warm = {}
            for stage in timing.phases(drivers[style]):
                warm[stage] = timing.warm_up(drivers[style], stage, setting.warmup)
            peak_rss = memory.peak()
            if style in JAX_STYLES or isinstance(drivers[style], styles.PairLegacyStyle) and pair.isolated:
                peak_rss = rss_start = None  # the model lives in another process
            ready[style] = {"build_s": build_s, "warm": warm, "memory": {
                "peak_rss_mb": peak_rss, "rss_start_mb": rss_start,
                "rss_growth_mb": None if rss_start is None or peak_rss is None else
                round(max(0.0, peak_rss - rss_start), 1)}}
            log(f"{spec.name} {style}: built in {build_s:.1f} s, warm-up " +
                ", ".join(f"{p} {warm[p]:.1f} s" for p in warm))
        except Exception as e:
            failed[style] = (stage, e)
            log(f"{spec.name} {style}: failed in {stage}: {_first_line(e)}")
    return ready


def time_styles(spec, setting, drivers, ready, failed, log):
    """The timed steps of every phase in timing.blocks, every ready style taking its block in turn,
    so that the drift of a shared machine weighs on all styles alike rather than on whichever ran
    last. Returns {(style, phase): step seconds}; a style failing a phase goes into `failed`."""
    times = {(style, phase): [] for style in ready for phase in ready[style]["warm"]}
    for phase in PHASES:
        for block in timing.blocks(setting.steps):
            for style in ready:
                if (style, phase) in failed or (style, phase) not in times:
                    continue
                try:
                    times[style, phase] += timing.timed(drivers[style], phase, block)
                except Exception as e:
                    failed[style, phase] = (phase, e)
                    log(f"{spec.name} {style}: failed in {phase}: {_first_line(e)}")
    return times


def assemble_rows(spec, asked, setting, ready, times, failed, flops, peak_gflops):
    """A row per style and phase, in the order of `asked` and PHASES: measured, or failed."""
    rows = []
    for style in asked:
        for phase in PHASES:
            error = failed.get(style) or failed.get((style, phase))
            if error:
                if phase != "loop":  # a style that failed to build has no loop row to miss
                    rows.append(report.failed_row(spec.name, style, phase, setting, error[1]))
                continue
            if (style, phase) not in times:
                continue
            r = ready[style]
            rows.append(report.row(spec.name, style, phase, setting, r["build_s"], r["warm"][phase],
                                   times[style, phase], flops[flop_counts.counted_phase(phase)]["flops"],
                                   peak_gflops, r["memory"]))
    return rows


def _first_line(error):
    return f"{type(error).__name__}: {(str(error).strip().splitlines() or [''])[0]}"


def _forget_keras_state():
    """Drops Keras' global state and collects the garbage, so one style's leftovers do not weigh on the next."""
    import keras

    keras.backend.clear_session(free_memory=True)
