"""`tf-parity bench`: what a training step and an inference step cost in each style, model by model.

Each style's inference step, training step and training loop (the phases infer, train and loop) are
timed on one fixed synthetic batch, the styles taking turns, against the legacy graph fed through
feed_dict (BASELINE); FLOPs are counted on the legacy graph, the float32 matmul peak and each
style's memory measured. The parts, each documenting what it measures:

  settings  the styles, phases, baseline, BenchConfig and the synthetic batch;
  styles    what each style runs (its docstring lists them), the drivers that build and run them;
  jax_styles  the styles on Keras' JAX backend, timed in a process of their own;
  timing    the phases, the warm-up, the timed blocks taken in turns;
  flops     the FLOP count of a step;
  machine   the matmul peak, the threads, the memory figures;
  measure   a run: build, time and assemble, model by model;
  report    the rows, ratios, report, table and chart.
"""
from parity.bench import flops, machine, measure, report, settings, styles, timing  # noqa: F401
from parity.bench.flops import count_flops
from parity.bench.measure import bench_model, run
from parity.bench.report import format_table, plot_ratios
from parity.bench.settings import (BASELINE, JAX_STYLES, LOOP_COMPILED, MULTI_STEPS, PHASES, STYLES, BenchConfig,
                                   Setting, default_styles, synthetic_batch)

__all__ = ["BASELINE", "JAX_STYLES", "LOOP_COMPILED", "MULTI_STEPS", "PHASES", "STYLES", "BenchConfig", "Setting",
           "bench_model", "count_flops", "default_styles", "format_table", "plot_ratios", "run", "synthetic_batch"]
