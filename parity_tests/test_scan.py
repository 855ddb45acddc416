"""`tf-parity scan`: every detectable pitfall found in the corpus of tutorial-style snippets at the
line it is on, nothing found in correct code, the repo's own trees free of false errors, the three
output formats, suppression, exit statuses, and the time it takes."""
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from parity import cli, pitfalls, scan, scan_cross, scan_upgrade

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "parity_tests" / "scan_corpus"
EXPECT = re.compile(r"#\s*expect:\s*([a-z0-9, -]+)")
SNIPPETS = sorted(p for folder in ("tf1", "ports") for p in (CORPUS / folder).glob("*.py"))
# What scan leaves on this repo's trees, each explained in docs/scan.md (by file and key:
# the trees' lines move as they are edited).
REPO_FINDINGS = {
    ("eager_v2/conv_autoencoder.py", "loss-reduction", "note"),
    ("eager_v2/mobilenet_v2.py", "applications-bn-momentum", "warning"),
    ("eager_v2/blocks.py", "fit-logs-running-mean", "warning"),
    ("legacy_graph/mobilenet_v2.py", "loss-sum-vs-mean", "warning"),
}


@pytest.fixture(autouse=True)
def at_root(monkeypatch):
    """Findings name their files relative to the current folder: the repo's root here."""
    monkeypatch.chdir(ROOT)


def expected(path):
    """{(line, key)} from the file's `# expect: key, key` comments."""
    marks = set()
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        match = EXPECT.search(line)
        if match:
            marks |= {(number, key.strip()) for key in match[1].split(",") if key.strip()}
    return marks


def found(result, path):
    shown = scan._display(path)
    return {(f.line, f.key) for f in result.active if f.path == shown}


