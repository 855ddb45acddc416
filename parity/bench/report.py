"""The benchmark's results: a row per model, style and phase, the ratios to the baseline, the
report, the text table and the ratio chart."""
import numpy as np

from parity.bench.settings import BASELINE, MULTI_STEPS, PHASES, STYLES


def row(model, style, phase, setting, build_s, warm_s, times, flops, peak_gflops, memory):
    """A measured row: the median of the step times and their spread, rates, warm-up, memory."""
    ms = 1000.0 * np.asarray(times)
    median = float(np.median(ms))
    p10, p25, p75, p90 = (float(v) for v in np.percentile(ms, [10, 25, 75, 90]))
    gflops = flops / (median / 1000.0) / 1e9 if flops else None
    return {
        "model": model, "style": style, "phase": phase,
        "batch_size": setting.batch_size, "steps": len(times), "warmup_steps": setting.warmup,
        "ms_per_step": round(median, 4), "ms_p10": round(p10, 4), "ms_p25": round(p25, 4),
        "ms_p75": round(p75, 4), "ms_p90": round(p90, 4), "ms_mean": round(float(ms.mean()), 4),
        "ms_min": round(float(ms.min()), 4),
        "ratio": None,
        "images_per_s": round(setting.batch_size / (median / 1000.0), 2),
        "flops_per_step": flops,
        "gflops_per_s": round(gflops, 3) if gflops is not None else None,
        "peak_share": round(gflops / peak_gflops, 5) if gflops is not None and peak_gflops else None,
        "warmup_s": round(build_s + warm_s, 4), "build_s": round(build_s, 4),
        **memory,
    }


def failed_row(model, style, phase, setting, error):
    from parity.runners import Diverged

    return {"model": model, "style": style, "phase": phase, "batch_size": setting.batch_size, "steps": 0,
            "warmup_steps": setting.warmup, "ms_per_step": None, "ratio": None, "images_per_s": None,
            "gflops_per_s": None, "peak_share": None, "warmup_s": None, "peak_rss_mb": None, "rss_growth_mb": None,
            "error": f"{type(error).__name__}: {error}", "diverged": isinstance(error, Diverged)}


def set_ratios(rows):
    """Each row's ms/step over the baseline's in the same phase."""
    base = {r["phase"]: r["ms_per_step"] for r in rows if r["style"] == BASELINE and r["ms_per_step"]}
    for r in rows:
        if r["ms_per_step"] and r["phase"] in base:
            r["ratio"] = 1.0 if r["style"] == BASELINE else round(r["ms_per_step"] / base[r["phase"]], 4)


def assemble(config, settings, peak, flops, rows, memory_method, threads):
    """The report of a run (parity.bench.run)."""
    from parity import runtime

    versions = runtime.versions()
    return {
        "command": config.command,
        "device": runtime.device_description(),
        "tensorflow": versions["tensorflow"],
        "keras": versions["keras"],
        "threads": threads,
        "settings": {"models": [spec.name for spec in config.specs()], "styles": list(config.styles),
                     "phases": list(PHASES), "seed": config.seed, "per_model": settings,
                     "timing": "median of per-step times over the timed steps, each step ending in a sync "
                               "(Session.run fetch, .numpy() or float(loss)); time.perf_counter. Multi-step "
                               "styles and the loop phase: a call's time over its steps",
                     "multi_steps": MULTI_STEPS, "loop_steps_per_call": _steps_per_call(),
                     "memory": memory_method,
                     "flops": "profiler count on the legacy graph at the benchmark batch size, applied to every "
                              "style of the model"},
        "peak": {**peak, "method": "tf.function(tf.linalg.matmul) of square float32 matrices, best per-call time"},
        "flops": flops,
        "results": rows,
    }


def _steps_per_call():
    from eager_v2.blocks import STEPS_PER_CALL

    return {"function": STEPS_PER_CALL, "legacy_feed_dict": 1, "eager": 1, "xla": 1, "jax_function": 1,
            "fit": "one fit call, its batches from a generator"}


def _fmt(value, spec, missing="-"):
    return missing if value is None else format(value, spec)


def format_table(report):
    """The results as a text table, one line per model, phase and style."""
    lines = [f"{report['device']}, TensorFlow {report['tensorflow']}, Keras {report['keras']}; "
             f"float32 matmul peak {report['peak']['gflops_per_s']:.1f} GFLOP/s",
             f"{'model':<17} {'phase':<5} {'style':<16} {'ms/step (p10-p90)':>25} {'ratio':>6} {'img/s':>9} "
             f"{'GFLOP/s':>8} {'%peak':>6} {'warm-up s':>9} {'peak MB (+phase)':>16}"]
    order = {p: i for i, p in enumerate(("train", "loop", "infer"))}
    rows = sorted(report["results"], key=lambda r: (report["settings"]["models"].index(r["model"]),
                                                    order[r["phase"]], STYLES.index(r["style"])))
    for r in rows:
        if r.get("error"):
            lines.append(f"{r['model']:<17} {r['phase']:<5} {r['style']:<16} failed: {r['error'].splitlines()[0]}")
            continue
        ms = f"{r['ms_per_step']:.2f} ({r['ms_p10']:.2f}-{r['ms_p90']:.2f})"
        share = _fmt(None if r["peak_share"] is None else 100 * r["peak_share"], ".1f")
        memory = _fmt(r["peak_rss_mb"], ".0f") + (f" (+{r['rss_growth_mb']:.0f})" if r["rss_growth_mb"] is not None
                                                  else "")
        lines.append(f"{r['model']:<17} {r['phase']:<5} {r['style']:<16} {ms:>25} {_fmt(r['ratio'], '.2f'):>6} "
                     f"{r['images_per_s']:>9.1f} {_fmt(r['gflops_per_s'], '.2f'):>8} {share:>6} "
                     f"{r['warmup_s']:>9.2f} {memory:>16}")
    return "\n".join(lines)


def plot_ratios(path, report):
    """Bar chart of every style's ms/step over legacy_feed_dict's, one group per model and phase."""
    import matplotlib.pyplot as plt

    from parity import plots

    present = {(r["model"], r["phase"]) for r in report["results"]}
    groups = [(m, p) for m in report["settings"]["models"] for p in ("train", "loop", "infer") if (m, p) in present]
    styles = [s for s in report["settings"]["styles"] if s != BASELINE]
    ratios = {(r["model"], r["phase"], r["style"]): r["ratio"] for r in report["results"]}
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(groups) + 2), 4.5))
    width = 0.8 / len(styles)
    for i, style in enumerate(styles):
        values = [ratios.get((m, p, style)) or float("nan") for m, p in groups]
        positions = [g + (i - (len(styles) - 1) / 2) * width for g in range(len(groups))]
        # Bars grow from 1, up for slower, down for faster than the baseline.
        ax.bar(positions, [v - 1.0 for v in values], width, bottom=1.0, label=style)
    ax.axhline(1.0, color="black", linewidth=0.8, label=f"{BASELINE} (1)")
    ax.set_yscale("log")
    ax.set_xticks(range(len(groups)), [f"{m}\n{p}" for m, p in groups], fontsize=8)
    ax.set_ylabel(f"ms/step over {BASELINE} (log scale)")
    ax.set_title(f"Step time relative to the legacy graph fed by feed_dict (below 1: faster)\n{report['device']}, "
                 f"TensorFlow {report['tensorflow']}", fontsize=9)
    ax.legend(fontsize=7, ncol=len(styles) + 1, loc="upper center", bbox_to_anchor=(0.5, -0.16), frameon=False)
    return plots.save(fig, path)
