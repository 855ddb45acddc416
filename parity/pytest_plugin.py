"""tf-parity's pytest plugin: your own test suite fails when your port parts from its TF1 original.

    def test_port_matches_the_tf1_graph(tf_parity):
        tf_parity(config="pair.toml")                     # or legacy=..., eager=..., dataset=...

`tf_parity` (also importable as parity.pytest_plugin.assert_parity) runs the six checks on the pair
and raises AssertionError whose message is the first check that did not pass: its name, its status
and where the styles part. Keyword arguments are the keys of a pair's TOML file, with underscores.
Installing tf-parity registers the plugin (entry point `pytest11`); it imports nothing heavy until
a test calls it.
"""
import pytest


def assert_parity(config=None, **options):
    """Runs `tf-parity parity` on a pair (a TOML file and/or its keys) in this process; returns the
    report, or raises AssertionError naming the first check that did not pass."""
    from parity import config as pair_config
    from parity import suite

    file_options = pair_config.read(config) if config else {}
    given = pair_config.canonical_keys({k: v for k, v in options.items() if v is not None}, "assert_parity()")
    unknown = [k for k in given if k not in pair_config.PAIR_KEYS + pair_config.RUN_KEYS + ("tolerances",)]
    if unknown:
        raise TypeError(f"assert_parity() got unknown keys {unknown}; the keys are those of a pair's file: "
                        f"{', '.join(pair_config.PAIR_KEYS + pair_config.RUN_KEYS)}, tolerances")
    pair_config.validate({k: v for k, v in given.items() if k != "tolerances"}, "assert_parity()")
    merged = pair_config.merge(file_options, given)
    merged.setdefault("search-path", str(__import__("pathlib").Path.cwd()))
    spec = pair_config.pair_spec(merged)
    run = {key: merged.get(key) for key in pair_config.RUN_KEYS}
    report, _, _ = suite.run(suite.ParityConfig(
        model=spec.name, spec=spec, dataset=run["dataset"] or "auto", data_dir=run["data-dir"], steps=run["steps"],
        accuracy_steps=run["accuracy-steps"], seed=run["seed"] or 0, eager_style=run["eager-style"] or "function",
        batch_size=run["batch-size"]), log=lambda message: None)
    if not report["passed"]:
        bad = next(c for c in report["checks"] if not c["passed"])
        status = bad["status"].replace("_", " ")
        verdict = "failed" if status == "failed" else f"was {status}"
        raise AssertionError(f"{spec.name}: the {bad['name']} check {verdict}: {bad['message']}")
    return report


@pytest.fixture
def tf_parity():
    """assert_parity, for a test to call with its pair."""
    return assert_parity