def run_cli(argv, capsys):
    status = cli.main(["scan", *argv])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize("path", SNIPPETS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_scan_finds_each_corpus_pitfall_on_its_line(path):
    result = scan.run([path], upgrade_report=False)
    assert expected(path), f"{path.name} marks no finding"
    assert found(result, path) == expected(path)


def test_scan_compares_a_tf1_tree_with_its_port():
    result = scan.run(legacy=CORPUS / "pair" / "legacy", eager=CORPUS / "pair" / "eager", upgrade_report=False)
    for path in (CORPUS / "pair").rglob("*.py"):
        assert found(result, path) == expected(path), path
    messages = {f.key: f.message for f in result.active if f.path.endswith("eager/model.py")}
    assert "'valid' here, 'same' in the TF1 graph" in messages["same-padding-asymmetric"]
    assert "momentum 0.99 here, 0.9" in messages["applications-bn-momentum"]
    assert "epsilon 0.001 here, 1e-05" in messages["applications-bn-momentum"]
    assert "learning_rate is 0.001 here and 0.0001" in messages["keras3-lr-keyword"]
    # Alone, the port's settings are Keras' own: the cross-tree errors need the TF1 tree.
    alone = scan.run([CORPUS / "pair" / "eager"], upgrade_report=False)
    assert not alone.failing("error")


def test_scan_pairs_layers_through_a_map_file(tmp_path):
    legacy = tmp_path / "legacy" / "net.py"
    eager = tmp_path / "eager" / "net.py"
    legacy.parent.mkdir()
    eager.parent.mkdir()
    legacy.write_text('import tensorflow as tf\nh = tf.layers.conv2d(x, 8, 3, padding="same", name="c1")\n')
    eager.write_text('import keras\nh = keras.layers.Conv2D(8, 3, name="conv_a")\n')
    plain = scan.run(legacy=legacy.parent, eager=eager.parent, upgrade_report=False)
    assert "same-padding-asymmetric" not in {f.key for f in plain.active}
    pairs = scan_cross.layer_pairs_from_map({"c1/kernel": ("conv_a/kernel", None), "c1/bias": ("conv_a/bias", None)})
    mapped = scan.run(legacy=legacy.parent, eager=eager.parent, upgrade_report=False, layer_pairs=pairs)
    assert [(f.line, f.key) for f in mapped.active if f.path.endswith("eager/net.py")] == \
        [(2, "same-padding-asymmetric")]


@pytest.mark.parametrize("path", sorted((CORPUS / "clean").glob("*.py")), ids=lambda p: p.name)
def test_scan_finds_nothing_in_correct_code(path):
    result = scan.run([path])
    assert result.upgrade_report.startswith("ran")
    assert result.active == []


def test_scan_leaves_only_explained_findings_on_this_repo(capsys):
    result = scan.run(legacy=ROOT / "legacy_graph", eager=ROOT / "eager_v2")
    left = [(f.path, f.key, f.level) for f in result.active]
    assert sorted(left) == sorted(REPO_FINDINGS)
    assert not result.failing("error")
    section = (ROOT / "docs" / "scan.md").read_text()
    for path, key, level in REPO_FINDINGS:
        assert f"`{path}` `{key}` ({level})" in section, (path, key)
    status, out, _ = run_cli(["legacy_graph", "eager_v2"], capsys)
    assert status == 0 and "4 findings (0 errors, 3 warnings, 1 note)" in out


def test_every_finding_is_a_detected_catalogue_entry():
    result = scan.run([CORPUS], upgrade_report=True)
    keys = {f.key for f in result.active}
    detected = {p.id for p in pitfalls.CATALOGUE if p.scan == "detected"}
    assert keys - {scan.UPGRADE} <= detected
    marked = {key for path in CORPUS.rglob("*.py") for _, key in expected(path)}
    assert marked == detected, detected ^ marked


def test_upgrade_report_adds_what_tf_upgrade_v2_says_and_scan_what_it_misses():
    source = ("import tensorflow as tf\nfrom tensorflow.examples.tutorials.mnist import input_data\n"
              "opt = tf.keras.optimizers.Adam(lr=0.01)\nflat = tf.contrib.layers.flatten(x)\n")
    report = scan_upgrade.report(source)
    assert not any(e.line == 2 for e in report)        # tf_upgrade_v2 is silent about input_data
    assert any(e.line == 3 and ".legacy." in e.message for e in report)
    assert any(e.line == 4 and e.level == "ERROR" and "tf.contrib" in e.message for e in report)
    result = scan.run([CORPUS / "ports" / "keras2_optimizer.py"])
    upgrade = [f for f in result.active if f.key == scan.UPGRADE]
    assert [(f.line, f.level) for f in upgrade] == [(6, "warning")] and "legacy" in upgrade[0].message


def test_upgrade_report_loads_without_tensorflow_runtime():
    code = ("import sys, time; t = time.time(); from parity import scan_upgrade\n"
            "entries = scan_upgrade.report('import tensorflow as tf\\nx = tf.contrib.layers.flatten(y)\\n')\n"
            "assert entries and entries[0].level == 'ERROR', entries\n"
            "assert not [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')], 'imported'\n"
            "print(time.time() - t)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert float(result.stdout) < 2.0


def test_scan_of_this_repo_takes_under_ten_seconds():
    start = time.perf_counter()
    result = subprocess.run([str(Path(sys.executable).with_name("tf-parity")), "scan", "--legacy", "legacy_graph",
                             "--eager", "eager_v2"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert time.perf_counter() - start < 10


def test_ignore_comment_suppresses_one_finding(tmp_path, capsys):
    port = tmp_path / "port.py"
    port.write_text("import keras\n"
                    "a = keras.optimizers.Adam(lr=0.1)  # tf-parity: ignore[keras3-lr-keyword] pinned Keras 2 build\n"
                    "b = keras.optimizers.Adam(lr=0.1)  # tf-parity: ignore[adam-epsilon]\n")
    status, out, _ = run_cli([str(port), "--format", "json"], capsys)
    report = json.loads(out)
    assert [(f["line"], f["key"]) for f in report["findings"]] == [(2, "adam-epsilon"), (3, "keras3-lr-keyword")]
    assert [(f["line"], f["key"], f["suppressed"]) for f in report["suppressed"]] == [
        (2, "keras3-lr-keyword", "pinned Keras 2 build"), (3, "adam-epsilon", "(no reason given)")]
    assert status == 1            # line 3's error is left
    port.write_text("import keras\n"
                    "a = keras.optimizers.Adam(lr=0.1, epsilon=1e-8)  # tf-parity: ignore[keras3-lr-keyword]\n")
    assert run_cli([str(port)], capsys)[0] == 0


def test_fail_on_sets_the_exit_status(capsys):
    warnings_only = str(CORPUS / "ports" / "adam_defaults.py")
    assert run_cli([warnings_only], capsys)[0] == 0
    assert run_cli([warnings_only, "--fail-on", "warning"], capsys)[0] == 1
    assert run_cli([str(CORPUS / "ports" / "weights_files.py")], capsys)[0] == 1
    assert run_cli([str(CORPUS / "ports" / "weights_files.py"), "--fail-on", "never"], capsys)[0] == 0


@pytest.mark.parametrize("argv, message", [
    (["no/such/dir"], "no/such/dir: no such file or folder"),
    (["legacy_graph", "--fail-on", "fatal"], "--fail-on: invalid choice"),
    ([], "give the files or folders to scan"),
    (["README.md"], "README.md: not a Python file"),
])
def test_bad_input_is_one_line_and_exit_2(argv, message, capsys):
    status, out, err = run_cli(argv, capsys)
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("tf-parity: error: ") and message in err, err


def test_unparsable_file_is_exit_2_with_its_line(tmp_path, capsys):
    (tmp_path / "broken.py").write_text("import tensorflow as tf\ndef f(:\n")
    status, _, err = run_cli([str(tmp_path)], capsys)
    assert status == 2 and err.count("\n") == 1 and "broken.py:2: cannot parse" in err and "Traceback" not in err


def test_text_output_groups_by_file_with_defaults_fix_and_link(capsys):
    status, out, _ = run_cli([str(CORPUS / "tf1" / "mnist_softmax.py"), "--no-upgrade-report"], capsys)
    assert status == 1
    lines = out.splitlines()
    assert lines[0] == "parity_tests/scan_corpus/tf1/mnist_softmax.py"
    assert lines[1].startswith("  3:1  error  input-data-removed  ")
    entry = pitfalls.BY_ID["input-data-removed"]
    assert lines[2:6] == [f"      TF1:   {entry.legacy}", f"      Keras: {entry.eager}", f"      fix:   {entry.port}",
                          f"      see:   {scan.anchor(entry)}"]
    assert "4 findings (3 errors, 1 warning, 0 notes) in 1 of 1 files; 0 suppressed" in out
    run_only = [p.id for p in pitfalls.CATALOGUE if p.scan != "detected"]
    assert len(out.split("check with tf-parity parity:\n")[1].splitlines()) == len(run_only)
    assert all(f"  {key}: " in out for key in run_only)


def test_anchors_name_pitfalls_md_headings():
    headings = re.findall(r"^## (.+)$", (ROOT / "PITFALLS.md").read_text(), flags=re.M)
    slugs = {re.sub(r"[^a-z0-9 _-]", "", h.replace("`", "").lower()).replace(" ", "-") for h in headings}
    for p in pitfalls.CATALOGUE:
        assert scan.anchor(p).split("#")[1] in slugs, p.id


def test_json_names_both_defaults_and_the_fix(capsys):
    status, out, _ = run_cli([str(CORPUS / "ports" / "adam_defaults.py"), "--format", "json"], capsys)
    report = json.loads(out)
    assert status == 0 and report["summary"] == {"error": 0, "warning": 2, "note": 0}
    first = report["findings"][0]
    assert {k: first[k] for k in ("line", "col", "key", "level")} == \
        {"line": 3, "col": 13, "key": "adam-epsilon", "level": "warning"}
    entry = pitfalls.BY_ID["adam-epsilon"]
    assert (first["tf1_default"], first["keras_default"], first["fix"]) == (entry.legacy, entry.eager, entry.port)
    assert {r["key"] for r in report["run_only"]} == {p.id for p in pitfalls.CATALOGUE if p.scan != "detected"}


def test_sarif_is_a_sarif_2_1_0_log(capsys, tmp_path):
    (tmp_path / "port.py").write_text("import keras\nopt = keras.optimizers.Adam(lr=1e-3)  # tf-parity: "
                                      "ignore[adam-epsilon] checked\n")
    status, out, _ = run_cli([str(CORPUS / "tf1"), str(tmp_path), "--format", "sarif"], capsys)
    log = json.loads(out)
    assert status == 1
    assert set(log) == {"$schema", "version", "runs"} and log["version"] == "2.1.0"
    assert log["$schema"].endswith("sarif-2.1.0.json")
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert isinstance(driver["name"], str) and driver["name"]
    ids = [rule["id"] for rule in driver["rules"]]
    assert len(ids) == len(set(ids))
    for rule in driver["rules"]:
        assert set(rule) <= {"id", "name", "shortDescription", "fullDescription", "help", "defaultConfiguration",
                             "properties"}
        assert all(isinstance(rule[k]["text"], str) for k in ("shortDescription", "fullDescription", "help"))
        assert rule["defaultConfiguration"]["level"] in ("none", "note", "warning", "error")
    assert run["results"]
    for result in run["results"]:
        assert set(result) <= {"ruleId", "ruleIndex", "level", "message", "locations", "suppressions"}
        assert ids[result["ruleIndex"]] == result["ruleId"]
        assert result["level"] in ("none", "note", "warning", "error")
        assert isinstance(result["message"]["text"], str) and result["message"]["text"]
        (location,) = result["locations"]
        artifact = location["physicalLocation"]["artifactLocation"]
        if "uriBaseId" in artifact:    # the corpus, under the current folder
            assert artifact["uriBaseId"] in run["originalUriBaseIds"] and not artifact["uri"].startswith("/")
        else:                          # tmp_path, outside it
            assert artifact["uri"].startswith("file:///")
        assert " " not in artifact["uri"]
        region = location["physicalLocation"]["region"]
        assert isinstance(region["startLine"], int) and region["startLine"] >= 1 and region["startColumn"] >= 1
        for suppression in result.get("suppressions", []):
            assert suppression["kind"] in ("inSource", "external") and suppression["justification"]
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"].startswith("file:///")
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"].endswith("/")
    suppressed = [r for r in run["results"] if r.get("suppressions")]
    assert [(r["ruleId"], r["suppressions"][0]["justification"]) for r in suppressed] == [("adam-epsilon", "checked")]
    assert {"uriBaseId" in r["locations"][0]["physicalLocation"]["artifactLocation"] for r in run["results"]} == \
        {True, False}


def test_json_takes_a_path_as_every_other_command_s_does(capsys, tmp_path):
    """`--json PATH` writes the file and leaves the chosen format on screen; a second run says it
    replaced the first one's file."""
    path = tmp_path / "out" / "scan.json"
    target = str(CORPUS / "ports" / "adam_defaults.py")
    status, out, _ = run_cli([target, "--json", str(path)], capsys)
    assert status == 0 and "adam-epsilon" in out and out.rstrip().endswith(f"wrote {path}")
    assert json.loads(path.read_text())["summary"] == {"error": 0, "warning": 2, "note": 0}
    status, out, err = run_cli([target, "--format", "sarif", "--json", str(path)], capsys)
    assert status == 0 and json.loads(out)["version"] == "2.1.0"  # stdout stays one document
    assert f"wrote {path} (replaced the one there)" in err
    status, _, err = run_cli([target, "--json", str(tmp_path)], capsys)
    assert status == 2 and "is a folder" in err
