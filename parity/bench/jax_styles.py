"""The styles on Keras' JAX backend, timed in a process of their own: Keras' backend is fixed per
process, and this one runs TensorFlow's.

  jax_function  eager_v2.jax_training.JaxTrainer's function style: the stateless step (the model's
                stateless_call, jax.value_and_grad, the optimizer's stateless_apply) under jax.jit,
                one call per step, the weights read before and written back after each; inference
                the model's stateless_call under jax.jit. Its loop phase is the runner's train(),
                one jitted call a step (JaxTrainer's default: its docstring says why).
  jax_scan      MULTI_STEPS steps in one jitted call scanning the step over the batch stacked
                MULTI_STEPS times on the device (JaxTrainer.train_steps, jax.lax.scan: XLA compiles
                it into one while loop), returning every step's loss; inference the same. On XLA's
                CPU backend its training step runs about 12 times slower than jax_function's: the
                backward convolutions in the loop's body are emitted as plain loops.

The process (`python -m parity.bench.jax_styles DEVICE`, KERAS_BACKEND=jax) is started once per run,
before anything is measured, and keeps its models between requests, so its styles take their turns
with the others: each request runs a block of steps there and sends back their seconds, timed there
as here (each step, or call, ending in a host sync: a float of the loss, np.asarray of the outputs).
Its memory is not this process's: the rows have no memory figures. Batches are the same synthetic
ones (settings.synthetic_batch, rebuilt there from the batch size and seed); the FLOP count is the
model's.
"""
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from parity.bench.settings import MULTI_STEPS, synthetic_batch

_device = "auto"
_process = None


def use_device(device):
    """Starts the JAX process, its device selected as runtime.select_device(device) does; returns
    once it answers, so its start weighs on no measurement."""
    global _device
    _device = device
    _started()


def stop():
    global _process
    if _process is not None:
        _process.close()
        _process = None


def description():
    """What the JAX process said of itself, or None where none ran."""
    return None if _process is None else _process.description


def _started():
    global _process
    if _process is None:
        _process = _Process(_device)
    return _process


