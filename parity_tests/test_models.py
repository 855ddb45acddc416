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
    from parity import kinks, suite

    spec, legacy, eager = pair
    transfer.transfer(legacy, eager)
    x, y = suite.prepare_data(spec, "synthetic").batch_at(0, 2)
    _, _, ops_l, values_l = legacy.gradients_and_kinks(x, y)
    saved = eager.get_weights()
    _, _, ops_e, values_e = eager.gradients_and_kinks(x, y)
    eager.set_weights(saved)
    assert ops_l and [op.type for op in ops_l] == [op.type for op in ops_e]
    assert kinks.crossings(ops_l, values_l, ops_e, values_e) == []


@pytest.mark.parametrize("name", list(registry.MODELS))
def test_the_model_files_constants_are_the_registrations(name):
    """The model trees keep the documents' constants as their authors wrote them; the registry is
    where the harness reads them. They must not drift apart."""
    spec = registry.get(name)
    for module in (spec.legacy(), spec.eager()):
        where = module.__name__
        assert module.learning_rate == spec.recipe.learning_rate, where
        if hasattr(module, "num_classes"):
            assert module.num_classes == spec.num_classes, where
        if hasattr(module, "adam_epsilon"):
            assert module.adam_epsilon == spec.recipe.epsilon, where
        if hasattr(module, "train_batch_size"):
            assert module.train_batch_size == spec.recipe.batch_size, where
