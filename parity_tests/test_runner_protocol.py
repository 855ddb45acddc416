"""Every runner implements the runner interface of its role (parity.runner_protocol): each method
and attribute the Protocol lists, with parameters that take the Protocol's arguments."""
import inspect

import numpy as np
import pytest

from parity import golden, isolated, registry, runner_protocol as protocol
from parity.runners import GraphRunner, KerasRunner

ROLES = {
    GraphRunner: (protocol.LegacyRunner, protocol.Saves),
    isolated.IsolatedRunner: (protocol.LegacyRunner, protocol.Saves),
    golden.Replay: (protocol.LegacyRunner,),
    KerasRunner: (protocol.EagerRunner, protocol.Saves),
    golden.Mirror: (protocol.EagerRunner,),
}


def members(proto):
    """(methods, properties, data attributes) a Protocol lists, its bases' included."""
    methods, properties, attributes = {}, set(), set()
    for cls in reversed(proto.__mro__):
        if cls is object or not getattr(cls, "_is_protocol", False):
            continue
        attributes |= set(getattr(cls, "__annotations__", {}))
        for name, value in vars(cls).items():
            if name.startswith("_"):
                continue
            if isinstance(value, property):
                properties.add(name)
            elif inspect.isfunction(value):
                methods[name] = value
    return methods, properties, attributes


def takes(method, wanted):
    """Whether `method` accepts the arguments of the Protocol's method `wanted`, by position and name."""
    have = list(inspect.signature(method).parameters.values())
    if any(p.kind is p.VAR_POSITIONAL for p in have) and any(p.kind is p.VAR_KEYWORD for p in have):
        return True
    want = list(inspect.signature(wanted).parameters)
    return [p.name for p in have[:len(want)]] == want and \
        all(p.default is not p.empty for p in have[len(want):] if p.kind is p.POSITIONAL_OR_KEYWORD)


def missing(cls, proto):
    """What `cls` lacks of `proto`: methods and properties it does not have, and (with their
    parameters) methods that do not take the Protocol's arguments."""
    methods, properties, _ = members(proto)
    gaps = []
    for name, wanted in methods.items():
        method = inspect.getattr_static(cls, name, None)
        if not inspect.isfunction(method):
            gaps.append(f"{name}()")
        elif not takes(method, wanted):
            gaps.append(f"{name}{inspect.signature(method)}")
    gaps += [name for name in sorted(properties) if not isinstance(inspect.getattr_static(cls, name, None), property)]
    return gaps


def test_the_protocols_list_what_the_checks_call():
    methods, properties, attributes = members(protocol.LegacyRunner)
    assert {"param_counts", "layer_shapes", "get_weights", "set_weights", "forward", "endpoint_values",
            "gradients_and_kinks", "train", "reset_optimizer", "training_state", "restore_training_state",
            "predict", "close", "set_weight", "loss", "loss_and_gradients", "train_step_with_gradients",
            "info", "dtypes", "fingerprint"} == set(methods)
    assert properties == {"step"}
    assert attributes == {"style", "names", "shapes", "trainable_mask", "held_fixed", "graph_trust"}
    assert set(members(protocol.EagerRunner)[0]) - set(members(protocol.Runner)[0]) == {"forced_step"}
    for proto in (protocol.Runner, protocol.LegacyRunner, protocol.EagerRunner, protocol.Saves):
        for name, method in members(proto)[0].items():
            assert method.__doc__ and len(method.__doc__.split()) >= 5, f"{proto.__name__}.{name} has no docstring"


@pytest.mark.parametrize("cls", list(ROLES), ids=lambda cls: cls.__name__)
def test_every_runner_class_has_its_roles_methods(cls):
    for proto in ROLES[cls]:
        assert missing(cls, proto) == [], f"{cls.__name__} lacks {proto.__name__}'s {missing(cls, proto)}"


def test_a_runner_without_a_method_of_its_role_is_caught():
    class Partial(golden.Mirror):
        forced_step = None

    class Renamed(golden.Mirror):
        def forward(self, images, training=False):
            return images

    class WithoutStep(golden.Mirror):
        step = 0

    assert missing(Partial, protocol.EagerRunner) == ["forced_step()"]
    assert missing(Renamed, protocol.EagerRunner) == ["forward(self, images, training=False)"]
    assert missing(WithoutStep, protocol.EagerRunner) == ["step"]
    assert "forced_step()" in missing(GraphRunner, protocol.EagerRunner)
    assert "train_step_with_gradients()" in missing(KerasRunner, protocol.LegacyRunner)


@pytest.fixture(scope="module")
def runners():
    """One of each runner on mnist_cnn (the isolated one answers its attributes from ATTRIBUTES)."""
    spec = registry.get("mnist_cnn")
    legacy, eager = GraphRunner.from_spec(spec, seed=0), KerasRunner.from_spec(spec, seed=0)
    recorder = golden.Recorder(legacy)
    arrays = {}
    side = {"names": legacy.names, "shapes": [list(s) for s in legacy.shapes], "trainable_mask": legacy.trainable_mask,
            "held_fixed": legacy.held_fixed, "graph_trust": legacy.graph_trust, "weights": golden.encode(list(recorder.initial_weights), arrays)}
    yield {GraphRunner: legacy, KerasRunner: eager, golden.Mirror: golden.Mirror(recorder, "function"),
           golden.Replay: golden.Replay({"answers": [], "arrays": arrays, "side": side})}
    legacy.close()


@pytest.mark.parametrize("cls", list(ROLES), ids=lambda cls: cls.__name__)
def test_every_runner_has_its_roles_attributes(runners, cls):
    attributes = set().union(*(members(proto)[2] for proto in ROLES[cls]))
    if cls is isolated.IsolatedRunner:
        assert attributes <= set(isolated.ATTRIBUTES)
        return
    runner = runners[cls]
    assert {a for a in attributes if not hasattr(runner, a)} == set()
    legacy = runners[GraphRunner]
    assert runner.names and len(runner.names) == len(runner.shapes) == len(runner.trainable_mask)
    assert [tuple(s) for s in runner.shapes] == [tuple(s) for s in legacy.shapes]  # the legacy side's layout
    if cls is not golden.Mirror:  # a Mirror holds weights only once they are set
        assert [np.shape(w) for w in runner.get_weights()] == [tuple(s) for s in legacy.shapes]
    assert runner.step == 0 and isinstance(runner.style, str) and isinstance(runner.held_fixed, list)
