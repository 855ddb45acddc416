"""A model added from outside the built-ins: its two files (parity_tests/tiny_mlp) and one
registry.register call are all it takes for the checks test_every_model.py runs on the built-ins,
and for `tf-parity parity --model`."""
import json

import pytest

from parity import cli, registry, transfer
from parity_tests.test_every_model import assert_forward_gradients_and_steps_pass, built_pair

TINY_MLP = registry.ModelSpec(
    name="tiny_mlp",
    title="2-layer MLP (fc 32 ReLU, fc 10), a test fixture",
    document="",
    input_shape=(28, 28, 1),
    num_classes=10,
    task="classification",
    recipe=registry.Recipe(optimizer="adam", learning_rate=1e-3, epsilon=1e-8, batch_size=32, iterations=200,
                           loss="softmax cross-entropy on logits, batch mean", labels="one_hot"),
    trainable_params=784 * 32 + 32 + 32 * 10 + 10,
    non_trainable_params=0,
    legacy_module="parity_tests.tiny_mlp.legacy_mlp",
    eager_module="parity_tests.tiny_mlp.eager_mlp",
    accuracy_steps=100,
    data=("synthetic",),
    parity_steps=20,
)


@pytest.fixture
def registered(monkeypatch):
    monkeypatch.setattr(registry, "MODELS", dict(registry.MODELS))  # the registration ends with the test
    return registry.register(TINY_MLP)


@pytest.fixture
def runners(registered):
    spec, legacy, eager = built_pair(registry.get("tiny_mlp"))
    yield spec, legacy, eager
    legacy.close()


def test_a_name_is_registered_once(registered):
    assert registry.get("tiny_mlp") is TINY_MLP
    with pytest.raises(ValueError, match="a model named 'tiny_mlp' is already registered"):
        registry.register(TINY_MLP)


def test_parameters_match_the_anchor_and_pair_by_name(runners):
    spec, legacy, eager = runners
    assert legacy.param_counts() == eager.param_counts() == (spec.trainable_params, spec.non_trainable_params)
    assert legacy.layer_shapes() == eager.layer_shapes()
    assert all(transfer.same_layer_and_role(a, b) for a, b in zip(legacy.names, eager.names))


def test_forward_gradients_and_teacher_forced_steps_pass(runners):
    assert_forward_gradients_and_steps_pass(*runners)


def test_the_keras_side_trains_with_the_registered_recipe(runners):
    _, _, eager = runners
    optimizer = eager.trainer.optimizer
    assert float(optimizer.learning_rate) == pytest.approx(TINY_MLP.recipe.learning_rate)
    assert optimizer.epsilon == TINY_MLP.recipe.epsilon


def test_tf_parity_parity_runs_it_by_name(registered, tmp_path, capsys):
    out = tmp_path / "parity_tiny_mlp.json"
    assert cli.main(["parity", "--model", "tiny_mlp", "--json", str(out)]) == 0, capsys.readouterr().err
    result = json.loads(out.read_text())
    assert result["model"] == "tiny_mlp" and result["dataset"] == "synthetic" and result["passed"]
    assert {c["name"]: c["status"] for c in result["checks"]} == {
        name: "passed" for name in ("parameters", "layer_shapes", "forward", "gradients", "training_steps", "accuracy")}
    assert result["checks"][0]["legacy_trainable"] == TINY_MLP.trainable_params
