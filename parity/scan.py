"""`tf-parity scan`: the pitfall catalogue as a linter over a TF1 tree, its port, or both.

Every file is read with `ast` (parity.scan_rules) and, unless asked not to, by tf_upgrade_v2's own
analysis (parity.scan_upgrade: its report, not its rewrite; loaded without TensorFlow's runtime).
With a TF1 tree and its port, their settings are compared (parity.scan_cross). A finding names
its file, line and column, its catalogue key, both sides' defaults, and the fix. A
`# tf-parity: ignore[key] reason` comment on the finding's line suppresses it.
"""
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import quote

from parity import pitfalls, scan_cross, scan_rules, scan_upgrade
from parity.scan_rules import ERROR, NOTE, WARNING

LEVELS = (ERROR, WARNING, NOTE)
RANK = {ERROR: 3, WARNING: 2, NOTE: 1}
UPGRADE = "tf-upgrade-v2"
UPGRADE_LEVELS = {"ERROR": ERROR, "WARNING": WARNING, "INFO": NOTE}
SKIPPED_FOLDERS = {".git", ".venv", "venv", "__pycache__", "site-packages", "node_modules", "build", "dist"}
IGNORE = re.compile(r"#\s*tf-parity:\s*ignore\[([^\]]*)\]\s*(.*)")
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


class ScanError(ValueError):
    """Input scan cannot read: a missing path, a folder without Python files, a file that does not parse."""


@dataclass
class Result:
    files: list
    findings: list                     # scan_rules.Finding, suppressed ones included
    upgrade_report: str                # "ran", "skipped (--no-upgrade-report)", or why it could not
    cross: bool = False
    run_only: list = field(default_factory=list)

    @property
    def active(self):
        return [f for f in self.findings if not f.suppressed]

    def failing(self, fail_on):
        """The unsuppressed findings at or above the level `fail_on`."""
        return [f for f in self.active if RANK[f.level] >= RANK[fail_on]]


def anchor(pitfall):
    """PITFALLS.md's heading anchor for the entry, as code hosts render it."""
    heading = f"{pitfall.id}: {pitfall.title}".lower()
    return "PITFALLS.md#" + re.sub(r"[^a-z0-9 _-]", "", heading).replace(" ", "-")


def python_files(path):
    """The .py files at `path` (a file, or a folder searched recursively), sorted."""
    path = Path(path)
    if not path.exists():
        raise ScanError(f"{path}: no such file or folder")
    if path.is_file():
        if path.suffix != ".py":
            raise ScanError(f"{path}: not a Python file")
        return [path]
    files = sorted(p for p in path.rglob("*.py")
                   if not any(part in SKIPPED_FOLDERS or part.startswith(".") for part in p.relative_to(path).parts))
    if not files:
        raise ScanError(f"{path}: no Python files in this folder")
    return files


def _display(path):
    try:
        return Path(path).resolve().relative_to(Path.cwd()).as_posix()
    except ValueError:
        return Path(path).as_posix()


def _read(path):
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ScanError(f"{path}: not UTF-8 text ({e.reason})") from None
    except OSError as e:
        raise ScanError(f"{path}: {e.strerror}") from None
    return text


def scan_file(path, upgrade=True):
    """(FileScan, source lines, renames) of one file: the upgrade report's warnings and errors join
    its findings, and its plain renames (INFO entries) are only counted, except a rename into
    keras.optimizers.legacy, which Keras 3 lacks."""
    text = _read(path)
    shown = _display(path)
    try:
        result = scan_rules.scan_source(shown, text)
    except SyntaxError as e:
        raise ScanError(f"{shown}:{e.lineno}: cannot parse: {e.msg}") from None
    renames = 0
    for entry in scan_upgrade.report(text) if upgrade else ():
        level = UPGRADE_LEVELS[entry.level]
        if level == NOTE and ".legacy." not in entry.message:
            renames += 1   # a rename its rewrite makes: no difference between the two models
            continue
        if entry.message.startswith("*.save requires manual check") and entry.line in result.settled_saves:
            continue       # a Saver's save(sess, path), or a Keras save to a .keras/.h5 file: nothing to check
        message = (f"tf_upgrade_v2 would rewrite this: {entry.message}; Keras 3 has no keras.optimizers.legacy"
                   if level == NOTE else f"tf_upgrade_v2: {entry.message}")
        result.findings.append(scan_rules.Finding(shown, entry.line, entry.col + 1, UPGRADE,
                                                  WARNING if level == NOTE else level, message, entry.line))
    return result, text.splitlines(), renames


