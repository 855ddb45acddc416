"""`tf-parity inspect`: what a saved graph holds, read from its protocol buffer without importing
or running any of it, so that a user with only a `.meta` (or a frozen GraphDef `.pb`, or a
SavedModel's `saved_model.pb`) can find the names a pair needs and see what the graph would do.

The candidates are guesses from how TF1 code builds a graph, each with the reason it was picked:
the inputs and labels are the placeholders a cross-entropy reaches, the logits the tensor the
cross-entropy reads, the loss the tensor `tf.gradients` started from, the train op the op that
groups the optimizer's updates (or the `train_op` collection).
"""
import re
from collections import Counter
from pathlib import Path

from parity import graph_trust

CROSS_ENTROPIES = ("SoftmaxCrossEntropyWithLogits", "SparseSoftmaxCrossEntropyWithLogits")
VARIABLE_OPS = ("VariableV2", "Variable", "VarHandleOp")
APPLY_PREFIXES = ("Apply", "ResourceApply", "ResourceSparseApply", "SparseApply")
PIPELINE_OUTPUTS = ("QueueDequeue", "IteratorGetNext")
GROUP_OPS = ("NoOp", "AssignAdd", "AssignAddVariableOp", "Identity")


UNREACHED = "none of the candidates"


class InspectError(ValueError):
    """The file is not a graph inspect can read; the message says what it is and what to give."""


def read(path):
    """(kind, MetaGraphDef or None, GraphDef) of `path`: a MetaGraphDef (binary or text), a
    SavedModel's saved_model.pb (its first MetaGraph), or a GraphDef .pb/.pbtxt."""
    from google.protobuf import message, text_format
    from tensorflow.core.framework import graph_pb2
    from tensorflow.core.protobuf import saved_model_pb2

    from parity.legacy import LegacyError, read_meta_graph

    path = Path(path)
    if path.is_dir() and (path / "saved_model.pb").is_file():
        path = path / "saved_model.pb"
    if not path.is_file():
        raise InspectError(f"{path}: no such file; give a .meta, a frozen GraphDef .pb or a SavedModel folder")
    data = path.read_bytes()
    if path.name == "saved_model.pb":
        saved = saved_model_pb2.SavedModel()
        try:
            saved.ParseFromString(data)
        except message.DecodeError as e:
            raise InspectError(f"{path}: not a readable SavedModel ({e})") from None
        if not saved.meta_graphs:
            raise InspectError(f"{path}: a SavedModel with no MetaGraph in it")
        return "saved_model", saved.meta_graphs[0], saved.meta_graphs[0].graph_def
    if path.suffix in (".pb", ".pbtxt"):
        graph_def = graph_pb2.GraphDef()
        try:
            if path.suffix == ".pbtxt":
                text_format.Parse(data.decode("utf-8"), graph_def)
            else:
                graph_def.ParseFromString(data)
        except (message.DecodeError, text_format.ParseError, UnicodeDecodeError) as e:
            raise InspectError(f"{path}: not a readable GraphDef ({type(e).__name__}: {e})") from None
        if not graph_def.node:
            raise InspectError(f"{path}: a GraphDef with no ops in it")
        return "graph_def", None, graph_def
    try:
        meta_graph = read_meta_graph(path)
    except LegacyError as e:
        raise InspectError(str(e).replace("--legacy-meta ", "", 1)) from None
    return "meta", meta_graph, meta_graph.graph_def


def _shape(node, attr="shape"):
    """[None, 784] from a node's shape attribute; None where the rank is unknown."""
    if attr not in node.attr:
        return None
    shape = node.attr[attr].shape
    if shape.unknown_rank:
        return None
    return [d.size if d.size >= 0 else None for d in shape.dim]


def _dtype(node, attr="dtype"):
    from tensorflow.python.framework import dtypes

    if attr not in node.attr:
        return None
    try:
        return dtypes.as_dtype(node.attr[attr].type).name
    except TypeError:
        return f"dtype {node.attr[attr].type}"


def _name(reference):
    return reference.lstrip("^").split(":")[0]


def _tensor(reference):
    reference = reference.lstrip("^")
    return reference if ":" in reference else f"{reference}:0"


