"""The kinks of a network's loss, and whether two styles sit on the same side of each.

A ReLU's gradient jumps where its input crosses 0, ReLU6's also at 6, a max-pool's where two
inputs of a window trade places. Two correct ports whose forward passes differ by float32
rounding (a fused kernel against separate ops, another summation order) can put an input that
lies within that rounding of a kink on opposite sides of it: one style passes the element's
gradient, the other blocks it or sends it to another element, and the weights behind it get
gradients far apart, though neither style is wrong (pitfall `float32-kink`). A gradient
comparison can only judge a batch on which both styles pick the same winner at every kink.

Each style hands over the inputs of its kink ops in the order its forward pass runs them,
taken in the same run as the gradients they explain: the graph optimizer fuses ops differently
when an intermediate tensor is fetched, so a separate run could round differently.
"""
from dataclasses import dataclass

import numpy as np

OP_TYPES = ("Relu", "Relu6", "LeakyRelu", "MaxPool")


@dataclass(frozen=True)
class KinkOp:
    type: str
    name: str
    attrs: tuple = ()   # MaxPool: (ksize, strides, padding); else ()


def kink_ops(operations):
    """The kink ops among `operations` (a graph's, in creation order) and their input tensors."""
    ops, tensors = [], []
    for op in operations:
        if op.type not in OP_TYPES:
            continue
        attrs = ()
        if op.type == "MaxPool":
            if op.get_attr("data_format") not in (b"NHWC", "NHWC"):
                continue
            padding = op.get_attr("padding")
            attrs = (tuple(op.get_attr("ksize")), tuple(op.get_attr("strides")),
                     padding.decode() if isinstance(padding, bytes) else padding)
        ops.append(KinkOp(op.type, op.name, attrs))
        tensors.append(op.inputs[0])
    return ops, tensors


@dataclass
class Crossing:
    """Kink op `name` (the legacy graph's) where the styles pick different winners."""
    name: str
    type: str
    elements: int    # outputs whose winner differs
    margin: float    # the largest distance from the kink among them, in either style

    def describe(self):
        one = self.elements == 1
        what = {"MaxPool": "window changes its maximum" if one else "windows change their maximum",
                "Relu6": "input crosses 0 or 6" if one else "inputs cross 0 or 6"}.get(
            self.type, "input changes sign" if one else "inputs change sign")
        return f"{self.elements} {self.type} {what} at {self.name} (within {self.margin:.2g} of the kink)"


class NotComparable(ValueError):
    """The two styles' kink ops do not pair up one to one."""


def crossings(ops_l, values_l, ops_e, values_e):
    """Every kink where the styles' winners differ, paired in forward order; [] when none.

    Raises NotComparable when the two lists of kink ops differ in length, type or shape."""
    if len(ops_l) != len(ops_e):
        raise NotComparable(f"the legacy graph has {len(ops_l)} kink ops, the eager model {len(ops_e)}")
    found = []
    for op_l, a, op_e, b in zip(ops_l, values_l, ops_e, values_e):
        a, b = np.asarray(a), np.asarray(b)
        if op_l.type != op_e.type or op_l.attrs != op_e.attrs or a.shape != b.shape:
            raise NotComparable(f"{op_l.name} ({op_l.type} {a.shape}) pairs with {op_e.name} "
                                f"({op_e.type} {b.shape})")
        if op_l.type == "MaxPool":
            changed, margin = _max_pool_crossings(a, b, *op_l.attrs)
        else:
            changed = _side(op_l.type, a) != _side(op_l.type, b)
            margin = float(np.max(np.maximum(_distance(op_l.type, a[changed]), _distance(op_l.type, b[changed])))) \
                if changed.any() else 0.0
        if changed.any():
            found.append(Crossing(op_l.name, op_l.type, int(changed.sum()), margin))
    return found


def largest_difference(ops, values_l, values_e):
    """(max |a - b| / max |a| over the paired kink inputs, the op's name): how far the forward
    passes part at the kinks; (0.0, None) where they agree bit for bit."""
    worst, where = 0.0, None
    for op, a, b in zip(ops, values_l, values_e):
        scale = float(np.max(np.abs(a))) if np.size(a) else 0.0
        diff = float(np.max(np.abs(np.asarray(a, np.float64) - b))) if np.size(a) else 0.0
        rel = diff / max(scale, 1e-30)
        if rel > worst:
            worst, where = rel, op.name
    return worst, where


def _side(op_type, x):
    """Which piece of the activation each element is on; its gradient depends only on that."""
    if op_type == "Relu6":
        return (x > 0).astype(np.int8) + (x >= 6)
    return x > 0


def _distance(op_type, x):
    if op_type == "Relu6":
        return np.minimum(np.abs(x), np.abs(x - 6))
    return np.abs(x)


def _max_pool_crossings(a, b, ksize, strides, padding):
    """Windows whose maximum sits at another element in `b` than in `a`, and the largest gap
    between the two candidates' values in either style."""
    from parity.runtime import import_tensorflow

    tf = import_tensorflow()
    _, arg_a = tf.nn.max_pool_with_argmax(a, ksize, strides, padding, include_batch_in_index=True)
    _, arg_b = tf.nn.max_pool_with_argmax(b, ksize, strides, padding, include_batch_in_index=True)
    arg_a, arg_b = arg_a.numpy(), arg_b.numpy()
    changed = arg_a != arg_b
    margin = 0.0
    for flat in (a.reshape(-1), b.reshape(-1)):
        if changed.any():
            margin = max(margin, float(np.max(np.abs(flat[arg_a[changed]] - flat[arg_b[changed]]))))
    return changed, margin
