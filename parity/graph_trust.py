"""What an imported graph would do, looked at before any of it runs.

A `.meta` graph (a SavedModel's, a frozen `.pb`) is a program: an op can read or write files
(`ReadFile`, `WriteFile`, a Saver's `SaveV2` wired into the logits), reach the network, run Python
(`PyFunc`) or block on a queue that nothing fills. TensorFlow is no sandbox, and its own
`saved_model_cli scan` looks for such ops before a model is served. So before a session runs an
imported graph, every op that the tensors tf-parity will fetch can reach (through data and control
inputs, and into the bodies of the functions they call), and every op of the variables'
initializers, is walked on the graph's protocol buffer, and ops of the kinds below are refused,
each named with its type and the tensor it is reached from. `--trust-graph` runs such a graph
anyway, and the report says that it did.

The walk reads the proto, not an imported tf.Graph, so that a custom op TensorFlow would refuse to
import is named too, and nothing of the graph is built before it has been looked at.
"""
from dataclasses import dataclass
from typing import Optional

FILES = "reads or writes files"
NETWORK = "reaches the network"
PYTHON = "runs Python code"
QUEUES = "blocks on a queue or reader"
CUSTOM = "is not in TensorFlow's op registry (a custom op)"

_FILE_OPS = {
    "ReadFile", "WriteFile", "MatchingFiles", "ImmutableConst", "FileSystemSetConfiguration",
    "Save", "SaveV2", "SaveSlices", "Restore", "RestoreV2", "RestoreSlice", "MergeV2Checkpoints",
    "InitializeTableFromTextFile", "InitializeTableFromTextFileV2", "LoadAndRemapMatrix", "GenerateVocabRemapping",
    "CacheDataset", "CacheDatasetV2", "DatasetToTFRecord", "ExperimentalDatasetToTFRecord",
    "ExperimentalMatchingFilesDataset", "MatchingFilesDataset", "FixedLengthRecordDataset",
    "FixedLengthRecordDatasetV2", "TFRecordDataset", "TFRecordDatasetV2", "TextLineDataset", "LoadDataset",
    "SaveDataset", "SaveDatasetV2", "SnapshotDataset", "SnapshotDatasetV2", "SnapshotChunkDataset",
    "SnapshotDatasetReader", "SnapshotNestedDatasetReader", "ListSnapshotChunksDataset", "DistributedSave",
    "CreateSummaryFileWriter", "CreateSummaryDbWriter", "SummaryWriter", "ImportEvent", "FlushSummaryWriter",
    "CloseSummaryWriter", "WriteSummary", "WriteScalarSummary", "WriteHistogramSummary", "WriteImageSummary",
    "WriteAudioSummary", "WriteGraphSummary", "WriteRawProtoSummary", "StatsAggregatorSetSummaryWriter",
    # The debugger's ops write what they see to their debug_urls: files, or a gRPC server.
    "DebugIdentity", "DebugIdentityV2", "DebugIdentityV3", "DebugNanCount", "DebugNumericSummary",
    "DebugNumericSummaryV2",
}
_NETWORK_PREFIXES = ("Collective", "DataServiceDataset", "RegisterDataset", "Rpc", "TryRpc", "_Send", "_Recv",
                     "_HostSend", "_HostRecv", "RemoteCall", "ConfigureDistributedTPU")
_PYTHON_OPS = {"PyFunc", "PyFuncStateless", "EagerPyFunc"}
_QUEUE_WORDS = ("Queue", "Reader", "Accumulator", "Barrier")
_QUEUE_OPS = {"Stage", "Unstage", "StagePeek", "MapStage", "MapUnstage", "MapPeek", "OrderedMapStage",
              "OrderedMapUnstage", "OrderedMapPeek"}


@dataclass(frozen=True)
class Finding:
    """An op the walk refuses: its name, type, what it does, the fetched tensor (or initializer) it is
    reached from, and the function it sits in (None: the graph itself)."""
    name: str
    type: str
    what: str
    reached_from: str
    function: Optional[str] = None

    def describe(self):
        where = f" in function {self.function}" if self.function else ""
        return f"{self.type} op {self.name!r}{where} ({self.what}; reached from {self.reached_from})"

    def to_json(self):
        return {"op": self.name, "type": self.type, "what": self.what, "reached_from": self.reached_from,
                "function": self.function}


