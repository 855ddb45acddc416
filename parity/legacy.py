"""The legacy side of a pair, as the harness drives it: a TF1 graph, built by the user's function or
imported from a saved `.meta` graph and its checkpoint, read into one `LegacyModel`.

A builder function returns an object or a dict naming its tensors (the public contract):

    inputs       the input placeholder (any shape: [None, 784] and [None, 28, 28, 1] both work)
    labels       the label placeholder: one-hot rows, class indices, or target images
    logits       the model's output (`outputs` is taken too)
    loss         the scalar training loss
    train_op     one optimizer step
    eval_feeds   optional {placeholder: value} fed in every comparison of the two styles: the values
                 that switch randomness off, e.g. {keep_prob: 1.0}
    train_feeds  optional {placeholder: value} fed over them while the graph trains on its own, e.g.
                 {keep_prob: 0.5}
    training     optional bool placeholder: True while training (batch norm's mode)
    endpoints    optional {name: tensor} of intermediate outputs, for the layer-shapes check
    variables    optional model variables in canonical order; by default every variable the
                 output depends on, in creation order (optimizer slots are not among them)
    gradients    optional, one per trainable variable; by default the gradients the train op's
                 update ops apply, read from the graph

The function builds into the default graph (the harness makes a new one); it may take any of the
keyword arguments `graph`, `seed` and `inputs`, which are then passed.
"""
import collections
import difflib
import functools
import importlib
import inspect
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from parity import graph_trust

ALIASES = {"logits": ("logits", "outputs")}
OUTPUT = "output"   # the endpoint name of the model's output, where a pair names none
VARIABLE_OPS = ("VariableV2", "Variable", "VarHandleOp")
# The input of each update op that carries the gradient it applies.
GRADIENT_ARGS = ("grad", "delta")


class LegacyError(ValueError):
    """The legacy side cannot be built as given; the message says what is wrong and how to fix it."""


class GraphRefused(LegacyError):
    """An imported graph whose ops touch files, the network or Python, refused before it runs."""


@dataclass(frozen=True)
class LegacySource:
    """How to build the legacy side: a builder function ("package.module:function"), or a saved
    `.meta` graph with its checkpoint and the names of its tensors."""
    builder: Optional[str] = None
    builder_kwargs: tuple = ()          # (name, value) pairs the harness passes (a built-in's learning rate)
    meta: Optional[str] = None
    checkpoint: Optional[str] = None
    inputs: Optional[str] = None        # tensor names, as tf.compat.v1 prints them ("x:0")
    labels: Optional[str] = None
    logits: Optional[str] = None
    loss: Optional[str] = None
    train_op: Optional[str] = None      # an operation name ("Adam", "train/Adam")
    training: Optional[str] = None
    eval_feeds: tuple = ()              # (tensor name, value) pairs
    train_feeds: tuple = ()
    endpoints: tuple = ()               # (name, tensor name) pairs
    isolated: bool = False              # build and run it in a process of its own
    search_path: Optional[str] = None   # a folder put first on sys.path to import the builder
    trust_graph: bool = False           # run an imported graph whose ops touch files, network or Python

    def describe(self):
        return self.builder or f"{self.meta} with {self.checkpoint}"


@dataclass
class LegacyModel:
    """The normalized legacy side: every field the runner needs, tensors of `graph`."""
    graph: object
    inputs: object
    labels: object
    logits: object
    loss: object
    train_op: object
    variables: list
    endpoints: "collections.OrderedDict" = field(default_factory=collections.OrderedDict)
    gradients: Optional[list] = None
    training: object = None
    train_feeds: dict = field(default_factory=dict)
    eval_feeds: dict = field(default_factory=dict)
    checkpoint: Optional[str] = None    # the model variables are restored from it once initialized
    graph_trust: Optional[dict] = None  # what the walk of its ops found (parity.graph_trust.verdict)


