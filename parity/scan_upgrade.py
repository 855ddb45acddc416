"""tf_upgrade_v2's analysis, without its rewrite and without TensorFlow's runtime.

The upgrader ships in the TensorFlow wheel as `tensorflow.tools.compatibility`: pure Python over
`pasta`, but importing it the ordinary way runs `tensorflow/__init__.py`, which loads the runtime
(seconds). Its six modules are loaded here from their files, under their own names, with empty
stand-ins for the parent packages that are removed again at once; where TensorFlow is already
imported the ordinary import is used.
"""
import contextlib
import importlib
import importlib.util
import io
import re
import sys
import types
import warnings
from dataclasses import dataclass
from pathlib import Path

MODULES = ("ast_edits", "renames_v2", "all_renames_v2", "module_deprecations_v2", "reorders_v2", "tf_upgrade_v2")
PACKAGE = "tensorflow.tools.compatibility"
_LINE = re.compile(r"^(?:.*?:)?(\d+):(\d+): (INFO|WARNING|ERROR): (.*)$", re.S)
_upgrader = None


class UpgraderUnavailable(Exception):
    """The TensorFlow wheel's upgrader could not be loaded; the message says why."""


@dataclass(frozen=True)
class Entry:
    line: int
    col: int      # 0-based, as the upgrader reports it
    level: str    # INFO, WARNING or ERROR
    message: str


def _load_modules():
    """The upgrader's modules by short name, loaded without running tensorflow/__init__.py."""
    if "tensorflow" in sys.modules:
        return {name: importlib.import_module(f"{PACKAGE}.{name}") for name in MODULES}
    spec = importlib.util.find_spec("tensorflow")
    if spec is None or not spec.submodule_search_locations:
        raise UpgraderUnavailable("TensorFlow is not installed")
    root = Path(list(spec.submodule_search_locations)[0]) / "tools" / "compatibility"
    stubs = ("tensorflow", "tensorflow.tools", PACKAGE)
    for name in stubs:
        stub = types.ModuleType(name)
        stub.__path__ = []
        sys.modules[name] = stub
    loaded = {}
    try:
        for name in MODULES:
            full = f"{PACKAGE}.{name}"
            module_spec = importlib.util.spec_from_file_location(full, root / f"{name}.py")
            if module_spec is None:
                raise UpgraderUnavailable(f"{root / name}.py is missing")
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[full] = module
            setattr(sys.modules[PACKAGE], name, module)
            module_spec.loader.exec_module(module)
            loaded[name] = module
    except (ImportError, OSError, SyntaxError) as e:
        raise UpgraderUnavailable(f"{type(e).__name__}: {e}") from None
    finally:
        for name in [*stubs, *(f"{PACKAGE}.{m}" for m in MODULES)]:
            sys.modules.pop(name, None)
    return loaded


def upgrader():
    """An ast_edits.ASTCodeUpgrader with tf_upgrade_v2's TFAPIChangeSpec (loaded once)."""
    global _upgrader
    if _upgrader is None:
        modules = _load_modules()
        _upgrader = modules["ast_edits"].ASTCodeUpgrader(modules["tf_upgrade_v2"].TFAPIChangeSpec())
    return _upgrader


def report(text):
    """tf_upgrade_v2's report on one file's source: its log and its warnings and errors, as Entries
    (each once, in line order). The rewritten source is dropped."""
    # The upgrader prints its log as it goes, and pasta's visitor warns of Python 3.8's deprecated nodes.
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        processed, _, log, errors = upgrader().update_string_pasta(text, "")
    entries = set()
    for item in (log if processed else []) + errors:
        match = _LINE.match(item.strip())
        if match:
            entries.add(Entry(int(match[1]), int(match[2]), match[3], " ".join(match[4].split())))
    return sorted(entries, key=lambda e: (e.line, e.col, e.level, e.message))
