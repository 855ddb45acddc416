"""A stranger's graph is a program: one whose logits wait on a tf.io.write_file, saved with a plain
Saver, is refused by every command that would run it, before any of it runs, and runs with
--trust-graph, which the report records. A port module that exits or interrupts itself at import
ends the run with exit 2, never 0."""
import json
import textwrap

import numpy as np
import pytest

from parity import cli, graph_trust, legacy

NAMES = ["--inputs", "x:0", "--labels", "y:0", "--logits", "logits:0", "--loss", "loss:0", "--train-op", "train"]
FAST = ["--dataset", "synthetic", "--steps", "2", "--accuracy-steps", "20"]


def run_cli(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def save_graph(folder, side_effect):
    """A 784-10 softmax regression saved as a .meta and a Saver checkpoint; `side_effect(tf)` returns
    the op the logits are made to wait on (None: a plain graph)."""
    import tensorflow as tf

    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        x = v1.placeholder(tf.float32, [None, 784], name="x")
        y = v1.placeholder(tf.float32, [None, 10], name="y")
        w = v1.Variable(v1.truncated_normal([784, 10], stddev=0.1, seed=1), name="w")
        b = v1.Variable(v1.zeros([10]), name="b")
        effect = side_effect(tf) if side_effect else None
        with tf.control_dependencies([effect] if effect is not None else []):
            logits = tf.identity(tf.matmul(x, w) + b, name="logits")
        loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits), name="loss")
        v1.train.GradientDescentOptimizer(0.1).minimize(loss, name="train")
        saver = v1.train.Saver()
        with v1.Session() as session:
            session.run(v1.global_variables_initializer())
            saver.save(session, str(folder / "model"))
    return folder / "model"


@pytest.fixture
def port(tmp_path, monkeypatch):
    (tmp_path / "small_keras.py").write_text(textwrap.dedent("""
        import keras

        def build():
            inputs = keras.Input(shape=(784,))
            return keras.Model(inputs, keras.layers.Dense(10, name="fc")(inputs))
    """))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


@pytest.fixture
def writing_graph(port):
    """The graph of the issue: its logits wait on copying a file to `written`."""
    source, written = port / "secret.txt", port / "written.txt"
    source.write_text("the user's secret\n")
    prefix = save_graph(port, lambda tf: tf.io.write_file(str(written), tf.io.read_file(str(source))))
    assert not written.exists()  # saving ran the initializers, not the logits
    return prefix, written


def meta_args(prefix):
    return ["--legacy-meta", f"{prefix}.meta", "--checkpoint", prefix, *NAMES, "--eager", "small_keras:build"]


@pytest.mark.parametrize("command, extra", [
    ("parity", ["--legacy-process", "inline", *FAST, "--json", "out/r.json"]),
    ("parity", [*FAST, "--json", "out/r.json"]),     # the legacy side in a process of its own
    ("record", [*FAST, "--out", "out/golden"]),
    ("convert", ["--out", "out/port.weights.h5"]),
    ("map", []),
])
def test_a_file_writing_graph_is_refused_before_it_runs(capsys, writing_graph, command, extra):
    prefix, written = writing_graph
    code, out, err = run_cli(capsys, command, *meta_args(prefix), *extra)
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert "refused, nothing of it has run: the run would reach 2 ops of a kind" in err and "--trust-graph" in err and "tf-parity inspect" in err
    assert "WriteFile op 'WriteFile'" in err and "ReadFile op 'ReadFile'" in err and "reached from --logits" in err
    assert not written.exists() and not (prefix.parent / "out").exists() and out == ""


def test_with_trust_graph_it_runs_and_the_report_says_so(capsys, writing_graph):
    prefix, written = writing_graph
    code, out, err = run_cli(capsys, "parity", *meta_args(prefix), "--legacy-process", "inline", *FAST,
                             "--trust-graph", "--json", "r.json")
    assert code in (cli.EXIT_OK, cli.EXIT_FAILED), err
    assert written.read_text() == "the user's secret\n"
    assert "--trust-graph: --legacy-meta" in err and "runs 2 flagged ops" in err
    trust = json.loads((prefix.parent / "r.json").read_text())["settings"]["legacy_graph"]
    assert trust["route"] == "meta" and trust["trusted"] is True
    assert sorted(f["type"] for f in trust["flagged"]) == ["ReadFile", "WriteFile"]


