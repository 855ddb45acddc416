"""`tf-parity train`: one model, one style, the document's recipe (or a given number of steps)."""
import time

from parity import runtime, suite


def make_runner(spec, style, seed):
    from parity.runners import GraphRunner, KerasRunner

    if style == "legacy":
        return GraphRunner.from_spec(spec, seed=seed)
    return KerasRunner.from_spec(spec, seed=seed, style=style)


def train(spec, style, dataset="auto", data_dir=None, steps=None, batch_size=None, seed=0, save=None,
          progress=None, log=print):
    """Trains and tests; returns {"report": dict for the JSON, "losses": per-step losses}."""
    data = suite.prepare_data(spec, dataset, data_dir)
    log(f"data: {data.dataset.summary()}")
    steps = steps or spec.recipe.iterations
    batch_size = batch_size or spec.recipe.batch_size
    runner = make_runner(spec, style, seed)
    try:
        bar = progress(steps, f"{spec.name} {style}") if progress else None
        began = time.perf_counter()
        losses = runner.train(data.batches(batch_size, seed), steps,
                              lambda i, loss: bar and bar.update(1, f"loss {loss:.4f}"))
        seconds = time.perf_counter() - began
        if bar:
            bar.close()
        metric = suite.test_metric(spec, runner, data)
        saved = runner.save(save) if save else None
    finally:
        runner.close()
    versions = runtime.versions()
    report = {
        "model": spec.name, "style": style, "dataset": data.dataset.name, "dataset_source": data.dataset.source,
        "device": runtime.device_description(), "tensorflow": versions["tensorflow"], "keras": versions["keras"],
        "steps": steps, "batch_size": batch_size, "seed": seed,
        "train_seconds": round(seconds, 3), "ms_per_step": round(1000 * seconds / steps, 3),
        "final_loss": losses[-1], "saved": saved,
        **({"test_reconstruction_loss": round(metric, 5)} if spec.task == "reconstruction"
           else {"test_accuracy": round(metric, 2)}),
    }
    return {"report": report, "losses": losses}
