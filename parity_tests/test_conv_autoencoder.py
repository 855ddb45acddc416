"""Seed 002's autoencoder: the standalone decoders built from the trained model equal the full
model on the encoder's code, in each style (the document's fit is in test_documents.py)."""
import numpy as np
import pytest

from eager_v2 import conv_autoencoder as eager_cae
from legacy_graph import conv_autoencoder as legacy_cae
from parity import registry, transfer
from parity.runners import GraphRunner, KerasRunner
from parity.runtime import import_tensorflow

tf = import_tensorflow()
SPEC = registry.get("conv_autoencoder")


@pytest.fixture(scope="module")
def trained():
    """Both styles from one start, after a few steps on the same batches."""
    legacy, eager = GraphRunner.from_spec(SPEC, seed=0), KerasRunner.from_spec(SPEC, seed=0)
    transfer.transfer(legacy, eager)
    rng = np.random.default_rng(0)
    batches = iter([(x, x) for x in rng.uniform(size=(5, 16, 28, 28, 1)).astype(np.float32)])
    legacy.train(batches, 2)
    eager.train(batches, 2)
    yield legacy, eager
    legacy.close()


def test_code_is_7x7x1_and_parameters_are_2690(trained):
    legacy, eager = trained
    assert legacy.layer_shapes()["code"] == eager.layer_shapes()["code"] == (None, 7, 7, 1)
    assert legacy.param_counts() == eager.param_counts() == (2690, 0)


def test_keras_decoder_on_the_code_equals_the_full_model(trained):
    _, eager = trained
    x = np.random.default_rng(1).uniform(size=(4, 28, 28, 1)).astype(np.float32)
    encoder, decoder = eager_cae.build_encoder(eager.model), eager_cae.build_decoder(eager.model)
    assert {w.path for w in decoder.weights} <= {w.path for w in eager.model.weights}  # shared, not copied
    np.testing.assert_array_equal(decoder(encoder(x)), eager.model(x))


def test_graph_decoder_on_the_code_equals_the_full_model(trained):
    legacy, _ = trained
    graph = tf.Graph()
    model = legacy_cae.build(graph, seed=0)
    x_in, code = legacy_cae.build_encoder(graph)
    code_in, decoded = legacy_cae.build_decoder(graph)
    with graph.as_default():
        assert len(tf.compat.v1.trainable_variables()) == 12  # reuse added no variable
        init = tf.compat.v1.global_variables_initializer()
        assign = [v.assign(w) for v, w in zip(model.variables, legacy.get_weights())]
    x = np.random.default_rng(1).uniform(size=(4, 28, 28, 1)).astype(np.float32)
    with tf.compat.v1.Session(graph=graph) as session:
        session.run(init)
        session.run(assign)
        codes = session.run(code, {x_in: x})
        np.testing.assert_array_equal(session.run(decoded, {code_in: codes}), session.run(model.logits, {model.inputs: x}))