def describe(kind, meta_graph, graph_def):
    """The inspection as JSON-ready data."""
    nodes = {n.name: n for n in graph_def.node}
    consumers = {}
    for node in graph_def.node:
        for reference in node.input:
            consumers.setdefault(_name(reference), []).append(node)
    ops = Counter(n.op for n in graph_def.node)
    functions = Counter(n.op for f in graph_def.library.function for n in f.node_def)

    placeholders = [{"tensor": f"{n.name}:0", "op": n.op, "dtype": _dtype(n), "shape": _shape(n)}
                    for n in graph_def.node if n.op in ("Placeholder", "PlaceholderWithDefault")]
    variables = _variables(meta_graph, nodes)
    candidates = _candidates(nodes, consumers, placeholders, meta_graph)
    flagged = _flagged(graph_def, candidates)
    return {"file_kind": kind, "ops": len(graph_def.node), "op_types": dict(sorted(ops.items())),
            "function_op_types": dict(sorted(functions.items())),
            "functions": sorted(f.signature.name for f in graph_def.library.function),
            "placeholders": placeholders, "variables": variables, "candidates": candidates,
            "signatures": _signatures(meta_graph), "flagged": [f.to_json() for f in flagged],
            "flagged_reached": sorted({f.name for f in flagged if f.reached_from != UNREACHED})}


def _variables(meta_graph, nodes):
    from tensorflow.core.framework import variable_pb2

    trainable = set()
    found = []
    if meta_graph is not None:
        collection = meta_graph.collection_def.get("trainable_variables")
        for raw in (collection.bytes_list.value if collection is not None else ()):
            v = variable_pb2.VariableDef()
            v.ParseFromString(raw)
            trainable.add(_name(v.variable_name))
    for name, node in nodes.items():
        if node.op in VARIABLE_OPS:
            found.append({"name": name, "dtype": _dtype(node), "shape": _shape(node),
                          "trainable": name in trainable if meta_graph is not None else None})
        elif node.op == "Const" and name.endswith(("/kernel", "/weights", "/bias", "/biases")):
            found.append({"name": name, "dtype": _dtype(node), "frozen": True,
                          "shape": [d.size for d in node.attr["value"].tensor.tensor_shape.dim],
                          "trainable": None})
    return found