def build(source, seed=0, graph=None):
    """The LegacyModel `source` describes, in `graph` (a new one if None; a `.meta` graph is always
    imported into a new one)."""
    tf = _tf()
    if source.builder:
        function = load_function(source.builder, "--legacy", source.search_path)
        graph = graph if graph is not None else tf.Graph()
        with graph.as_default():
            tf.compat.v1.set_random_seed(seed)
            accepted = inspect.signature(function).parameters
            options = {"graph": graph, "seed": seed, **dict(source.builder_kwargs)}
            returned = function(**{k: v for k, v in options.items() if k in accepted or _takes_kwargs(accepted)})
            model = resolve_feeds(normalize(returned, graph, source.builder), source)
        # Built by the user's own code, which has run already: what its graph does is noted, not refused.
        fed = [t.name for t in (model.inputs, model.labels, model.training, *model.eval_feeds, *model.train_feeds)
               if t is not None]
        findings = graph_trust.walk(graph.as_graph_def(), _fetched(model) + [
            (f"the initializer of {v.op.name}", v.initializer.name) for v in _global_variables(graph)], fed=fed)
        model.graph_trust = graph_trust.verdict(findings, source.trust_graph, "code")
        if source.checkpoint:
            from parity.transfer import checkpoint_prefix

            model.checkpoint = checkpoint_prefix(source.checkpoint)
        return model
    if source.meta:
        return from_meta(source)
    raise LegacyError("no legacy side given: pass --legacy package.module:function, or --legacy-meta with "
                      "--checkpoint and the tensor names")


def _takes_kwargs(parameters):
    return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())


def load_function(reference, flag, search_path=None):
    """The function "package.module:function" names; LegacyError naming what is missing."""
    module_name, _, function_name = str(reference).partition(":")
    if not module_name or not function_name:
        raise LegacyError(f"{flag} {reference!r}: expected package.module:function")
    for folder in filter(None, (search_path, str(Path.cwd()))):
        if folder not in sys.path:
            sys.path.insert(0, folder)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name and module_name.startswith(e.name):
            raise LegacyError(f"{flag} {reference}: no module named {e.name!r} (searched the current folder "
                              "and the Python path)") from None
        raise user_error(e, f"{flag} {reference}: importing {module_name}", "failed:") from None
    except BaseException as e:  # the user's module fails, exits or interrupts itself as it is imported
        raise user_error(e, f"{flag} {reference}: importing {module_name}", "failed:") from None
    function = getattr(module, function_name, None)
    if function is None:
        public = [n for n in dir(module) if not n.startswith("_") and callable(getattr(module, n))]
        near = difflib.get_close_matches(function_name, public, n=3)
        raise LegacyError(f"{flag} {reference}: module {module_name} has no {function_name!r}"
                          + (f"; did you mean {', '.join(near)}?" if near else ""))
    if not callable(function):
        raise LegacyError(f"{flag} {reference}: {function_name} is a {type(function).__name__}, not a function")
    return _reported(function, flag, reference)