def run(paths=(), legacy=None, eager=None, upgrade_report=True, layer_pairs=None):
    """Scans `paths` and the `legacy` and `eager` trees (compared with each other where both are given);
    returns a Result. Raises ScanError on input it cannot read."""
    status = "skipped (--no-upgrade-report)"
    if upgrade_report:
        try:
            scan_upgrade.upgrader()
            status = "ran"
        except scan_upgrade.UpgraderUnavailable as e:
            status, upgrade_report = f"not available: {e}", False
    sides = {"paths": list(paths), "legacy": [legacy] if legacy else [], "eager": [eager] if eager else []}
    if not any(sides.values()):
        raise ScanError("give the files or folders to scan, or --legacy DIR and --eager DIR")
    scans, lines, by_side, renames = {}, {}, {"legacy": [], "eager": []}, 0
    for side, roots in sides.items():
        for root in roots:
            for path in python_files(root):
                key = path.resolve()
                if key not in scans:
                    scans[key], lines[key], count = scan_file(path, upgrade_report)
                    renames += count
                if side in by_side:
                    by_side[side].append(scans[key])
    if upgrade_report:
        status = f"ran ({renames} plain renames not shown)"
    findings = [f for s in scans.values() for f in s.findings]
    if legacy and eager:
        findings += scan_cross.compare(by_side["legacy"], by_side["eager"], layer_pairs)
    text_of = {s.path: lines[k] for k, s in scans.items()}
    findings = _suppress(_deduplicated(findings), text_of)
    findings.sort(key=lambda f: (f.path, f.line, f.col, -RANK[f.level], f.key))
    return Result([s.path for s in scans.values()], findings, status, bool(legacy and eager), run_only())


def run_only():
    """The catalogue entries no source shows: [(pitfall, reason)]."""
    return [(p, p.scan.partition(":")[2].strip()) for p in pitfalls.CATALOGUE if p.scan != "detected"]


def _deduplicated(findings):
    """One finding per file, line and key: the most severe, with the messages of its level joined."""
    best = {}
    for f in findings:
        key = (f.path, f.line, f.key, f.message if f.key == UPGRADE else "")
        if key not in best or RANK[f.level] > RANK[best[key].level]:
            best[key] = f
        elif RANK[f.level] == RANK[best[key].level] and f.message not in best[key].message:
            best[key].message += f"; {f.message}"
    return list(best.values())


def _suppress(findings, text_of):
    for f in findings:
        lines = text_of.get(f.path, [])
        for number in range(f.line, max(f.line, f.end_line) + 1):
            match = IGNORE.search(lines[number - 1]) if 0 < number <= len(lines) else None
            if match and f.key in {k.strip() for k in match[1].split(",")}:
                f.suppressed = match[2].strip() or "(no reason given)"
    return findings


def _pitfall(key):
    return pitfalls.BY_ID.get(key)


# Output ----------------------------------------------------------------------------------------

def format_text(result):
    """The findings grouped by file, each with both sides' defaults and the fix; a summary line; the
    pitfalls that need a run."""
    out, current = [], None
    for f in result.active:
        if f.path != current:
            current = f.path
            out += ["" if out else None, f.path]
            out = [line for line in out if line is not None]
        out.append(f"  {f.line}:{f.col}  {f.level}  {f.key}  {f.message}")
        p = _pitfall(f.key)
        if p:
            out += [f"      TF1:   {p.legacy}", f"      Keras: {p.eager}", f"      fix:   {p.port}",
                    f"      see:   {anchor(p)}"]
    counts = {level: sum(f.level == level for f in result.active) for level in LEVELS}
    suppressed = len(result.findings) - len(result.active)
    summary = (f"{_count(len(result.active), 'finding')} ({_count(counts[ERROR], 'error')}, "
               f"{_count(counts[WARNING], 'warning')}, {_count(counts[NOTE], 'note')}) in {len({f.path for f in result.active})} of {len(result.files)} files; "
               f"{suppressed} suppressed; tf_upgrade_v2 report: {result.upgrade_report}"
               + ("; TF1 tree compared with its port" if result.cross else ""))
    out += ["" if out else None, summary]
    out += ["", "Not visible in source; check with tf-parity parity:"]
    out += [f"  {p.id}: {reason}" for p, reason in result.run_only]
    return "\n".join(line for line in out if line is not None)