def _candidates(nodes, consumers, placeholders, meta_graph):
    """{"inputs", "labels", "logits", "loss", "train_op", "training", "feeds"}: lists of
    {"name", "why"}, the likeliest first."""
    found = {k: [] for k in ("inputs", "labels", "logits", "loss", "train_op", "training", "feeds")}

    def add(key, name, why):
        if name and all(c["name"] != name for c in found[key]):
            found[key].append({"name": name, "why": why})

    def placeholder_behind(reference, depth=8):
        """The placeholder (or queue or iterator output) that `reference` reads through
        shape-preserving ops, if any."""
        for _ in range(depth):
            node = nodes.get(_name(reference))
            if node is None:
                return None
            if node.op in ("Placeholder", "PlaceholderWithDefault") or node.op.startswith(PIPELINE_OUTPUTS):
                return _tensor(reference)
            if node.op not in ("Identity", "Cast", "Reshape", "OneHot", "StopGradient", "ExpandDims", "Squeeze",
                               "PreventGradient") or not node.input:
                return None
            reference = node.input[0]
        return None

    def unwrapped(reference, scope):
        """The tensor a cross-entropy's own reshapes and casts (inside its name scope) read."""
        while True:
            node = nodes.get(_name(reference))
            if node is None or not node.name.startswith(scope + "/") or not node.input or \
                    node.op not in ("Reshape", "Identity", "Cast"):
                return _tensor(reference)
            reference = node.input[0]

    for node in nodes.values():
        if node.op in CROSS_ENTROPIES and len(node.input) >= 2:
            add("logits", unwrapped(node.input[0], node.name), f"read by {node.op} {node.name}")
            label = placeholder_behind(unwrapped(node.input[1], node.name))
            add("labels", label, f"the labels of {node.op} {node.name}")
        elif node.op in ("Softmax", "ArgMax", "Sigmoid") and node.input:
            add("logits", _tensor(node.input[0]), f"read by {node.op} {node.name}")
    # tf.gradients seeds the backward pass with a Fill of ones (gradients/grad_ys_0, or gradients/Fill)
    # read by the gradient of the loss: gradients/<loss op>_grad/...
    for node in nodes.values():
        if node.op == "Fill" and re.search(r"(^|/)gradients(_\d+)?/(grad_ys_\d+|Fill)$", node.name):
            for consumer in consumers.get(node.name, ()):
                match = re.match(r"^(.*?)gradients(_\d+)?/(.+?)_grad/", consumer.name)
                if match and match.group(3) in nodes:
                    add("loss", f"{match.group(3)}:0", f"the tensor {match.group(1)}gradients{match.group(2) or ''} "
                                                       "differentiates")
    if meta_graph is not None:
        for key, collection in (("loss", "losses"), ("train_op", "train_op")):
            entry = meta_graph.collection_def.get(collection)
            for name in (entry.node_list.value if entry is not None else ()):
                add(key, name if key == "loss" else _name(name), f"in the {collection} collection")
    apply_types = {n.op for n in nodes.values() if n.op.startswith(APPLY_PREFIXES)}

    def updates(name, depth=4):
        """The optimizer's update ops a group op runs, through NoOps and step increments."""
        node = nodes.get(name)
        if node is None:
            return 0
        if node.op in apply_types:
            return 1
        if depth == 0 or node.op not in GROUP_OPS:
            return 0
        return sum(updates(_name(i), depth - 1) for i in node.input)

    for node in nodes.values():
        if node.op in GROUP_OPS and not consumers.get(node.name):
            count = updates(node.name)
            if count:
                add("train_op", node.name, f"runs {count} of the optimizer's update ops "
                                           f"({', '.join(sorted(apply_types))})")
    for p in placeholders:
        if p["dtype"] == "bool":
            add("training", p["tensor"], "a bool placeholder (batch norm's or dropout's training switch)")
        elif p["shape"] in ([], None) and p["dtype"] and p["dtype"].startswith("float"):
            add("feeds", p["tensor"], "a float placeholder of no shape or a scalar's (keep_prob or a learning rate: give it with "
                                      "--feed NAME=VALUE, --train-feed NAME=VALUE)")
    labels = {c["name"] for c in found["labels"]}
    for p in placeholders:
        shape = p["shape"]
        if p["tensor"] not in labels and shape and len(shape) >= 2 and p["dtype"] and p["dtype"].startswith("float"):
            add("inputs", p["tensor"], f"a {p['dtype']} placeholder of shape {shape}")
    # A 2016 script's input pipeline: a queue's dequeue (or a tf.data iterator's output) takes the
    # placeholders' place; fed as the input and labels, nothing behind it runs.
    consumed = {_tensor(i) for node in nodes.values() for i in node.input if not i.startswith("^")}
    for node in nodes.values():
        if node.op.startswith(PIPELINE_OUTPUTS):
            for tensor in sorted(t for t in consumed if _name(t) == node.name):
                if tensor not in labels:
                    add("inputs", tensor, f"an output of {node.op} {node.name}: feed it, and the pipeline behind it "
                                          "never runs")
    for key in ("logits", "loss", "train_op"):
        found[key].sort(key=lambda c: "collection" not in c["why"] and key != "logits")
    return found


def _signatures(meta_graph):
    if meta_graph is None:
        return {}
    return {key: {"inputs": {k: v.name for k, v in sig.inputs.items()},
                  "outputs": {k: v.name for k, v in sig.outputs.items()}}
            for key, sig in meta_graph.signature_def.items()}


def _flagged(graph_def, candidates):
    """Every op the trust walk would refuse: reached from the candidates where it is, else
    anywhere in the graph (a Saver's own SaveV2 and RestoreV2 sit there and are never run)."""
    targets = [(f"--{key.replace('_', '-')} {c['name']}", c["name"])
               for key, entries in candidates.items() if key != "feeds" for c in entries[:1]]
    fed = [entries[0]["name"] for key, entries in candidates.items() if key in ("inputs", "labels", "training")
           and entries] + [c["name"] for c in candidates["feeds"]]
    reached = graph_trust.walk(graph_def, targets, fed=fed)
    names = {f.name for f in reached}
    everywhere = graph_trust.walk(graph_def, [(UNREACHED, n.name) for n in graph_def.node])
    return reached + [f for f in everywhere if f.name not in names]


