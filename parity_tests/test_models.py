"""Both trees build the same network: anchors, layer shapes, canonical weight order."""
import numpy as np
import pytest

from parity import registry, transfer
from parity.runners import GraphRunner, KerasRunner

MODELS = sorted(registry.MODELS)


@pytest.fixture(scope="module", params=MODELS)
def pair(request):
    spec = registry.get(request.param)
    legacy = GraphRunner.from_spec(spec, seed=0)
    eager = KerasRunner.from_spec(spec, seed=0)
    yield spec, legacy, eager
    legacy.close()


def test_parameter_counts_equal_the_anchor(pair):
    spec, legacy, eager = pair
    anchor = (spec.trainable_params, spec.non_trainable_params)
    assert legacy.param_counts() == anchor
    assert eager.param_counts() == anchor


def test_layer_shapes_agree(pair):
    _, legacy, eager = pair
    assert legacy.layer_shapes() == eager.layer_shapes()


def test_canonical_orders_pair_layer_by_layer(pair):
    _, legacy, eager = pair
    transfer.check_compatible(legacy.names, legacy.shapes, eager.names, eager.shapes, match_names=True)
    assert all(transfer.same_layer_and_role(a, b) for a, b in zip(legacy.names, eager.names))


def test_mnist_cnn_shapes_match_the_document():
    spec = registry.get("mnist_cnn")
    shapes = GraphRunner.from_spec(spec).layer_shapes()
    assert shapes["conv1_relu"] == (None, 14, 14, 16)
    assert shapes["conv2_relu"] == (None, 7, 7, 36)
    assert shapes["flatten"] == (None, 1764)
    assert shapes["fc1"] == (None, 128)
    assert shapes["fc2"] == (None, 10)


def test_mnist_cnn_initializers_follow_the_document():
    """Weights truncated normal with stddev 0.05 (cut at two stddev), biases 0.05, in both trees."""
    spec = registry.get("mnist_cnn")
    legacy = GraphRunner.from_spec(spec, seed=1)
    eager = KerasRunner.from_spec(spec, seed=1)
    for runner in (legacy, eager):
        weights = dict(zip(runner.names, runner.get_weights()))
        kernel = next(v for k, v in weights.items() if k.startswith("fc1/") and v.ndim == 2)
        bias = next(v for k, v in weights.items() if k.startswith("fc1/") and v.ndim == 1)
        assert np.abs(kernel).max() <= 0.1
        # A normal truncated at +-2 sigma has std 0.8796 sigma.
        assert kernel.std() == pytest.approx(0.05 * 0.8796, rel=0.02)
        np.testing.assert_array_equal(bias, np.float32(0.05))
    legacy.close()


def test_kink_ops_pair_up_in_forward_order(pair):
    # The gradients check tells rounding at a kink from a wrong port by pairing the styles'
    # ReLU / max-pool inputs one to one; that must hold for every model.
    from parity import kinks
    from parity.training_data import prepare_data

    spec, legacy, eager = pair
    transfer.transfer(legacy, eager)
    x, y = prepare_data(spec, "synthetic").batch_at(0, 2)
    _, _, ops_l, values_l = legacy.gradients_and_kinks(x, y)
    saved = eager.get_weights()
    _, _, ops_e, values_e = eager.gradients_and_kinks(x, y)
    eager.set_weights(saved)
    assert ops_l and [op.type for op in ops_l] == [op.type for op in ops_e]
    assert kinks.crossings(ops_l, values_l, ops_e, values_e) == []


def test_both_sides_train_with_the_registered_recipe(pair):
    """The registry's recipe is the one source the harness trains with: the legacy graph's Adam is read
    back from its update ops, the Keras side's from its optimizer (eager_v2.optimizers.adam)."""
    from parity import legacy as legacy_graphs
    from parity.runtime import import_tensorflow

    tf = import_tensorflow()
    spec, legacy, eager = pair
    recipe = spec.recipe
    applies = legacy_graphs.update_ops(legacy.model.train_op).values()
    assert len(applies) == sum(legacy.trainable_mask) and recipe.optimizer == "adam"
    for op in applies:
        # Read as constants: under UPDATE_OPS a session would want a batch fed to fetch them.
        args = [arg.name for arg in op.op_def.input_arg]
        assert op.type == "ResourceApplyAdam", op.name
        assert tf.get_static_value(op.inputs[args.index("lr")]) == np.float32(recipe.learning_rate), op.name
        assert tf.get_static_value(op.inputs[args.index("epsilon")]) == np.float32(recipe.epsilon), op.name
    # What a pair's optimizer is read by (parity.legacy.optimizer_settings), batch norm's UPDATE_OPS included.
    read = legacy.info()["optimizer"]
    assert read["optimizer"] == "adam", read
    assert read["learning_rate"] == pytest.approx(recipe.learning_rate, rel=1e-7), read
    assert read["epsilon"] == pytest.approx(recipe.epsilon, rel=1e-6), read
    keras_adam = eager.trainer.optimizer
    assert float(keras_adam.learning_rate) == pytest.approx(recipe.learning_rate, rel=1e-7)
    assert keras_adam.epsilon == recipe.epsilon


@pytest.mark.parametrize("name", list(registry.MODELS))
def test_the_legacy_builders_defaults_are_the_registrations(name):
    """The legacy tree keeps the documents' constants as their authors wrote them (its builder's
    default learning rate, its class count); they must not drift from the registry."""
    import inspect

    spec = registry.get(name)
    legacy, eager = spec.legacy(), spec.eager()
    assert inspect.signature(legacy.build).parameters["learning_rate"].default == spec.recipe.learning_rate
    assert legacy.learning_rate == spec.recipe.learning_rate
    for module in (legacy, eager):
        if hasattr(module, "num_classes"):
            assert module.num_classes == spec.num_classes, module.__name__
        assert not hasattr(module, "make_optimizer"), f"{module.__name__}: the optimizer comes from the recipe"


def test_the_model_trees_do_not_import_the_harness():
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    for path in [*(root / "legacy_graph").glob("*.py"), *(root / "eager_v2").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not any(n == "parity" or n.startswith("parity.") for n in names), f"{path}:{node.lineno}"
