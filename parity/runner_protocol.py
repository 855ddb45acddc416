"""The runner interface every check is written against, once for both styles.

A runner holds one side of a pair. The legacy side is the reference: parity.runners.GraphRunner,
the same in a process of its own (parity.isolated.IsolatedRunner), or a golden record's answers
(parity.golden.Replay; parity.golden.Recorder while one is made). The eager side is the port:
parity.runners.KerasRunner, or at record time parity.golden.Mirror, which answers with the legacy
side's own answers. What both sides answer is `Runner`; `LegacyRunner` and `EagerRunner` add
what the checks ask of one side only (the teacher-forced step runs the legacy train op and hands
its gradients to the port's optimizer), and `Saves` is what a runner holding a real model adds.

Conventions of every method:
- Weights are NumPy arrays in the legacy side's variable order and layout: `names` and `shapes`
  (a port's weights are mapped and transposed to it, parity.mapping). Gradients come in the same
  order, restricted to the trainable variables (`trainable_mask`).
- Images `x` are float32, NHWC, or flat where the model takes vectors (the runner reshapes);
  labels `y` are what the model's recipe trains against: one-hot, sparse classes, or images.
- `training` selects the mode of batch norm; randomness (dropout, noise) is held off in every
  call that compares the styles (`held_fixed`) and on in `train` alone.
"""
from typing import Callable, Iterator, Optional, Protocol

import numpy as np


class Runner(Protocol):
    """What the checks, the free runs and the training checkpoints ask of either side."""

    style: str              # "legacy", or the Keras style that trains: "eager", "function", "xla", "fit"
    names: list             # every variable's name, in the legacy side's order
    shapes: list            # every variable's shape, a tuple of ints (None where unknown)
    trainable_mask: list    # per variable, True where training moves it by its gradient
    held_fixed: list        # what the comparisons switch off: "tensor=value" eval feeds, or layer names

    @property
    def step(self) -> int:
        """Training steps taken since the optimizer's last reset (or the step a checkpoint restored)."""

    def param_counts(self) -> tuple:
        """(trainable, non-trainable) parameter counts: numbers of scalars, over all variables."""

    def layer_shapes(self) -> dict:
        """An OrderedDict of the named layer outputs, in forward order: name -> shape tuple with
        None for the batch dimension. Empty where the side names none."""

    def dtypes(self) -> dict:
        """{"compute": the outputs' dtype, "variables": the weights' dtypes, "layers": the named layer
        outputs' dtypes (sorted names such as "float32"), "policy": a Keras dtype policy's name, or
        None for a graph}."""

    def fingerprint(self) -> dict:
        """Short digests of what decides this side's training (the graph; the port's model, optimizer
        and loss), by what they are: a resumed run compares them with its checkpoint's."""

    def get_weights(self) -> list:
        """A copy of every variable's value, one array per entry of `names`, in that order."""

    def set_weights(self, values) -> None:
        """Sets every variable from `values`, arrays in the order and shapes of get_weights()."""

    def forward(self, x, training=False) -> np.ndarray:
        """The model's outputs (logits, or an autoencoder's images) on the batch `x`, [batch, ...]."""

    def endpoint_values(self, x, training=False) -> dict:
        """An OrderedDict of each named layer output's value on `x`, with the keys and order of
        layer_shapes()."""

    def gradients_and_kinks(self, x, y, training=True) -> tuple:
        """(loss, gradients, kink ops, kink inputs) of one pass on (x, y): the loss a float; the
        gradients one array per trainable variable, in the order of `names`; the ReLU and max-pool
        ops of the forward pass (parity.kinks.KinkOp) and each one's input values, in forward
        order (both empty where the side has no graph to read them from). Taken in graph mode on
        both sides."""

    def train(self, batches: Iterator, num_steps: int, on_step: Optional[Callable] = None) -> list:
        """Runs `num_steps` training steps, one batch (x, y) of `batches` each, with the side's own
        optimizer and randomness on; returns each step's loss (floats). Calls on_step(i, loss)
        after step i (counted from 0 in this call). Raises runners.Diverged at the first
        non-finite loss."""

    def reset_optimizer(self) -> None:
        """Starts the optimizer afresh (its slots and step count zero) and the step count at 0."""

    def training_state(self) -> list:
        """(name, array) of every variable training changes: the model's in the order of `names`,
        then the optimizer's, for a training checkpoint (parity.checkpoints)."""

    def restore_training_state(self, state, step: int) -> None:
        """Puts back what training_state() returned, and sets the step count to `step`."""

    def predict(self, x, batch_size=256, batch_statistics=False) -> np.ndarray:
        """forward() over `x` in batches of `batch_size`, concatenated: inference mode, or with
        `batch_statistics` batch norm normalizing each batch by its own statistics, the moving
        statistics left as they were."""

    def close(self) -> None:
        """Frees what the side holds (a session, a child process); param_counts() and
        layer_shapes() still answer afterwards."""


class LegacyRunner(Runner, Protocol):
    """The reference side: it also answers the questions that find dead variables and it runs the
    teacher-forced step whose gradients the port applies."""

    graph_trust: dict       # what the walk of the graph's ops found (parity.graph_trust.verdict)

    def set_weight(self, index: int, value) -> None:
        """Sets the variable `names[index]` alone."""

    def loss(self, x, y, training=True) -> float:
        """The loss on (x, y) at the current weights."""

    def loss_and_gradients(self, x, y, training=True) -> tuple:
        """(loss, gradients): the float loss on (x, y) and one gradient array per trainable
        variable, in the order of `names`."""

    def train_step_with_gradients(self, x, y) -> tuple:
        """One step of the train op on (x, y) with randomness held off; returns (the loss before
        the update, the gradients it applied, one array per trainable variable)."""

    def info(self) -> dict:
        """What the legacy graph says about itself: input and output shapes, label format,
        optimizer settings, loss, eval and train feeds, random ops, endpoints (parity.legacy)."""


class EagerRunner(Runner, Protocol):
    """The port's side: it takes teacher-forced steps with the legacy side's gradients."""

    def forced_step(self, x, y, gradients) -> tuple:
        """(loss, own gradients) on (x, y) at the current weights, then applies `gradients` (the
        legacy side's, one array per trainable variable in the order of `names`) with this side's
        optimizer. Randomness held off."""


class Saves(Protocol):
    """A runner that holds a real model (not a record's answers): `tf-parity train --save`."""

    def save(self, path) -> str:
        """Writes the model's weights to `path` in the side's own format (a TF1 Saver checkpoint
        prefix, or Keras' .weights.h5), whole or not at all; returns the path written."""