def skeleton(data, path, folder="."):
    """A pair file for the likeliest candidates, its paths relative to `folder` (where it is
    written), each line commented where nothing was found."""
    import json
    import os

    def where(p):
        return os.path.relpath(Path(p).resolve(), Path(folder).resolve())

    first = {k: (v[0]["name"] if v else None) for k, v in data["candidates"].items()}
    prefix = Path(path).with_suffix("")
    lines = ["# Written by tf-parity inspect: check each name, then fill in the port.",
             f"legacy-meta = {json.dumps(where(path))}" if data["file_kind"] == "meta" else
             f"# legacy-meta = ...   # a {data['file_kind'].replace('_', ' ')}: no parity route reads it yet"]
    if Path(f"{prefix}.index").is_file():
        lines.append(f"checkpoint = {json.dumps(where(prefix))}")
    else:
        lines.append('checkpoint = "CHECKPOINT_PREFIX"   # the Saver prefix: model for model.index, model.data-*')
    lines.append('eager = "package.module:function"   # the Keras 3 port')
    for key in ("inputs", "labels", "logits", "loss", "train_op", "training"):
        toml_key = key.replace("_", "-")
        if first[key]:
            lines.append(f"{toml_key} = {json.dumps(first[key])}")
        elif key != "training":
            lines.append(f'# {toml_key} = "..."   # no candidate found; see the op list')
    if data["flagged_reached"]:
        lines.append("# trust-graph = true   # the graph runs ops that touch files, the network or Python: "
                     "read the list first")
    if data["candidates"]["feeds"]:
        lines.append("\n# [feed]   # float placeholders of no or scalar shape: keep_prob (1.0 switches dropout off) or a learning rate")
        lines += [f"# {json.dumps(feed['name'])} = 1.0" for feed in data["candidates"]["feeds"]]
    return "\n".join(lines) + "\n"


def format_text(data, path):
    kinds = {"meta": "MetaGraphDef", "saved_model": "SavedModel's MetaGraphDef", "graph_def": "GraphDef"}
    out = [f"{path}: a {kinds[data['file_kind']]} of {data['ops']} ops"
           + (f" and {len(data['functions'])} functions" if data["functions"] else "")]
    out.append("op types: " + ", ".join(f"{op} {n}" for op, n in
                                        sorted(data["op_types"].items(), key=lambda kv: (-kv[1], kv[0]))))
    out.append(f"placeholders ({len(data['placeholders'])}):")
    out += [f"  {p['tensor']:<32} {p['dtype']} {p['shape']}" for p in data["placeholders"]] or ["  (none)"]
    out.append(f"variables ({len(data['variables'])}):")
    out += [f"  {v['name']:<32} {v['dtype']} {v['shape']}"
            + ("" if v["trainable"] is None else "" if v["trainable"] else " (not trainable)")
            + (" (frozen into a constant)" if v.get("frozen") else "") for v in data["variables"]] or ["  (none)"]
    out.append("candidates:")
    for key, entries in data["candidates"].items():
        for c in entries[:3]:
            out.append(f"  {key.replace('_', '-'):<10} {c['name']:<32} {c['why']}")
        if not entries and key not in ("training", "feeds"):
            out.append(f"  {key.replace('_', '-'):<10} (none found)")
    for name, sig in data["signatures"].items():
        out.append(f"signature {name}: inputs {sig['inputs']}, outputs {sig['outputs']}")
    reached = [f for f in data["flagged"] if f["reached_from"] != UNREACHED]
    unreached = [f for f in data["flagged"] if f["reached_from"] == UNREACHED]
    if reached:
        out.append(f"ops a run with these names would refuse without --trust-graph ({len(reached)}):")
        out += [f"  {f['type']} op {f['op']!r}: {f['what']}; reached from {f['reached_from']}" for f in reached]
    else:
        out.append("the candidates reach no op that reads or writes files, reaches the network, runs Python or "
                   "blocks on a queue")
    if unreached:
        out.append(f"such ops in the graph that none of the candidates reaches, so never run ({len(unreached)}; "
                   "a Saver's own SaveV2 and RestoreV2 are these): "
                   + ", ".join(f"{f['type']} {f['op']!r}" for f in unreached))
    return "\n".join(out)
