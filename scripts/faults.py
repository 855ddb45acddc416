#!/usr/bin/env python3
"""Fault injection: runs `tf-parity` as a user would against damaged files, bad paths, signals and
diverging training, each case in a fresh folder, and prints a table of the case, the exit status
(and the one the README documents), the message and the files left behind.

Exit status 0 when every case ends with its documented status, 1 otherwise.
"""
import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

FAST = ["--dataset", "synthetic", "--batch-size", "16"]
PARITY = ["parity", "--model", "mnist_cnn", *FAST, "--steps", "12", "--accuracy-steps", "60"]
TRAIN = ["train", "--model", "mnist_cnn", "--style", "legacy", *FAST]

# Python-API faults the command line cannot plant: each prefix patches, then runs the command.
_RUN = "import sys; from parity import cli; sys.exit(cli.main(sys.argv[1:]))"
HUGE_LEARNING_RATE = ("import dataclasses; from parity import registry; s = registry.get('mnist_cnn'); "
                      "registry.MODELS['mnist_cnn'] = dataclasses.replace(s, recipe=dataclasses.replace("
                      "s.recipe, learning_rate=1e9)); " + _RUN)
NAN_PORT = ("import eager_v2.mnist_cnn as port; make = port.make_loss; "
            "port.make_loss = lambda: (lambda f: lambda y, p: f(y, p) * float('nan'))(make()); " + _RUN)
DISK_FULL = ("import pathlib; write = pathlib.Path.write_text\n"
             "def full(self, *a, **k):\n"
             "    if self.name.endswith('.partial'): raise OSError(28, 'No space left on device', str(self))\n"
             "    return write(self, *a, **k)\n"
             "pathlib.Path.write_text = full; " + _RUN)


@dataclass
class Case:
    name: str
    argv: list
    expect: int
    setup: Callable = lambda folder: None
    code: Optional[str] = None            # Python run with `-c` in place of the plain command
    signal: Optional[int] = None          # sent once a training checkpoint is on disk
    env: dict = field(default_factory=dict)
    then: Optional[list] = None           # a second command run after the first (a resume)


