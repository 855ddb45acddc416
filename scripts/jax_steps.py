"""Times the eager tree's training steps on the Keras backend of this process (KERAS_BACKEND=jax on a
GPU machine without TensorFlow): per model and style, the median of the timed steps on one fixed
synthetic batch, each step ending in a host sync (the loss as a float). Writes a JSON report.

    KERAS_BACKEND=jax python scripts/jax_steps.py --out results/jax_steps.json [--device gpu]
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from parity import registry, runtime  # noqa: E402
from parity.bench import synthetic_batch  # noqa: E402


def time_steps(spec, style, batch_size, steps, warmup):
    from parity.runners import KerasRunner

    runner = KerasRunner.from_spec(spec, style=style)
    x, y = synthetic_batch(spec, batch_size)
    x = runner._images(x)
    began = time.perf_counter()
    for _ in range(warmup):
        runner.trainer.train_step(x, y)
    warm = time.perf_counter() - began
    times = []
    for _ in range(steps):
        began = time.perf_counter()
        loss = runner.trainer.train_step(x, y)
        times.append(time.perf_counter() - began)
    return {"model": spec.name, "style": style, "batch_size": batch_size, "steps": steps, "warmup_s": round(warm, 3),
            "ms_per_step": round(1000 * float(np.median(times)), 3),
            "ms_p10": round(1000 * float(np.percentile(times, 10)), 3),
            "ms_p90": round(1000 * float(np.percentile(times, 90)), 3), "last_loss": float(loss)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(registry.MODELS))
    parser.add_argument("--styles", default="function,eager")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--device", choices=runtime.DEVICES, default="auto")
    parser.add_argument("--out", default="results/jax_steps.json")
    args = parser.parse_args(argv)
    device = runtime.select_device(args.device)
    rows = []
    for name in args.models.split(","):
        spec = registry.get(name)
        for style in args.styles.split(","):
            row = time_steps(spec, style, spec.bench.batch_size, args.steps, args.warmup)
            print(f"{name:<17} {style:<9} {row['ms_per_step']:9.2f} ms/step (p10 {row['ms_p10']:.2f}, p90 "
                  f"{row['ms_p90']:.2f}), warm-up {row['warmup_s']:.1f} s", flush=True)
            rows.append(row)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"device": device, "keras_backend": runtime.keras_backend(), "results": rows}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
