"""The forward, gradients and teacher-forced checks on every registered model, at a small batch of
synthetic images, so that each model's port is checked directly and not only through a full run."""
import itertools

import pytest

from parity import bench, checks, pair, registry, tolerances, transfer

BATCH = 4


@pytest.fixture(scope="module", params=list(registry.MODELS))
def runners(request):
    spec, legacy, eager = built_pair(registry.get(request.param))
    yield spec, legacy, eager
    legacy.close()


def built_pair(spec):
    """The model's two runners, the legacy weights copied to the Keras side; the legacy one to close."""
    spec, legacy, eager = pair.build_runners(spec, seed=0, style="function")
    transfer.transfer(legacy, eager)
    return spec, legacy, eager


def _batches(spec):
    for seed in itertools.count(1):
        yield bench.synthetic_batch(spec, BATCH, seed)


def test_forward_gradients_and_teacher_forced_steps_pass(runners):
    assert_forward_gradients_and_steps_pass(*runners)


def assert_forward_gradients_and_steps_pass(spec, legacy, eager):
    """The forward, gradients and teacher-forced checks on BATCH synthetic images, each passed."""
    tol = tolerances.for_spec(spec)
    x, y = bench.synthetic_batch(spec, BATCH, seed=0)
    modes = ("inference", "training") if spec.batch_norm else ("inference",)
    forward = checks.forward(legacy, eager, x, tol, modes)
    assert forward.status == "passed", forward.message
    dead = checks.dead_variables(legacy, x, y, tol)
    gradients = checks.gradients(legacy, eager, x, y, tol, dead=dead,
                                 more_batches=itertools.islice(_batches(spec), 3))
    assert gradients.status == "passed", gradients.message
    start = legacy.get_weights()
    for runner in (legacy, eager):
        runner.set_weights(start)
        runner.reset_optimizer()
    records = checks.teacher_forced_steps(legacy, eager, _batches(spec), 2)
    steps = checks.training_steps(legacy.names, legacy.trainable_mask, records, tol, dead)
    assert len(records) == 2 and steps.status == "passed", steps.message
