"""The legacy side in a process of its own.

A user's TF1 module may call `tf.compat.v1.disable_v2_behavior()` or `disable_eager_execution()`
when it is imported, or build reference variables: TensorFlow then refuses eager code, and Keras 3
with it, for the rest of the process. So the harness imports such a module in a child process
that holds the GraphRunner, and talks to it through a pipe; `IsolatedRunner` has the GraphRunner's
methods, and whatever the module does at import stays in the child.
"""
import multiprocessing
import traceback

import numpy as np

from parity.runners import Diverged, _StepWatch, run_steps

# What the child answers once, at start: the runner's fixed attributes.
ATTRIBUTES = ("names", "shapes", "trainable_mask", "style", "held_fixed", "graph_trust")
# Methods whose answers never change, kept for after the child has closed (the report reads them).
FIXED = ("param_counts", "layer_shapes", "dtypes")


class IsolatedRunner:
    """A GraphRunner for `source` (a parity.legacy.LegacySource) in a child process."""

    def __init__(self, source, seed=0):
        self._source = source
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, source, seed), daemon=True,
                                        name="tf-parity legacy side")
        self._process.start()
        child.close()
        attributes = self._answer()
        for name in ATTRIBUTES:
            setattr(self, name, attributes[name])
        self._fixed = {name: attributes[name] for name in FIXED}
        self.watch = _StepWatch(self.style)

    def param_counts(self):
        return self._fixed["param_counts"]

    def layer_shapes(self):
        return self._fixed["layer_shapes"]

    def dtypes(self):
        return self._fixed["dtypes"]

    def _answer(self, asked="starting"):
        try:
            status, value = self._conn.recv()
        except EOFError:
            raise self._ended(asked) from None
        if status == "error":
            kind, message, where = value
            from parity.legacy import GraphRefused, LegacyError
            from parity.transfer import TransferError

            known = {e.__name__: e for e in (LegacyError, GraphRefused, TransferError)}
            raise known.get(kind, RemoteError)(message if kind in known else f"{kind}: {message}\n{where}")
        return value

    def _ended(self, asked):
        """The LegacyError of a child that ended without answering."""
        from parity.legacy import LegacyError

        self._process.join(5)
        code = self._process.exitcode
        how = f"was killed by signal {-code}" if code is not None and code < 0 else f"exited with status {code}"
        return LegacyError(f"the legacy side's process ({self._source.describe()}) {how} while {asked}; no check "
                           "can pass without it: does the module end the process when imported or called "
                           "(os._exit, a crash in a custom op), or did the machine run out of memory?")

    def _call(self, method, *args, **kwargs):
        try:
            self._conn.send((method, args, kwargs))
        except OSError:  # the child is gone
            raise self._ended(f"answering {method}") from None
        return self._answer(f"answering {method}")

    @property
    def step(self):
        return self.watch.step

    def train(self, batches, num_steps, on_step=None):
        """Runs `num_steps` steps of the train op, one batch sent at a time; raises Diverged at the
        first non-finite loss."""
        return run_steps(lambda x, y: self._call("train_one", np.asarray(x), np.asarray(y)), batches, num_steps,
                         self.watch, on_step)

    def reset_optimizer(self):
        self._call("reset_optimizer")
        self.watch.reset()

    def restore_training_state(self, state, step):
        self._call("restore_training_state", state, step)
        self.watch.reset(step)

    def close(self):
        if self._process.is_alive():
            try:
                self._conn.send(("close", (), {}))
                self._conn.recv()
            except (OSError, EOFError):
                pass
            self._process.join(30)
        if self._process.is_alive():
            self._process.kill()
        self._conn.close()


class RemoteError(RuntimeError):
    """An unexpected error in the legacy side's process, with its traceback there."""


# GraphRunner methods the child serves as they are.
_FORWARDED = ("get_weights", "set_weights", "set_weight", "forward", "loss", "timed_steps",
              "endpoint_values", "loss_and_gradients", "gradients_and_kinks", "train_step_with_gradients",
              "training_state", "predict", "save", "info", "fingerprint")


def _forwarded(name):
    def call(self, *args, **kwargs):
        return self._call(name, *args, **kwargs)
    call.__name__, call.__qualname__ = name, f"IsolatedRunner.{name}"
    call.__doc__ = f"GraphRunner.{name}, run in the legacy side's process."
    return call


for _name in _FORWARDED:
    setattr(IsolatedRunner, _name, _forwarded(_name))


def _serve(conn, source, seed):
    """The child: builds the GraphRunner, then answers (method, args) requests until 'close'."""
    from parity import interrupts

    interrupts.install()
    try:
        from parity.runners import GraphRunner

        runner = GraphRunner.from_source(source, seed)
        conn.send(("ok", {**{name: getattr(runner, name) for name in ATTRIBUTES},
                          **{name: getattr(runner, name)() for name in FIXED}}))
    except BaseException as e:  # noqa: BLE001  every failure goes back to the parent as an answer
        conn.send(("error", (type(e).__name__, str(e), traceback.format_exc())))
        return
    while True:
        try:
            method, args, kwargs = conn.recv()
        except EOFError:
            break
        if method == "close":
            runner.close()
            conn.send(("ok", None))
            break
        try:
            if method == "train_one":
                x, y = args
                value = runner.train(iter([(x, y)]), 1)[0]
            elif method == "restore_training_state":
                value = runner.restore_training_state(*args)
            elif method == "reset_optimizer":
                value = runner.reset_optimizer()
            elif method in _FORWARDED:
                value = getattr(runner, method)(*args, **kwargs)
            else:
                raise AttributeError(f"the legacy side has no method {method!r}")
            conn.send(("ok", value))
        except Diverged as e:
            # The parent counts the steps and raises Diverged itself; here the loss is returned.
            conn.send(("ok", e.loss))
        except BaseException as e:  # noqa: BLE001
            conn.send(("error", (type(e).__name__, str(e), traceback.format_exc())))
