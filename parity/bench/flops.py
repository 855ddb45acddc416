"""FLOPs per step, counted, not estimated: TensorFlow's profiler adds up the FLOP statistics of the
ops the legacy graph runs for the step (the logits for inference; the train op and the loss for
training), on a copy built at the benchmark's batch size so every shape is static.

Ops without a FLOP statistic (activations, the loss, the optimizer's update, depthwise
convolutions' gradients: about 4% of mobilenet_v2's training step) count zero and are listed per
model. The count is applied to every style of the model, as they compute the same network on the
same batch, with two differences in the legacy graph's disfavour: its train op also computes the
gradient with respect to the input images (gate_gradients groups each op's gradients), which a
tape never asks for (about 6% of conv_autoencoder's counted training step, 3% of mnist_cnn's, 1%
or less of the others'); and its batch-norm layers compute the batch's moments at inference too
(4% of mobilenet_v2's counted inference step, 0.3% of resnet18's). The Keras styles' GFLOP/s are
therefore a few percent high for those models. The loop phase's count is the training step's.
"""
from parity.bench.settings import synthetic_batch, tf as _tf


def count_flops(spec, batch_size):
    """FLOPs of one inference and one training step of the model's legacy graph, as TensorFlow's
    profiler counts them.

    Args:
        spec: the model's registry.ModelSpec.
        batch_size: images per step; the graph is built at this size so every shape is static.

    Returns:
        {"infer": ..., "train": ...}, each {"flops", "by_op" (op type -> FLOPs), "uncounted_ops"
        (op types in the step that have no FLOP statistic, so count zero)}.
    """
    tf = _tf()
    x, y = synthetic_batch(spec, batch_size)
    graph = tf.Graph()
    with graph.as_default():
        images = tf.compat.v1.placeholder(tf.float32, x.shape, name="images")
        labels = tf.compat.v1.placeholder(tf.as_dtype(y.dtype), y.shape, name="labels")
    model = spec.legacy().build(graph, learning_rate=spec.recipe.learning_rate, seed=0, inputs=(images, labels))
    graph_def = graph.as_graph_def()
    return {"infer": _profile(graph_def, [model.logits.op.name]),
            "train": _profile(graph_def, [model.train_op.name, model.loss.op.name])}


def not_counted():
    """The counts of a user's pair: a graph with no static batch size to count at, and the profiler needs one."""
    counts = {phase: {"flops": None, "by_op": {}, "uncounted_ops": []} for phase in ("infer", "train")}
    counts["note"] = "not counted for a pair of your own: its graph's batch dimension is not static"
    return counts


def counted_phase(phase):
    """The phase whose FLOP count applies: the loop trains."""
    return "train" if phase == "loop" else phase


def _profile(graph_def, fetches):
    """The profiler's FLOP count of the ops that Session.run(fetches) runs, and nothing else."""
    tf = _tf()
    # The profiler counts every op of a graph: keep only what the fetches depend on, control
    # dependencies included, as Session.run prunes the graph.
    step = tf.compat.v1.graph_util.extract_sub_graph(graph_def, fetches)
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(step, name="")
    builder = tf.compat.v1.profiler.ProfileOptionBuilder
    options = builder(builder.float_operation()).with_min_float_operations(0).with_empty_output().build()
    profile = tf.compat.v1.profiler.profile(graph, cmd="op", options=options)
    by_op, node = {}, profile
    # The "op" view nests its op types in a chain, each node holding its own type's count.
    while node.children:
        node = node.children[0]
        by_op[node.name] = int(node.float_ops)
    types = {op.type for op in graph.get_operations()}
    # Op types that only move or describe data: no arithmetic to miss.
    structural = {"Const", "Placeholder", "PlaceholderWithDefault", "VarHandleOp", "ReadVariableOp", "Identity",
                  "NoOp", "Reshape", "Squeeze", "ExpandDims", "Shape", "ShapeN", "Pack", "ConcatV2", "Slice",
                  "Fill", "StopGradient", "AssignVariableOp", "Tile", "Pad", "Cast", "Transpose"}
    uncounted = sorted(t for t in types if by_op.get(t, 0) == 0 and t not in structural)
    return {"flops": int(profile.total_float_ops), "by_op": {k: v for k, v in by_op.items() if v},
            "uncounted_ops": uncounted}