def _reported(function, flag, reference):
    """`function`, whose exceptions become one LegacyError naming it, the error and the line of the
    user's code it came from: the user's code failing is bad input, not tf-parity's crash."""
    @functools.wraps(function)
    def call(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except LegacyError:
            raise
        except BaseException as e:
            raise user_error(e, f"{flag} {reference}", "raised") from None
    return call


def user_error(error, what, verb="raised"):
    """The LegacyError for `error`, raised by the user's code doing `what` ("... {verb} TypeError: ..."
    for an ordinary exception); a SIGINT or SIGTERM that arrived meanwhile is raised again as it is.
    A module that calls sys.exit() or raises KeyboardInterrupt itself must not end a run as if it
    had passed, or had been interrupted."""
    from parity.interrupts import Terminated, from_signal

    if isinstance(error, Terminated) or (isinstance(error, KeyboardInterrupt) and from_signal()):
        raise error
    if isinstance(error, SystemExit):
        return LegacyError(f"{what} called sys.exit({error.code!r}){_where(error)}: a builder or port module must "
                           "return, not exit; no check ran")
    if isinstance(error, KeyboardInterrupt):
        return LegacyError(f"{what} raised KeyboardInterrupt{_where(error)}, though no signal came; no check ran")
    if not isinstance(error, Exception):
        return LegacyError(f"{what} raised {type(error).__name__}{_where(error)}; no check ran")
    return LegacyError(f"{what} {verb} {_raised(error)}")


def _raised(error):
    """"TypeError: the first line of its message (at file:line)", the line being the last frame
    outside installed packages and tf-parity itself: the user's."""
    text = (str(error).strip().splitlines() or [""])[0]
    return f"{type(error).__name__}: {text}{_where(error)}"


def _where(error):
    frame = user_frame(error.__traceback__)
    return f" (at {frame.filename}:{frame.lineno})" if frame else ""


def user_frame(tb):
    """The last frame of a traceback outside installed packages, Python's own library and tf-parity
    (the harness and its built-in models): the user's code, or None."""
    import sysconfig

    own = tuple(str(Path(__file__).resolve().parents[1] / d) for d in ("parity", "legacy_graph", "eager_v2"))
    library = tuple(p for p in {sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"]} if p)
    frames = [f for f in traceback.extract_tb(tb)
              if "-packages" not in f.filename and not f.filename.startswith(own + library)
              and not f.filename.startswith("<")]
    return frames[-1] if frames else None


def normalize(returned, graph, where="the builder"):
    """A LegacyModel from what a builder returned: an object or a dict with the public names."""
    tf = _tf()

    def get(name, required=True):
        for alias in ALIASES.get(name, (name,)):
            value = returned.get(alias) if isinstance(returned, dict) else getattr(returned, alias, None)
            if value is not None:
                return value
        if required:
            raise LegacyError(f"{where} returned {type(returned).__name__} without {name!r}; return an object or "
                              "dict with inputs, labels, logits, loss and train_op (see tf-parity --help)")
        return None

    inputs, labels, logits, loss = (get(n) for n in ("inputs", "labels", "logits", "loss"))
    train_op = get("train_op")
    for name, value in (("inputs", inputs), ("labels", labels), ("logits", logits), ("loss", loss)):
        if not isinstance(value, tf.Tensor):
            raise LegacyError(f"{where}: {name} is a {type(value).__name__}, expected a tf.Tensor of its graph")
        if value.graph is not graph:
            raise LegacyError(f"{where}: {name} belongs to another graph; build into the default graph (the "
                              "harness makes a new one) or into the `graph` argument")
    if isinstance(train_op, tf.Tensor):
        train_op = train_op.op
    if not isinstance(train_op, tf.Operation):
        raise LegacyError(f"{where}: train_op is a {type(train_op).__name__}, expected an operation "
                          "(optimizer.minimize(loss))")
    variables = get("variables", required=False)
    variables = list(variables) if variables is not None else model_variables(graph, logits)
    if not variables:
        raise LegacyError(f"{where}: the output depends on no variable")
    trainable = [v for v in variables if v.trainable]
    gradients = get("gradients", required=False)
    gradients = list(gradients) if gradients is not None else applied_gradients(train_op, trainable)
    # With no named endpoints the layer-shapes check compares the outputs alone.
    endpoints = get("endpoints", required=False) or {OUTPUT: logits}
    return LegacyModel(graph=graph, inputs=inputs, labels=labels, logits=logits, loss=loss, train_op=train_op,
                       variables=variables, endpoints=collections.OrderedDict(endpoints), gradients=gradients,
                       training=get("training", required=False),
                       train_feeds=dict(get("train_feeds", required=False) or {}),
                       eval_feeds=dict(get("eval_feeds", required=False) or {}))


def from_meta(source):
    """A LegacyModel from a `.meta` graph, its checkpoint and the tensor names in `source`."""
    tf = _tf()
    meta = Path(source.meta)
    if not meta.is_file():
        raise LegacyError(f"--legacy-meta {meta}: no such file")
    if not source.checkpoint:
        raise LegacyError("--legacy-meta needs --checkpoint, the prefix its weights were saved under")
    from parity.transfer import checkpoint_prefix

    prefix = checkpoint_prefix(source.checkpoint)
    missing = [flag for flag, value in (("--inputs", source.inputs), ("--labels", source.labels),
                                        ("--logits", source.logits), ("--loss", source.loss),
                                        ("--train-op", source.train_op)) if not value]
    if missing:
        raise LegacyError(f"--legacy-meta needs the names of its tensors: give {', '.join(missing)} (tensor names "
                          "as tf.compat.v1 prints them, such as x:0)")
    meta_graph = read_meta_graph(meta)
    findings = graph_trust.walk(meta_graph.graph_def, _named_targets(source) +
                                graph_trust.initializer_targets(meta_graph), fed=_fed_names(source))
    refuse(findings, source, f"--legacy-meta {meta}", meta)
    graph = tf.Graph()
    with graph.as_default():
        try:
            tf.compat.v1.train.import_meta_graph(meta_graph, clear_devices=True)
        except Exception as e:  # a custom op, with --trust-graph; or TF refusing what it read
            raise LegacyError(f"--legacy-meta {meta}: TensorFlow cannot import the graph ({type(e).__name__}: "
                              f"{str(e).splitlines()[0] if str(e) else ''})") from None
    tensor = _resolver(graph)
    model = normalize({
        "inputs": tensor("--inputs", source.inputs), "labels": tensor("--labels", source.labels),
        "logits": tensor("--logits", source.logits), "loss": tensor("--loss", source.loss),
        "train_op": _operation(graph, source.train_op),
        "training": tensor("--training", source.training) if source.training else None,
        "endpoints": collections.OrderedDict((n, tensor("--endpoint", t)) for n, t in source.endpoints) or None,
    }, graph, str(meta))
    model.train_feeds = {tensor("--train-feed", n): v for n, v in source.train_feeds}
    model.eval_feeds = {tensor("--feed", n): v for n, v in source.eval_feeds}
    model.checkpoint = prefix
    model.graph_trust = graph_trust.verdict(findings, source.trust_graph, "meta")
    return model


def read_meta_graph(path):
    """The MetaGraphDef in `path`, binary or text as tf.compat.v1 writes either; nothing imported."""
    from google.protobuf import message, text_format
    from tensorflow.core.protobuf import meta_graph_pb2

    data = Path(path).read_bytes()
    meta_graph = meta_graph_pb2.MetaGraphDef()
    try:
        meta_graph.ParseFromString(data)
        if meta_graph.graph_def.node:
            return meta_graph
    except message.DecodeError:
        pass
    try:
        return text_format.Parse(data.decode("utf-8"), meta_graph_pb2.MetaGraphDef())
    except (UnicodeDecodeError, text_format.ParseError) as e:
        raise LegacyError(f"--legacy-meta {path}: not a readable MetaGraphDef ({type(e).__name__}: "
                          f"{str(e).splitlines()[0] if str(e) else 'no graph in it'})") from None


def _named_targets(source):
    """(label, tensor or op name) of everything a parity run fetches or feeds, as `source` names them."""
    named = [("--inputs", source.inputs), ("--labels", source.labels), ("--logits", source.logits),
             ("--loss", source.loss), ("--train-op", source.train_op), ("--training", source.training)]
    named += [("--feed", n) for n, _ in source.eval_feeds] + [("--train-feed", n) for n, _ in source.train_feeds]
    named += [(f"--endpoint {n}=", t) for n, t in source.endpoints]
    return [(f"{flag} {name}" if not flag.endswith("=") else f"{flag}{name}", name) for flag, name in named if name]


def _fed_names(source):
    """The tensors a parity run of `source` feeds: its inputs, labels, training switch and feeds."""
    named = [source.inputs, source.labels, source.training, *(n for n, _ in source.eval_feeds),
             *(n for n, _ in source.train_feeds)]
    return [n for n in named if n]


def _fetched(model):
    """(label, name) of the tensors and ops a parity run fetches of a built LegacyModel."""
    named = [("inputs", model.inputs), ("labels", model.labels), ("logits", model.logits), ("loss", model.loss),
             ("train_op", model.train_op), ("training", model.training)]
    named += [(f"endpoint {k}", t) for k, t in model.endpoints.items()]
    named += [("a feed", t) for t in list(model.eval_feeds) + list(model.train_feeds)]
    return [(f"{label} {t.name}", t.name) for label, t in named if t is not None]


def _global_variables(graph):
    with graph.as_default():
        return _tf().compat.v1.global_variables()


def refuse(findings, source, what, path):
    """Raises GraphRefused naming `findings` unless the source trusts its graph; with --trust-graph,
    says on stderr what it is about to run."""
    if not findings:
        return
    if not source.trust_graph:
        raise GraphRefused(f"{what}: refused, nothing of it has run: the run would reach {len(findings)} "
                           f"op{'s' if len(findings) > 1 else ''} of a kind it does not run unasked: "
                           f"{graph_trust.summary(findings)}. "
                           f"`tf-parity inspect {path}` lists its ops; if you trust the graph, --trust-graph "
                           "(trust-graph = true in a pair's file) runs it anyway and the report says so")
    print(f"tf-parity: --trust-graph: {what} runs {len(findings)} flagged op{'s' if len(findings) > 1 else ''}: "
          f"{graph_trust.summary(findings)}", file=sys.stderr)


def resolve_feeds(model, source):
    """Feeds named in `source` ((tensor name, value) pairs) resolved in the model's graph, added to
    what the builder returned."""
    tensor = _resolver(model.graph)
    model.train_feeds.update({tensor("--train-feed", n): v for n, v in source.train_feeds})
    model.eval_feeds.update({tensor("--feed", n): v for n, v in source.eval_feeds})
    return model


def check_feeds(model):
    """LegacyError naming the placeholders the model's runs need that nothing feeds (a keep_prob
    missing from eval_feeds, say)."""
    known = {t.name for t in (model.inputs, model.labels, model.training) if t is not None}
    known |= {t.name for t in model.eval_feeds}
    needed = _ancestors(model.logits, model.loss, model.train_op).values()
    unfed = [op.outputs[0] for op in needed if op.type == "Placeholder" and op.outputs[0].name not in known]
    if unfed:
        what = ", ".join(f"{t.name} ({t.dtype.name} {_shape_text(t)})" for t in unfed)
        raise LegacyError(f"the legacy graph needs values for {what}, which tf-parity does not know: give them in "
                          "eval_feeds (the values that switch randomness off, keep_prob 1.0) and train_feeds (the "
                          "training values) of the builder's result, or --feed / --train-feed TENSOR=VALUE")


def _shape_text(tensor):
    shape = _tf().TensorShape(tensor.shape)
    return str(shape.as_list()) if shape.rank is not None else "of any shape"


def _resolver(graph):
    def tensor(flag, name):
        name = name if ":" in name else f"{name}:0"
        try:
            return graph.get_tensor_by_name(name)
        except (KeyError, ValueError):
            names = [out.name for op in graph.get_operations() for out in op.outputs]
            raise LegacyError(f"{flag} {name}: no such tensor in the graph{_nearest(name, names)}") from None
    return tensor


def _operation(graph, name):
    name = name.split(":")[0]
    try:
        return graph.get_operation_by_name(name)
    except (KeyError, ValueError):
        names = [op.name for op in graph.get_operations()]
        raise LegacyError(f"--train-op {name}: no such operation in the graph{_nearest(name, names)}") from None


def _nearest(name, names):
    """"; the nearest are A, B" for the names most like `name`, or "" where none is near."""
    near = difflib.get_close_matches(name, names, n=5, cutoff=0.5)
    return f"; the nearest are {', '.join(near)}" if near else ""


def _ancestors(*tensors_or_ops):
    """Every op the given tensors or ops depend on, through data and control inputs."""
    tf = _tf()
    stack = [t.op if isinstance(t, tf.Tensor) else t for t in tensors_or_ops]
    seen = {}
    while stack:
        op = stack.pop()
        if op.name in seen:
            continue
        seen[op.name] = op
        stack.extend(t.op for t in op.inputs)
        stack.extend(op.control_inputs)
    return seen


def model_variables(graph, output):
    """The variables `output` depends on (the moving statistics a batch-norm branch reads too), in
    creation order: the optimizer's slots and step counters are not among them."""
    tf = _tf()
    ops = _ancestors(output)
    with graph.as_default():
        variables = tf.compat.v1.global_variables()
    return [v for v in variables if _variable_op(v).name in ops]


def _variable_op(variable):
    handle = getattr(variable, "handle", None)
    return handle.op if handle is not None and getattr(handle, "op", None) is not None else variable.op


def update_ops(train_op):
    """The ops under `train_op` that apply a gradient to a variable, by the variable op's name."""
    found = {}
    for op in _ancestors(train_op).values():
        names = [arg.name for arg in op.op_def.input_arg] if op.op_def is not None else []
        if op.type.startswith(("Apply", "ResourceApply")) and any(n in names for n in GRADIENT_ARGS):
            found[op.inputs[0].op.name] = op
    return found


def applied_gradients(train_op, trainable):
    """The gradient tensor the train op applies to each trainable variable, or None where one has
    no update op (then the harness takes tf.gradients of the loss). Taking the applied ones matters
    for an imported graph: a second gradient subgraph beside the train op rounds otherwise."""
    applies = update_ops(train_op)
    gradients = []
    for variable in trainable:
        op = applies.get(_variable_op(variable).name)
        if op is None:
            return None
        names = [arg.name for arg in op.op_def.input_arg]
        gradients.append(op.inputs[next(names.index(n) for n in GRADIENT_ARGS if n in names)])
    return gradients


# Update op -> (optimizer, {input argument: setting}).
OPTIMIZERS = {
    "ApplyAdam": ("adam", {"lr": "learning_rate", "beta1": "beta_1", "beta2": "beta_2", "epsilon": "epsilon"}),
    "ApplyGradientDescent": ("sgd", {"alpha": "learning_rate"}),
    "ApplyMomentum": ("momentum", {"lr": "learning_rate", "momentum": "momentum"}),
}


def optimizer_settings(session, train_op):
    """What the train op's update ops are, read from the graph: {"optimizer": "adam",
    "learning_rate": ..., ...}, or {"optimizer": None, "found": op types} for others."""
    applies = update_ops(train_op)
    kinds = sorted({op.type.replace("Resource", "") for op in applies.values()})
    if len(kinds) != 1 or kinds[0] not in OPTIMIZERS:
        return {"optimizer": None, "found": kinds}
    op = next(iter(applies.values()))
    name, settings = OPTIMIZERS[kinds[0]]
    args = [arg.name for arg in op.op_def.input_arg]
    values = {key: _setting(session, op.inputs[args.index(arg)]) for arg, key in settings.items()}
    result = {"optimizer": name, **{k: float(v) for k, v in values.items()}}
    if name == "momentum":
        result["nesterov"] = bool(op.get_attr("use_nesterov"))
    return result


def _setting(session, tensor):
    """An optimizer setting's value. A constant is read from the graph: built under
    control_dependencies(UPDATE_OPS), as batch norm asks, it carries control inputs that a run
    would have to feed a batch for."""
    value = _tf().get_static_value(tensor)
    return session.run(tensor) if value is None else value


# Loss op -> the name of the Keras loss that computes it.
LOSSES = {"SoftmaxCrossEntropyWithLogits": "softmax_cross_entropy",
          "SparseSoftmaxCrossEntropyWithLogits": "sparse_softmax_cross_entropy"}


def loss_kind(loss):
    """(loss name, reduction) the loss tensor computes, where the graph shows it: a cross-entropy
    op under a Mean or Sum; else (None, None)."""
    kinds = {LOSSES[op.type] for op in _ancestors(loss).values() if op.type in LOSSES}
    reduction = {"Mean": "mean", "Sum": "sum"}.get(loss.op.type)
    if len(kinds) != 1 or reduction is None:
        return None, None
    return kinds.pop(), reduction


RANDOM_OPS = ("RandomUniform", "RandomStandardNormal", "TruncatedNormal", "RandomUniformInt", "Multinomial",
              "RandomShuffle", "RandomGamma", "RandomPoisson", "RandomPoissonV2")


def random_ops(loss):
    """The names of the stateful random ops the loss depends on (dropout's RandomUniform, say)."""
    return sorted(op.name for op in _ancestors(loss).values() if op.type in RANDOM_OPS)


def _tf():
    from parity.runtime import import_tensorflow

    return import_tensorflow()
