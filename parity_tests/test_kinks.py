"""Kinks: which side of each ReLU / max-pool kink the styles are on, and how the gradients check
uses it to tell rounding at a kink from a port that is wrong."""
import numpy as np
import pytest

from parity import checks, kinks, tolerances

TOL = tolerances.DEFAULT
RELU = kinks.KinkOp("Relu", "block/Relu")
POOL = kinks.KinkOp("MaxPool", "pool/MaxPool", ((1, 2, 2, 1), (1, 2, 2, 1), "VALID"))


def test_a_relu_input_on_the_other_side_of_zero_is_a_crossing():
    a = np.array([[0.5, -1.0, 1.2e-7, 0.0]], np.float32)
    b = np.array([[0.4, -1.1, -2.4e-6, 0.0]], np.float32)
    [crossing] = kinks.crossings([RELU], [a], [RELU], [b])
    assert (crossing.name, crossing.elements) == ("block/Relu", 1)
    assert crossing.margin == pytest.approx(2.4e-6)
    assert crossing.describe() == "1 Relu input changes sign at block/Relu (within 2.4e-06 of the kink)"
    assert kinks.crossings([RELU], [a], [RELU], [a + 1e-3 * (a > 0)]) == []  # moved, same sides


def test_relu6_has_a_second_kink_at_six():
    op = kinks.KinkOp("Relu6", "Relu6")
    a = np.array([5.9999995, 3.0, -1.0], np.float32)
    [crossing] = kinks.crossings([op], [a], [op], [np.array([6.0000005, 3.1, -2.0], np.float32)])
    assert crossing.elements == 1 and crossing.margin < 1e-6


def test_a_max_pool_window_whose_maximum_moves_is_a_crossing():
    a = np.zeros((1, 2, 4, 1), np.float32)
    a[0, :, :, 0] = [[1.0, 2.0, 5.0, 0.0], [0.0, 2.0 - 1e-7, 0.0, 0.0]]
    b = a.copy()
    b[0, 1, 1, 0] = 2.0 + 2e-7  # the first window's runner-up overtakes its maximum
    [crossing] = kinks.crossings([POOL], [a], [POOL], [b])
    assert crossing.elements == 1 and crossing.margin == pytest.approx(2e-7, rel=0.5)
    assert kinks.crossings([POOL], [a], [POOL], [a * 2]) == []


def test_kink_ops_that_do_not_pair_up_are_refused():
    x = np.zeros((1, 2, 2, 1), np.float32)
    with pytest.raises(kinks.NotComparable, match="2 kink ops, the eager model 1"):
        kinks.crossings([RELU, POOL], [x, x], [RELU], [x])
    with pytest.raises(kinks.NotComparable, match="block/Relu"):
        kinks.crossings([RELU], [x], [POOL], [x])


class FakeRunner:
    """One trainable variable; each batch (an int) brings its own gradient and kink inputs."""

    names, trainable_mask = ["w"], [True]

    def __init__(self, per_batch):
        self.per_batch = per_batch
        self.calls = []

    def get_weights(self):
        return [np.zeros(2, np.float32)]

    def set_weights(self, values):
        pass

    def gradients_and_kinks(self, x, y, training=True):
        self.calls.append(x)
        gradient, kink_input = self.per_batch[x]
        return 1.0, [np.asarray(gradient, np.float32)], [RELU], [np.asarray(kink_input, np.float32)]


def test_gradients_check_moves_past_a_batch_that_crosses_a_kink():
    legacy = FakeRunner({0: ([1.0, 0.0], [1e-7, 5.0]), 1: ([0.5, 0.25], [0.3, 5.0])})
    eager = FakeRunner({0: ([0.8, 0.3], [-1e-6, 5.0]), 1: ([0.5, 0.25], [0.3, 5.0])})
    result = checks.gradients(legacy, eager, 0, None, TOL, more_batches=[(1, None), (2, None)])
    assert result.passed, result.message
    # Batch 0 runs again, to see that it repeats before a kink is blamed; batch 2 is never needed.
    assert result.figures["batch"] == 1 and eager.calls == [0, 0, 1]
    [skipped] = result.figures["skipped_batches"]
    assert skipped["batch"] == 0 and skipped["max_relative_diff"] == pytest.approx(0.3)
    assert result.message == "batch 0 skipped: 1 Relu input changes sign at block/Relu (within 1e-06 of the kink)"


def test_gradients_check_fails_where_every_kink_agrees():
    legacy = FakeRunner({0: ([1.0, 0.0], [0.2, 5.0]), 1: ([0.5, 0.25], [0.3, 5.0])})
    eager = FakeRunner({0: ([0.8, 0.3], [0.2, 5.0]), 1: ([0.5, 0.25], [0.3, 5.0])})
    result = checks.gradients(legacy, eager, 0, None, TOL, more_batches=[(1, None)])
    assert not result.passed and set(eager.calls) == {0}  # a port fault is never skipped (batch 0 is run twice)
    assert result.message.startswith("gradients first part at w (relative diff 0.3 > 0.0001)")
    assert "same side in both styles" in result.message


def test_gradients_check_fails_when_no_batch_is_free_of_crossed_kinks():
    legacy = FakeRunner({k: ([1.0, 0.0], [1e-7, 5.0]) for k in range(3)})
    eager = FakeRunner({k: ([0.8, 0.3], [-1e-6, 5.0]) for k in range(3)})
    result = checks.gradients(legacy, eager, 0, None, TOL, more_batches=[(1, None), (2, None)])
    assert not result.passed
    assert result.message.startswith("every batch tried (3) has inputs within rounding of a kink")
    assert [s["batch"] for s in result.figures["skipped_batches"]] == [0, 1, 2]


def test_gradients_check_does_not_blame_a_kink_when_the_forward_passes_part():
    # A port fault moves the kink inputs themselves; the crossings it causes are no excuse.
    legacy = FakeRunner({0: ([1.0, 0.0], [0.01, 5.0]), 1: ([0.5, 0.25], [0.3, 5.0])})
    eager = FakeRunner({0: ([0.8, 0.3], [-0.01, 5.0]), 1: ([0.5, 0.25], [0.3, 5.0])})
    result = checks.gradients(legacy, eager, 0, None, TOL, more_batches=[(1, None)])
    assert not result.passed and set(eager.calls) == {0}
    assert result.figures["kink_input_relative_diff"] == pytest.approx(0.004)
    assert result.message.endswith("the forward passes already part at block/Relu (its inputs 0.004 apart "
                                   "relative to the largest, > 0.0001)")