def _record(f):
    record = {k: v for k, v in asdict(f).items() if k not in ("end_line", "suppressed")}
    p = _pitfall(f.key)
    if p:
        record.update(tf1_default=p.legacy, keras_default=p.eager, fix=p.port, see=anchor(p))
    if f.suppressed:
        record["suppressed"] = f.suppressed
    return record


def format_json(result):
    """The result as JSON: findings, suppressed findings, the summary and the pitfalls that need a run."""
    active = result.active
    return json.dumps({
        "files": len(result.files), "upgrade_report": result.upgrade_report, "cross": result.cross,
        "summary": {level: sum(f.level == level for f in active) for level in LEVELS},
        "findings": [_record(f) for f in active],
        "suppressed": [_record(f) for f in result.findings if f.suppressed],
        "run_only": [{"key": p.id, "reason": reason, "check": "tf-parity parity", "see": anchor(p)}
                     for p, reason in result.run_only],
    }, indent=2)


def _rules():
    rules = [{"id": p.id, "name": p.id.title().replace("-", ""),
              "shortDescription": {"text": p.title},
              "fullDescription": {"text": p.symptom},
              "help": {"text": f"TF1: {p.legacy}\nKeras: {p.eager}\nFix: {p.port}\nSee {anchor(p)}",
                       "markdown": f"**TF1:** {p.legacy}\n\n**Keras:** {p.eager}\n\n**Fix:** {p.port}\n\n"
                                   f"See [{p.id}]({anchor(p)})."},
              "defaultConfiguration": {"level": "warning"},
              "properties": {"tf1Default": p.legacy, "kerasDefault": p.eager}}
             for p in pitfalls.CATALOGUE if p.scan == "detected"]
    rules.append({"id": UPGRADE, "name": "TfUpgradeV2",
                  "shortDescription": {"text": "Reported by TensorFlow's tf_upgrade_v2 analysis"},
                  "fullDescription": {"text": "An entry of tf_upgrade_v2's report (its rewrite is not applied)."},
                  "help": {"text": "Read the message; tf_upgrade_v2 renames APIs but does not see the catalogue's "
                                   "pitfalls."},
                  "defaultConfiguration": {"level": "note"}})
    return rules


def _artifact(path):
    """A file under the current folder relative to %SRCROOT%, any other by its file URI."""
    if Path(path).is_absolute():
        return {"uri": Path(path).as_uri()}
    return {"uri": quote(path), "uriBaseId": "%SRCROOT%"}


def format_sarif(result):
    """The result as a SARIF 2.1.0 log, one run, one result per finding (suppressed ones marked)."""
    rules = _rules()
    index = {rule["id"]: i for i, rule in enumerate(rules)}
    results = []
    for f in result.findings:
        item = {"ruleId": f.key, "ruleIndex": index[f.key], "level": f.level,
                "message": {"text": f.message},
                "locations": [{"physicalLocation": {
                    "artifactLocation": _artifact(f.path),
                    "region": {"startLine": f.line, "startColumn": f.col}}}]}
        if f.suppressed:
            item["suppressions"] = [{"kind": "inSource", "justification": f.suppressed}]
        results.append(item)
    log = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [{
        "tool": {"driver": {"name": "tf-parity scan", "semanticVersion": "0.1.0", "rules": rules}},
        "originalUriBaseIds": {"%SRCROOT%": {"uri": quote(Path.cwd().resolve().as_uri() + "/", safe=":/%")}},
        "results": results,
        "properties": {"upgradeReport": result.upgrade_report,
                       "runOnly": [{"key": p.id, "reason": reason} for p, reason in result.run_only]}}]}
    return json.dumps(log, indent=2)


def _count(n, noun):
    return f"{n} {noun}" + ("" if n == 1 else "s")
