"""A pair, the unit every check works on: the legacy TF1 side (parity.legacy) and its Keras 3 port.

The five built-in models are pairs whose two sides are modules of this project, registered in
parity.registry. A user's pair names its sides itself: the legacy side by a builder function or a
`.meta` graph, the Keras side by a function returning a `keras.Model`, with an optional optimizer
factory, loss and weight map. What the user leaves out is read from the legacy graph: the
optimizer and its settings from the update ops its train op runs, the loss from the ops under it,
the label format from its label placeholder, and the weight pairing from creation order and shape.
"""
import contextlib
import dataclasses
from dataclasses import dataclass
from typing import Optional

from parity.legacy import LegacyError, load_function

# Losses a pair may name, as TF1 computed them: (Keras class, from_logits).
LOSSES = {
    "softmax_cross_entropy": ("CategoricalCrossentropy", True),
    "sparse_softmax_cross_entropy": ("SparseCategoricalCrossentropy", True),
    "sigmoid_cross_entropy": ("BinaryCrossentropy", True),
    "mean_squared_error": ("MeanSquaredError", None),
}


@dataclass(frozen=True)
class EagerSource:
    """The Keras side of a user's pair."""
    model: str                          # "package.module:function" returning a keras.Model
    optimizer: Optional[str] = None     # "package.module:function" returning a Keras optimizer
    loss: Optional[str] = None          # one of LOSSES (with reduction `mean` or `sum`), or module:function
    reduction: str = "mean"
    map: Optional[str] = None           # a weight map file (parity.mapping)
    search_path: Optional[str] = None

    def check(self):
        """Imports the functions this side names, so a missing module or function is reported before
        any long run; raises LegacyError."""
        load_function(self.model, "--eager", self.search_path)
        if self.optimizer:
            load_function(self.optimizer, "--optimizer", self.search_path)
        if self.loss and ":" in self.loss:
            load_function(self.loss, "--keras-loss", self.search_path)
        elif self.loss and self.loss not in LOSSES:
            raise LegacyError(f"--keras-loss {self.loss!r}: choose one of {', '.join(LOSSES)}, or give "
                              "package.module:function")


def keras_loss(name, reduction="mean"):
    import keras

    if name not in LOSSES:
        raise LegacyError(f"--keras-loss {name!r}: choose one of {', '.join(LOSSES)}, or give package.module:function")
    cls, from_logits = LOSSES[name]
    kwargs = {"reduction": "sum" if reduction == "sum" else "sum_over_batch_size"}
    if from_logits is not None:
        kwargs["from_logits"] = from_logits
    return getattr(keras.losses, cls)(**kwargs)


def keras_optimizer(settings):
    """A factory of the Keras optimizer that applies what the legacy update ops apply."""
    import keras

    kind = settings.get("optimizer")
    if kind == "adam":
        return lambda: keras.optimizers.Adam(learning_rate=settings["learning_rate"], beta_1=settings["beta_1"],
                                             beta_2=settings["beta_2"], epsilon=settings["epsilon"])
    if kind == "sgd":
        return lambda: keras.optimizers.SGD(learning_rate=settings["learning_rate"])
    if kind == "momentum":
        # TF1: accum = m * accum + g; w -= lr * accum. Keras: v = m * v - lr * g; w += v. The same
        # for a constant learning rate.
        return lambda: keras.optimizers.SGD(learning_rate=settings["learning_rate"], momentum=settings["momentum"],
                                            nesterov=settings["nesterov"])
    found = ", ".join(settings.get("found") or ["none"])
    raise LegacyError(f"the legacy train op applies {found}, which tf-parity cannot turn into a Keras optimizer by "
                      "itself; give one with --optimizer package.module:function")


def build_runners(spec, seed=0, style="function", epsilon=None):
    """(spec, legacy runner, Keras runner). For a user's pair the returned spec holds what was read
    from the legacy graph (input shape, label format, classes, optimizer)."""
    from parity.runners import GraphRunner, KerasRunner

    if spec.pair_legacy is None:
        return spec, GraphRunner.from_spec(spec, seed=seed), KerasRunner.from_spec(spec, seed=seed, style=style,
                                                                                    epsilon=epsilon)
    spec, legacy, info = legacy_side(spec, seed)
    with closed_on_error(legacy):
        eager = keras_runner(spec, info, legacy, seed, style)
    return spec, legacy, eager


def legacy_side(spec, seed=0):
    """(spec resolved by what its legacy graph says, the legacy runner, what it said: runner.info())
    of a user's pair; the runner is closed again where reading it fails."""
    legacy = legacy_runner(spec.pair_legacy, seed)
    with closed_on_error(legacy):
        info = legacy.info()
        return resolved(spec, info), legacy, info