def test_a_plain_graph_passes_the_walk_and_the_report_says_it_was_walked(capsys, port):
    prefix = save_graph(port, None)
    code, out, err = run_cli(capsys, "parity", *meta_args(prefix), "--legacy-process", "inline", *FAST,
                             "--json", "r.json")
    assert code == cli.EXIT_OK, out + err
    assert "--trust-graph" not in err
    trust = json.loads((port / "r.json").read_text())["settings"]["legacy_graph"]
    assert trust == {"route": "meta", "walked": True, "trusted": False, "flagged": []}


def graph_def_of(build):
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        target = build(tf)
    return graph.as_graph_def(), target


def test_python_custom_and_function_bodies_are_found_and_the_saver_is_not():
    def build(tf):
        x = tf.compat.v1.placeholder(tf.float32, [3], name="x")
        through_python = tf.compat.v1.py_func(lambda a: a, [x], tf.float32, name="py")

        @tf.function
        def prints(a):
            tf.print(a, output_stream="file:///tmp/tf-parity-never-written")
            return a + 1

        out = tf.identity(prints(through_python) * 2, name="out")
        tf.compat.v1.train.Saver([tf.compat.v1.Variable(1.0, name="v")])
        return out

    graph_def, out = graph_def_of(build)
    findings = graph_trust.walk(graph_def, [("--logits out:0", out.name)])
    kinds = {(f.type, f.what, f.function is not None) for f in findings}
    assert ("PyFunc", graph_trust.PYTHON, False) in kinds and ("PrintV2", graph_trust.FILES, True) in kinds
    assert all(f.reached_from == "--logits out:0" for f in findings)
    assert not any(f.type.startswith(("Save", "Restore")) for f in findings)  # not reachable from the logits
    # An op type TensorFlow does not know: a custom op, named, never imported.
    graph_def.node.add(name="mine", op="MyCustomKernel", input=[out.name.split(":")[0]])
    custom = graph_trust.walk(graph_def, [("--logits mine:0", "mine:0")])
    assert [(f.name, f.what) for f in custom if f.type == "MyCustomKernel"] == [("mine", graph_trust.CUSTOM)]


def test_a_py_func_meta_is_one_line_not_a_traceback(capsys, port):
    prefix = save_graph(port, lambda tf: tf.compat.v1.py_func(lambda: np.float32(0), [], tf.float32))
    code, _, err = run_cli(capsys, "parity", *meta_args(prefix), "--legacy-process", "inline", *FAST)
    assert code == 2 and err.count("\n") == 1 and "PyFunc op" in err and graph_trust.PYTHON in err, err


def test_a_meta_that_is_not_a_graph_is_one_line(capsys, port):
    (port / "junk.meta").write_bytes(b"\x00\xffnot a graph")
    with pytest.raises(legacy.LegacyError, match="not a readable MetaGraphDef"):
        legacy.read_meta_graph(port / "junk.meta")


@pytest.mark.parametrize("body, message", [
    ("print('hello'); import sys; sys.exit(0)", "called sys.exit(0) (at "),
    ("raise SystemExit('bye')", "called sys.exit('bye')"),
    ("raise KeyboardInterrupt", "raised KeyboardInterrupt (at "),
])
@pytest.mark.parametrize("side", ["eager", "legacy inline", "legacy isolated"])
def test_a_module_that_exits_at_import_is_exit_2_never_0(capsys, port, body, message, side):
    (port / "quits.py").write_text(f"{body}\n\ndef build():\n    pass\n")
    prefix = save_graph(port, None)
    if side == "eager":
        argv = [*meta_args(prefix)[:-1], "quits:build", "--legacy-process", "inline"]
    else:
        argv = ["--legacy", "quits:build", "--eager", "small_keras:build",
                "--legacy-process", side.split()[1]]
    code, out, err = run_cli(capsys, "parity", *argv, *FAST, "--json", "out/r.json")
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert message in err and "no check ran" in err, err
    if "KeyboardInterrupt" in body:
        assert "though no signal came" in err
    assert not (port / "out").exists()