def classify(node, registered):
    """What `node` (a NodeDef) does that a parity run must not do unasked, or None. `registered(type)`
    says whether TensorFlow knows the op type."""
    op = node.op
    if op in _PYTHON_OPS:
        return PYTHON
    if op in _FILE_OPS:
        return FILES
    if op == "PrintV2" and _attr_text(node, "output_stream").startswith("file://"):
        return FILES
    if op in ("DecodeProtoV2", "EncodeProto") and _attr_text(node, "descriptor_source") not in ("", "local://"):
        return FILES
    if op.startswith(_NETWORK_PREFIXES) or op in ("Send", "Recv"):
        return NETWORK
    if op in _QUEUE_OPS or any(word in op for word in _QUEUE_WORDS):
        return QUEUES
    if not registered(op):
        return CUSTOM
    return None


def _attr_text(node, name):
    if name not in node.attr:
        return ""
    value = node.attr[name].s
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _node_name(reference):
    """'^a/b' and 'a/b:1' -> 'a/b'."""
    return reference.lstrip("^").split(":")[0]


def _called_functions(node, library):
    """The names of library functions `node` calls: as its op type, or through func attributes
    (If/While branches, PartitionedCall's f, a dataset's map function)."""
    names = [node.op] if node.op in library else []
    for value in node.attr.values():
        if value.HasField("func"):
            names.append(value.func.name)
        if value.HasField("list"):
            names.extend(f.name for f in value.list.func)
    return [n for n in names if n in library]


def _tensor_name(reference):
    """'a/b' -> 'a/b:0', 'a/b:1' as it is; a control input ('^a/b') is no tensor: None."""
    if reference.startswith("^"):
        return None
    return reference if ":" in reference else f"{reference}:0"


def walk(graph_def, targets, registered=None, fed=()):
    """The Findings among the ops `targets` reach in `graph_def` (a GraphDef). `targets` is a list of
    (label, tensor or op name): label names the target in a finding ("--logits add_3:0"). Names
    not in the graph are skipped (the caller reports them). Every op of a function a reached op
    calls counts as reached. A tensor in `fed` is given its value, so a Session runs nothing
    behind it (a queue's dequeue fed as the input, say): the walk stops there too."""
    fed = {_tensor_name(t) for t in fed}
    registered = registered or _registry()
    nodes = {node.name: node for node in graph_def.node}
    library = {f.signature.name: f for f in graph_def.library.function}
    findings, seen, seen_functions = [], set(), set()

    def visit_function(name, label):
        stack = [name]
        while stack:
            fname = stack.pop()
            if fname in seen_functions:
                continue
            seen_functions.add(fname)
            for node in library[fname].node_def:
                what = classify(node, lambda op: op in library or registered(op))
                if what:
                    findings.append(Finding(node.name, node.op, what, label, fname))
                stack.extend(_called_functions(node, library))

    for label, target in targets:
        if _tensor_name(target) in fed:
            continue
        stack = [_node_name(target)]
        while stack:
            name = stack.pop()
            if name in seen or name not in nodes:
                continue
            seen.add(name)
            node = nodes[name]
            what = classify(node, lambda op: op in library or registered(op))
            if what:
                findings.append(Finding(node.name, node.op, what, label))
            for fname in _called_functions(node, library):
                visit_function(fname, label)
            stack.extend(_node_name(i) for i in node.input if _tensor_name(i) not in fed)
    return findings


def _registry():
    from tensorflow.python.framework import op_def_registry

    from parity.runtime import import_tensorflow

    import_tensorflow()  # registers the core ops
    return lambda op: op_def_registry.get(op) is not None


def initializer_targets(meta_graph_def):
    """(label, op name) of every global variable's initializer in a MetaGraphDef: the harness runs
    them all before it restores the checkpoint over them."""
    from tensorflow.core.framework import variable_pb2

    targets = []
    collection = meta_graph_def.collection_def.get("variables")
    for raw in (collection.bytes_list.value if collection is not None else ()):
        variable = variable_pb2.VariableDef()
        variable.ParseFromString(raw)
        if variable.initializer_name:
            targets.append((f"the initializer of {variable.variable_name}", variable.initializer_name))
    return targets


def summary(findings, limit=4):
    """'WriteFile op 'w' (reads or writes files; reached from --logits add:0); and 2 more'."""
    text = "; ".join(f.describe() for f in findings[:limit])
    return text + (f"; and {len(findings) - limit} more" if len(findings) > limit else "")


def verdict(findings, trusted, route):
    """What the report says of the walk: the route, whether the graph was trusted, what was found."""
    return {"route": route, "walked": True, "trusted": bool(trusted), "flagged": [f.to_json() for f in findings]}