@contextlib.contextmanager
def closed_on_error(runner):
    """Closes `runner` (a legacy side in its own process, say) where the block raises."""
    try:
        yield
    except BaseException:
        runner.close()
        raise


def runner_for_style(spec, style, seed=0):
    """(resolved spec, the runner of one style) of a user's pair, for `tf-parity train`."""
    if style == "legacy":
        return legacy_side(spec, seed)[:2]
    spec, legacy, eager = build_runners(spec, seed, style)
    legacy.close()
    return spec, eager


def legacy_runner(source, seed=0):
    from parity.isolated import IsolatedRunner
    from parity.runners import GraphRunner

    return IsolatedRunner(source, seed) if source.isolated else GraphRunner.from_source(source, seed)


def resolved(spec, info):
    """`spec` with what the legacy graph says: its input shape, label format, number of outputs,
    task, and the optimizer and loss it trains with."""
    labels = info["labels"]
    classes = info["output_shape"][-1] if labels != "images" else 0
    optimizer = info["optimizer"]
    describe = ", ".join(f"{k} {v:g}" for k, v in optimizer.items() if isinstance(v, float))
    loss, reduction = info["loss"]
    recipe = dataclasses.replace(
        spec.recipe, labels=labels, learning_rate=optimizer.get("learning_rate"), epsilon=optimizer.get("epsilon"),
        optimizer=f"{optimizer.get('optimizer')} ({describe})" if optimizer.get("optimizer") else spec.recipe.optimizer,
        loss=f"{loss}, {reduction}" if loss else spec.recipe.loss)
    return dataclasses.replace(spec, input_shape=tuple(info["input_shape"]), num_classes=classes,
                               task="reconstruction" if labels == "images" else "classification", recipe=recipe,
                               batch_norm=info["training_flag"])


def keras_runner(spec, info, legacy, seed=0, style="function"):
    """The Keras side of a user's pair, its weights paired with the legacy variables."""
    import keras
    import numpy as np

    from parity import mapping
    from parity.runners import KerasRunner

    source = spec.pair_eager
    keras.utils.set_random_seed(seed)
    model = load_function(source.model, "--eager", source.search_path)()
    if not isinstance(model, keras.Model):
        raise LegacyError(f"--eager {source.model} returned a {type(model).__name__}, expected a keras.Model")
    shape = tuple(model.inputs[0].shape[1:]) if model.inputs else None
    if shape is None or None in shape or int(np.prod(shape)) != int(np.prod(info["input_shape"])):
        raise LegacyError(f"--eager {source.model}: the Keras model takes inputs of shape {shape}, the legacy graph "
                          f"{tuple(info['input_shape'])}; the port must take the same input (a reshape is fine)")
    entries = mapping.read_map(source.map) if source.map else None
    names = [w.path for w in model.weights]
    pairings = mapping.plan(legacy.names, legacy.shapes, names, [tuple(w.shape) for w in model.weights], entries)
    if source.optimizer:
        factory = load_function(source.optimizer, "--optimizer", source.search_path)
    else:
        factory = keras_optimizer(info["optimizer"])
    if source.loss and ":" in source.loss:
        loss = load_function(source.loss, "--keras-loss", source.search_path)()
    else:
        name, reduction = (source.loss, source.reduction) if source.loss else info["loss"]
        if name is None:
            raise LegacyError("the legacy loss is not one tf-parity recognizes (a softmax cross-entropy under a mean "
                              f"or a sum); name it with --keras-loss ({', '.join(LOSSES)}) or package.module:function")
        loss = keras_loss(name, reduction)
    endpoints = _named_endpoints(model, info["endpoints"])
    return KerasRunner(model, factory, loss, style, endpoints=endpoints, pairings=pairings)


def _named_endpoints(model, names):
    """endpoints(x, training) giving the outputs of the Keras layers named like the legacy side's
    endpoints, in the legacy side's order; a name the model lacks is left out, and the layer-shapes
    check says so."""
    import collections

    import keras

    from parity.legacy import OUTPUT

    outputs = {layer.name: layer.output for layer in model.layers}
    outputs.setdefault(OUTPUT, model.outputs[0])  # the name the legacy side gives its output when it names none
    present = [n for n in names if n in outputs]
    if not present:
        return lambda x, training: collections.OrderedDict()
    probe = keras.Model(model.inputs[0] if len(model.inputs) == 1 else model.inputs, [outputs[n] for n in present])

    def endpoints(x, training):
        values = probe(x, training=training)
        values = values if isinstance(values, (list, tuple)) else [values]
        return collections.OrderedDict(zip(present, values))
    return endpoints
