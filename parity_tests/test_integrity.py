"""Typed inputs, checked before any work; a resumed run that refuses another pair's checkpoint;
dtypes named as the reason a port parts; divergence advice that names the port when its forward
pass is already not finite. On a small pair of softmax regressions in this process."""
import json
import signal
import textwrap

import pytest

from parity import cli
from parity_tests.test_trust import FAST, meta_args, port, run_cli, save_graph  # noqa: F401 (port: fixture)

INLINE = ["--legacy-process", "inline"]


@pytest.fixture
def pair(port):
    """The saved graph, its ports (correct, in float16, not finite, another activation) and a pair file."""
    prefix = save_graph(port, None)
    (port / "ports.py").write_text(textwrap.dedent("""
        import keras

        def build(dtype=None, activation=None):
            inputs = keras.Input(shape=(784,))
            return keras.Model(inputs, keras.layers.Dense(10, name="fc", dtype=dtype, activation=activation)(inputs))

        def half():
            return build(dtype="mixed_float16")

        def not_finite():
            inputs = keras.Input(shape=(784,))
            out = keras.layers.Dense(10, name="fc")(inputs)
            return keras.Model(inputs, keras.layers.Lambda(lambda t: t * float("nan"))(out))

        def other():
            return build(activation="tanh")
    """))
    names = dict(zip(meta_args(prefix)[::2], meta_args(prefix)[1::2]))
    lines = [f'{flag[2:]} = "{value}"' for flag, value in names.items() if flag != "--eager"]
    (port / "pair.toml").write_text("\n".join(lines + ['eager = "ports:build"', 'legacy-process = "inline"',
                                                       'dataset = "synthetic"']) + "\n")
    return port


@pytest.mark.parametrize("line, message", [
    ('steps = "ten"', "steps must be an integer of at least 1, got 'ten'"),
    ("seed = 1.5", "seed must be an integer"),
    ("batch-size = true", "batch-size must be an integer of at least 1, got True"),
    ("accuracy-steps = 0", "accuracy-steps must be an integer of at least 1, got 0"),
    ('eager-style = "jit"', "eager-style must be one of"),
    ("trust-graph = 1", "trust-graph must be true or false"),
    ("accuracy_steps = 20\naccuracy-steps = 30", "'accuracy_steps' and 'accuracy-steps' are one key given twice"),
    ("[tolerances]\nforward_atol = nan", "finite"),
])
def test_a_pair_file_of_wrong_types_is_one_line_before_any_work(capsys, pair, line, message):
    (pair / "bad.toml").write_text(f'extends = "pair.toml"\n{line}\n')
    code, out, err = run_cli(capsys, "parity", "--config", "bad.toml", "--json", "out/r.json")
    assert code == 2 and err.count("\n") == 1 and message in err and "Traceback" not in err, err
    assert "bad.toml" in err and not (pair / "out").exists()


def test_the_plugin_checks_its_keywords_as_the_file_s(pair):
    from parity import config, pytest_plugin

    with pytest.raises(config.ConfigError, match="steps must be an integer of at least 1, got 'ten'"):
        pytest_plugin.assert_parity(config="pair.toml", steps="ten")
    with pytest.raises(config.ConfigError, match="'steps' and 'steps' are one key|given twice"):
        pytest_plugin.assert_parity(config="pair.toml", **{"accuracy_steps": 5, "accuracy-steps": 6})


def test_a_broken_pyproject_with_a_tf_parity_table_is_named(capsys, pair):
    (pair / "pyproject.toml").write_text('[tool.tf-parity]\nconfig = "pair.toml\n')
    code, _, err = run_cli(capsys, "parity")
    assert code == 2 and err.count("\n") == 1 and "pyproject.toml: not valid TOML" in err, err
    (pair / "pyproject.toml").write_text('[tool.other]\nx = "broken\n')  # not ours: left alone
    code, _, err = run_cli(capsys, "parity")
    assert code == 2 and "give --model" in err, err


def test_a_batch_larger_than_the_training_set_is_refused_before_training(capsys, pair):
    code, out, err = run_cli(capsys, "parity", "--config", "pair.toml", "--batch-size", 1_000_000,
                             "--json", "out/r.json")
    assert code == 2 and err.count("\n") == 1 and "--batch-size 1000000 is larger than the" in err, err
    assert "training images of synthetic: give at most" in err and not (pair / "out").exists()


def test_a_port_in_float16_is_named_as_the_reason(capsys, pair):
    code, out, err = run_cli(capsys, "parity", "--config", "pair.toml", "--eager", "ports:half", *FAST,
                             "--json", "r.json")
    assert code == cli.EXIT_FAILED, out + err
    checks = {c["name"]: c for c in json.loads((pair / "r.json").read_text())["checks"]}
    assert checks["layer_shapes"]["status"] == "failed"
    assert "the port computes in float16, the graph in float32" in checks["layer_shapes"]["message"]
    assert checks["layer_shapes"]["dtypes"]["eager"]["compute"] == "float16"
    assert checks["forward"]["status"] == "failed"
    assert "the likely reason: the port computes in float16" in checks["forward"]["message"]


def test_a_port_not_finite_from_the_start_is_blamed_not_the_learning_rate(capsys, pair):
    code, out, err = run_cli(capsys, "parity", "--config", "pair.toml", "--eager", "ports:not_finite", *FAST,
                             "--json", "r.json")
    assert code == cli.EXIT_DIVERGED, out + err
    assert "The port's outputs are not finite at the start weights already" in err
    assert "Lower the learning rate" not in err


class _Interrupt:
    """A progress factory whose bar of the port's free run delivers SIGINT after `after` steps."""

    def __init__(self, after):
        self.after = after

    def __call__(self, total, description="", initial=0):
        after = self.after if "function" in description else -1

        class Bar:
            count = initial

            def update(self, n=1, postfix=None):
                self.count += n
                if self.count == after:
                    signal.raise_signal(signal.SIGINT)

            def close(self):
                pass
        return Bar()


def test_resume_with_another_port_is_refused_naming_what_changed(capsys, pair, monkeypatch):
    run = ["parity", "--config", "pair.toml", "--steps", 2, "--accuracy-steps", 30, "--json", "r.json"]
    monkeypatch.setattr(cli, "_progress_factory", lambda: _Interrupt(12))
    code, _, err = run_cli(capsys, *run, "--checkpoint-every", 10)
    assert code == cli.EXIT_SIGINT, err
    monkeypatch.undo()
    monkeypatch.chdir(pair)
    code, _, err = run_cli(capsys, *run, "--eager", "ports:other", "--resume")
    assert code == 2 and err.splitlines()[-1].startswith("tf-parity: error: ") and "Traceback" not in err, err
    assert "step" not in err.split("tf-parity: error:")[0]  # refused before any check ran
    assert "r_function.ckpt.npz was written by another run: its port model has changed since" in err
    assert "start weights" not in err and "training data" not in err  # only what changed is named
    code, out, err = run_cli(capsys, *run, "--resume")  # the same pair resumes
    assert code == cli.EXIT_OK and "function: resumed from" in err and "at step 10" in err, out + err