def _file(folder, name, data=b""):
    path = Path(folder) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _checkpoint(folder, damage):
    """A legacy mnist_cnn Saver checkpoint in folder/ckpt, its data file damaged."""
    subprocess.run([sys.executable, "-m", "parity.cli", *TRAIN, "--steps", "1", "--out", "first",
                    "--save", "ckpt/model"], cwd=folder, check=True, capture_output=True)
    data = Path(folder) / "ckpt" / "model.data-00000-of-00001"
    raw = bytearray(data.read_bytes())
    if damage == "truncated":
        raw = raw[: len(raw) // 2]
    else:
        raw[len(raw) // 3] ^= 0xFF
    data.write_bytes(bytes(raw))


def _damaged_fashion_mnist(folder):
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        _file(folder, f"data/fashion-mnist/{name}", b"\x00\x00\x08\x03 cut short")


def cases():
    return [
        Case("port whose loss is NaN", PARITY + ["--json", "r.json"], 3, code=NAN_PORT),
        Case("recipe diverges (learning rate 1e9)", PARITY + ["--json", "r.json"], 3, code=HUGE_LEARNING_RATE),
        Case("train diverges", TRAIN + ["--steps", "20", "--out", "out"], 3, code=HUGE_LEARNING_RATE),
        Case("train --save into a new folder", TRAIN + ["--steps", "3", "--out", "out", "--save", "new/sub/model"], 0),
        Case("convert, truncated .data", ["convert", "--model", "mnist_cnn", "--checkpoint", "ckpt/model",
                                          "--out", "w.weights.h5"], 2, setup=lambda f: _checkpoint(f, "truncated")),
        Case("convert, bit-flipped .data", ["convert", "--model", "mnist_cnn", "--checkpoint", "ckpt/model",
                                            "--out", "w.weights.h5"], 2, setup=lambda f: _checkpoint(f, "flipped")),
        Case("convert, no checkpoint there", ["convert", "--model", "mnist_cnn", "--checkpoint", "nowhere/model",
                                              "--out", "w.weights.h5"], 2),
        Case("--json under a regular file", PARITY + ["--json", "a_file/r.json"], 2,
             setup=lambda f: _file(f, "a_file")),
        Case("--seed -1", PARITY + ["--seed", "-1"], 2),
        Case("disk full when the report is written", PARITY + ["--json", "r.json"], 2, code=DISK_FULL),
        Case("SIGINT during training", TRAIN + ["--steps", "100000", "--checkpoint-every", "40", "--out", "out"],
             130, signal=signal.SIGINT),
        Case("SIGTERM during training, then --resume", TRAIN + ["--steps", "2000", "--checkpoint-every", "40",
                                                                "--out", "out"], 143, signal=signal.SIGTERM,
             then=TRAIN + ["--steps", "2000", "--out", "out", "--resume"]),
        Case("--resume with no checkpoint", TRAIN + ["--steps", "40", "--out", "out", "--resume"], 2),
        Case("--data-dir mistyped", PARITY + ["--data-dir", "no-such-folder"], 2),
        Case("$TF_PARITY_DATA is a file", ["train", "--model", "mnist_cnn", "--style", "legacy", "--steps", "2"], 2,
             setup=lambda f: _file(f, "a_file"), env={"TF_PARITY_DATA": "a_file"}),
        Case("damaged IDX files in --data-dir, --dataset auto",
             ["train", "--model", "mnist_cnn", "--style", "legacy", "--steps", "2", "--data-dir", "data"], 2,
             setup=_damaged_fashion_mnist),
        Case("mnist.npz holding a pickle", ["train", "--model", "mnist_cnn", "--style", "legacy", "--steps", "2",
                                            "--dataset", "mnist", "--data-dir", "data"], 2,
             setup=lambda f: _pickled_npz(Path(f) / "data" / "mnist.npz")),
        Case("a .meta whose logits write a file", META + ["--eager", "port:build"], 2,
             setup=lambda f: _saved_graph(f, "writes")),
        Case("the same with --trust-graph", META + ["--eager", "port:build", "--trust-graph"], 0,
             setup=lambda f: _saved_graph(f, "writes")),
        Case("port module calls sys.exit(0) at import", META + ["--eager", "quits:build"], 2,
             setup=lambda f: _saved_graph(f, "plain", "import sys\nprint('bye')\nsys.exit(0)\n")),
        Case("port module raises KeyboardInterrupt at import", META + ["--eager", "quits:build"], 2,
             setup=lambda f: _saved_graph(f, "plain", "raise KeyboardInterrupt\n")),
        Case("pair file with steps = \"ten\"", ["parity", "--config", "pair.toml"], 2,
             setup=lambda f: _file(f, "pair.toml", b'legacy = "a:b"\neager = "c:d"\nsteps = "ten"\n')),
        Case("pyproject.toml with a [tool.tf-parity] table, broken", ["parity"], 2,
             setup=lambda f: _file(f, "pyproject.toml", b'[tool.tf-parity]\nconfig = "pair.toml\n')),
        Case("record.json nested 200,000 deep", ["verify", "--golden", "rec"], 2, setup=_deep_record),
        Case("--batch-size beyond the training set", TRAIN + ["--steps", "2", "--batch-size", "1000000",
                                                              "--out", "out"], 2),
        Case("accuracy run at chance", [a if a != "60" else "2" for a in PARITY] + ["--json", "r.json"], 1),
    ]


GRAPH = """
import sys
import tensorflow as tf
v1 = tf.compat.v1
v1.disable_eager_execution()
x = v1.placeholder(tf.float32, [None, 784], name="x")
y = v1.placeholder(tf.float32, [None, 10], name="y")
w = v1.Variable(v1.zeros([784, 10]), name="w")
effect = [tf.io.write_file("written.txt", tf.io.read_file(__file__))] if sys.argv[1] == "writes" else []
with tf.control_dependencies(effect):
    logits = tf.identity(tf.matmul(x, w), name="logits")
loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits), name="loss")
v1.train.GradientDescentOptimizer(0.1).minimize(loss, name="train")
with v1.Session() as session:
    session.run(v1.global_variables_initializer())
    v1.train.Saver().save(session, "graph/model")
"""
PORT = """
import keras

def build():
    inputs = keras.Input(shape=(784,))
    return keras.Model(inputs, keras.layers.Dense(10, use_bias=False)(inputs))
"""
META = ["parity", "--legacy-meta", "graph/model.meta", "--checkpoint", "graph/model", "--inputs", "x:0",
        "--labels", "y:0", "--logits", "logits:0", "--loss", "loss:0", "--train-op", "train", *FAST,
        "--steps", "2", "--accuracy-steps", "20", "--legacy-process", "inline", "--json", "r.json"]


def _saved_graph(folder, kind, module=None):
    """A saved softmax regression in folder/graph (its logits copying a file where `kind` is
    "writes"), the Keras port port.py, and `module` as quits.py."""
    _file(folder, "save_graph.py", GRAPH.encode())
    _file(folder, "port.py", PORT.encode())
    if module:
        _file(folder, "quits.py", module.encode())
    subprocess.run([sys.executable, "save_graph.py", kind], cwd=folder, check=True, capture_output=True)


def _deep_record(folder):
    _file(folder, "rec/record.json", b"[" * 200_000 + b"]" * 200_000)
    _file(folder, "rec/arrays.npz")


def _pickled_npz(path):
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {k: np.zeros((2, 28, 28) if k.startswith("x") else 2, np.uint8)
              for k in ("x_train", "y_train", "x_test", "y_test")}
    np.savez(path, **{**arrays, "y_test": np.array([1, "two"], dtype=object)})


def _command(case, argv):
    if case.code is not None:
        return [sys.executable, "-c", case.code, *argv]
    return [sys.executable, "-m", "parity.cli", *argv]


def run_case(case, timeout=600):
    """Runs `case` in a new folder; returns (exit status, message, files left)."""
    with tempfile.TemporaryDirectory() as folder:
        case.setup(folder)
        before = _files(folder)
        env = {**os.environ, **case.env, "PYTHONUNBUFFERED": "1"}
        env.setdefault("KERAS_HOME", str(Path(folder) / "keras_home"))
        process = subprocess.Popen(_command(case, case.argv), cwd=folder, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        if case.signal is not None:
            deadline = time.monotonic() + timeout
            while not list(Path(folder).rglob("*.ckpt.npz")) and process.poll() is None \
                    and time.monotonic() < deadline:
                time.sleep(0.2)
            process.send_signal(case.signal)
        out, err = process.communicate(timeout=timeout)
        code, message = process.returncode, _message(out, err)
        if case.then is not None:
            second = subprocess.run(_command(case, case.then), cwd=folder, env=env, capture_output=True, text=True,
                                    timeout=timeout)
            message += f" | then --resume: exit {second.returncode}"
        left = sorted(set(_files(folder)) - set(before))
    return code, message, left


def _files(folder):
    return [str(p.relative_to(folder)) for p in Path(folder).rglob("*")
            if p.is_file() and "keras_home" not in p.parts]


def _message(stdout, stderr):
    """The command's last word: its `tf-parity:` line on stderr, else the last line it printed."""
    lines = [line for line in stderr.strip().splitlines() if line.startswith("tf-parity:")]
    lines = lines or stdout.strip().splitlines()[-1:] or stderr.strip().splitlines()[-1:] or ["(no output)"]
    return lines[-1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", action="append", help="run only the cases whose name holds this text")
    args = parser.parse_args()
    chosen = [c for c in cases() if not args.case or any(t in c.name for t in args.case)]
    if not chosen:
        parser.error(f"no case matches {args.case}; cases: {', '.join(c.name for c in cases())}")
    rows, wrong = [], 0
    for case in chosen:
        print(f"running: {case.name}", file=sys.stderr, flush=True)
        code, message, left = run_case(case)
        wrong += code != case.expect
        rows.append((case.name, f"{code} ({'as documented' if code == case.expect else f'expected {case.expect}'})",
                     message, ", ".join(left) or "nothing"))
    print("| case | exit status | message | files left |")
    print("| --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
    print(f"\n{len(rows) - wrong} of {len(rows)} cases ended as documented", file=sys.stderr)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