def test_inspect_finds_the_names_and_the_pair_file_it_writes_runs(capsys, port):
    """A user with only the .meta: inspect's pair file, with the port filled in, passes."""
    prefix = save_graph(port, None)
    code, out, err = run_cli(capsys, "inspect", f"{prefix}.meta", "--json", "i.json", "--toml", "pair/p.toml")
    assert code == 0, err
    data = json.loads((port / "i.json").read_text())
    first = {k: v[0]["name"] for k, v in data["candidates"].items() if v}
    assert first == {"inputs": "x:0", "labels": "y:0", "logits": "logits:0", "loss": "loss:0", "train_op": "train"}
    assert {v["name"]: v["shape"] for v in data["variables"]} == {"w": [784, 10], "b": [10]}
    assert data["op_types"]["ResourceApplyGradientDescent"] == 2 and data["flagged_reached"] == []
    assert sorted(f["type"] for f in data["flagged"]) == ["RestoreV2", "SaveV2"]  # the Saver's, never run
    assert "x:0" in out and "wrote i.json, pair/p.toml" in out
    toml = (port / "pair" / "p.toml").read_text().replace("package.module:function", "small_keras:build")
    (port / "pair" / "p.toml").write_text(toml)
    code, out, err = run_cli(capsys, "parity", "--config", "pair/p.toml", "--legacy-process", "inline", *FAST)
    assert code == cli.EXIT_OK, out + err


def test_inspect_names_what_the_graph_would_run(capsys, writing_graph):
    prefix, written = writing_graph
    code, out, _ = run_cli(capsys, "inspect", f"{prefix}.meta")
    assert code == 0 and not written.exists()
    assert "WriteFile op 'WriteFile': reads or writes files; reached from --logits logits:0" in out
    assert "never run (2; a Saver's own" in out and "\n# trust-graph = true" in out


@pytest.mark.parametrize("content, message", [
    (b"\x00\xffnot a graph", "not a readable MetaGraphDef"),
    (None, "no such file"),
])
def test_inspect_of_what_is_not_a_graph_is_one_line(capsys, tmp_path, content, message):
    path = tmp_path / "model.meta"
    if content is not None:
        path.write_bytes(content)
    code, out, err = run_cli(capsys, "inspect", path, "--json", tmp_path / "i.json")
    assert code == 2 and err.count("\n") == 1 and message in err and out == "", err
    assert not (tmp_path / "i.json").exists()


def test_a_trusted_op_that_fails_as_it_runs_is_the_graph_s_error(capsys, port):
    (port / "a_file").write_text("")  # so that a_file/out.txt cannot be written
    prefix = save_graph(port, lambda tf: tf.io.write_file(str(port / "a_file" / "out.txt"), "x"))
    code, _, err = run_cli(capsys, "parity", *meta_args(prefix), "--legacy-process", "inline", *FAST,
                           "--trust-graph", "--json", "out/r.json")
    assert code == 2 and "Traceback" not in err, err
    assert "the graph's WriteFile op 'WriteFile' (reads or writes files) failed as it ran: " in err.splitlines()[-1]


def test_the_walk_stops_at_what_the_run_feeds_as_a_session_does():
    """A 2016 script's queue-fed input: fed as --inputs, nothing behind the dequeue runs, so nothing
    there is refused; left unfed, the logits would block on the queue, and that is refused."""
    def build(tf):
        queue = tf.queue.FIFOQueue(10, [tf.float32], shapes=[[4]])
        x = tf.identity(queue.dequeue_many(2), name="x")
        return tf.identity(x * 2.0, name="out")

    graph_def, out = graph_def_of(build)
    unfed = graph_trust.walk(graph_def, [("--logits out:0", out.name)])
    assert [f.what for f in unfed] == [graph_trust.QUEUES] * len(unfed) and unfed
    assert graph_trust.walk(graph_def, [("--logits out:0", out.name)], fed=["x:0"]) == []
    dequeue = next(n.name for n in graph_def.node if n.op.startswith("QueueDequeue"))
    assert graph_trust.walk(graph_def, [("--logits out:0", out.name)], fed=[dequeue]) == []