class _Process:
    """The child process and its line protocol: one JSON request a line on its stdin, one JSON answer
    a line on its stdout."""

    def __init__(self, device):
        root = Path(__file__).resolve().parents[2]
        env = {**os.environ, "KERAS_BACKEND": "jax",
               "PYTHONPATH": os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH")) if p)}
        self.log = tempfile.TemporaryFile("w+")
        self.popen = subprocess.Popen([sys.executable, "-m", "parity.bench.jax_styles", device], env=env, text=True,
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log)
        self.description = self.ask(op="describe")

    def ask(self, **request):
        try:
            self.popen.stdin.write(json.dumps(request) + "\n")
            self.popen.stdin.flush()
            line = self.popen.stdout.readline()
        except BrokenPipeError:
            line = ""
        if not line:
            self.popen.wait()
            self.log.seek(0)
            last = ([s for s in self.log.read().splitlines() if s.strip()] or ["(nothing on stderr)"])[-1]
            raise RuntimeError(f"the JAX process ended (exit {self.popen.returncode}): {last}")
        answer = json.loads(line)
        if "diverged" in answer:
            from parity.runners import Diverged

            raise Diverged(*answer["diverged"])
        if "error" in answer:
            raise RuntimeError(answer["error"])
        return answer

    def close(self):
        if self.popen.poll() is None:
            self.popen.stdin.close()
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self.popen.stdout.close()
        self.log.close()


class JaxStyle:
    """The driver here of a JAX style: its model lives in the JAX process."""

    def __init__(self, spec, batch_size, seed, style):
        self.style = style
        self.process = _started()
        self.id = self.process.ask(op="build", model=spec.name, style=style, batch_size=batch_size, seed=seed)["id"]
        if style == "jax_function":
            self.loop = lambda steps: self.multi("loop", steps)

    def multi(self, phase, steps):
        """Runs `steps` steps of a phase there; returns (seconds not timed, the seconds of each step)."""
        answer = self.process.ask(op="run", id=self.id, phase=phase, steps=steps)
        return answer["untimed"], answer["times"]

    def close(self):
        if _process is self.process and self.process.popen.poll() is None:
            self.process.ask(op="close", id=self.id)


class _Driver:
    """In the JAX process: one style's model, trainer and device-resident batch."""

    def __init__(self, model, style, batch_size, seed):
        import jax
        import numpy as np

        from parity import registry
        from parity.bench.styles import Loop
        from parity.runners import KerasRunner

        spec = registry.get(model)
        self.style, self.trained, self.known = style, 0, {"train": set(), "infer": set()}
        self.runner = KerasRunner.from_spec(spec, seed=seed, style="function")
        self.trainer = self.runner.trainer
        x, y = synthetic_batch(spec, batch_size, seed)
        # On the device before the clock starts, as the TensorFlow styles' tf.constant batch.
        self.x, self.y = jax.device_put(self.runner._images(x)), jax.device_put(y)
        model = self.runner.model

        def forward(trainable, non_trainable, x):
            return model.stateless_call(trainable, non_trainable, x, training=False)[0]

        if style == "jax_function":
            self.loop = Loop(self.runner, spec, batch_size, seed)
            self.infer = jax.jit(forward)
        else:
            def forward_steps(trainable, non_trainable, xs):
                return jax.lax.scan(lambda carry, x: (carry, forward(trainable, non_trainable, x)), 0, xs)[1]

            self.infer = jax.jit(forward_steps)
            stacked = (np.stack([np.asarray(self.x)] * MULTI_STEPS), np.stack([np.asarray(y)] * MULTI_STEPS))
            # The first `count` batches of the stack, sliced once, outside the clock.
            self.blocks = {n: (jax.device_put(stacked[0][:n]), jax.device_put(stacked[1][:n]))
                           for n in range(1, MULTI_STEPS + 1)}

    def run(self, phase, steps):
        import numpy as np

        from parity.bench.styles import finite, multi_calls

        if phase == "loop":
            return self.loop(steps)
        trainable, non_trainable, _ = self.trainer._state()
        if self.style == "jax_function":
            times = []
            for _ in range(steps):
                began = time.perf_counter()
                if phase == "train":
                    loss = self.trainer.train_step(self.x, self.y)
                else:
                    np.asarray(self.infer(trainable, non_trainable, self.x))
                times.append(time.perf_counter() - began)
                if phase == "train":
                    self.trained += 1
                    finite(self.style, self.trained, loss)
            return 0.0, times

        def call(count):
            xs, ys = self.blocks[count]
            if phase != "train":
                np.asarray(self.infer(trainable, non_trainable, xs))
                return
            for loss in self.trainer.train_steps(xs, ys):
                self.trained += 1
                finite(self.style, self.trained, loss)
        return multi_calls(steps, call, self.known[phase])


def _serve(device):
    """The JAX process: answers requests from stdin until it closes."""
    protocol = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # what the libraries print goes to stderr; stdout carries the answers only
    sys.stdout = sys.stderr
    from parity import runtime
    from parity.runners import Diverged

    selected = runtime.select_device(device)
    drivers, keys = {}, itertools.count(1)
    for line in sys.stdin:
        request = json.loads(line)
        try:
            op = request["op"]
            if op == "describe":
                import jax

                # Imported now, so that no style's build time holds them.
                import legacy_graph.input_data  # noqa: F401
                import parity.bench.styles  # noqa: F401
                import parity.runners  # noqa: F401
                from eager_v2 import jax_training  # noqa: F401

                answer = {"device": selected["device"], "keras_backend": runtime.keras_backend(),
                          "jax": jax.__version__}
            elif op == "build":
                key = next(keys)
                drivers[key] = _Driver(request["model"], request["style"], request["batch_size"], request["seed"])
                answer = {"id": key}
            elif op == "run":
                untimed, times = drivers[request["id"]].run(request["phase"], request["steps"])
                answer = {"untimed": untimed, "times": [float(t) for t in times]}
            elif op == "close":
                import keras

                del drivers[request["id"]]
                keras.backend.clear_session(free_memory=True)
                answer = {}
            else:
                answer = {"error": f"unknown request {op!r}"}
        except Diverged as e:
            answer = {"diverged": [e.style, e.step, e.loss]}
        except Exception as e:
            answer = {"error": f"{type(e).__name__}: {e}"}
        protocol.write(json.dumps(answer) + "\n")
        protocol.flush()


if __name__ == "__main__":
    _serve(sys.argv[1])
