"""Every file a command writes: through a temporary file beside it, renamed into place whole, with
the permissions the user's umask gives a new file; and a ledger of what was finished, so that a
run that fails or is interrupted can say exactly what it left on disk.

Inside a `together()` block the renames wait for the block's end, so a report and its figures
appear together or not at all: an interrupted run never leaves a new figure beside an old report.
"""
import contextlib
import os
import tempfile
from pathlib import Path

_written = []        # (path, what) finished this run, in order
_pending = set()     # temporary files being written
_deferred = None     # [(tmp, path, what)] while a together() block runs
_replaced = set()    # paths whose earlier file this run replaced


def umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic(path, what="file", suffix=""):
    """Yields a temporary path beside `path` to write (ending in `suffix`, for writers that insist on
    one); on success it becomes `path`, else it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".partial{suffix}", dir=path.parent)
    os.close(fd)
    _pending.add(tmp)
    try:
        try:
            yield Path(tmp)
        except OSError as e:  # a full disk, say: name the file the user asked for, not the temporary one
            raise OSError(e.errno, e.strerror, str(path)) from None
        os.chmod(tmp, 0o666 & ~umask())
        if _deferred is not None:
            _deferred.append((tmp, path, what))
            return
        _replace(tmp, path, what)
    finally:
        if _deferred is None or not any(t == tmp for t, _, _ in _deferred):
            _discard(tmp)


def _replace(tmp, path, what):
    if path.exists():
        _replaced.add(path)
    os.replace(tmp, path)
    _written.append((path, what))


def named(path):
    """`path` as a command's last line says it wrote it: "r.json (replaced the one there)" where a
    file of that name was there before."""
    return f"{path} (replaced the one there)" if Path(path) in _replaced else str(path)


def _discard(tmp):
    _pending.discard(tmp)
    with contextlib.suppress(FileNotFoundError):
        os.remove(tmp)


@contextlib.contextmanager
def together():
    """Writes made by atomic() inside the block are renamed into place at its end, all of them, or
    none if the block raises."""
    global _deferred
    if _deferred is not None:
        yield
        return
    _deferred = staged = []
    try:
        yield
        _deferred = None
        for tmp, path, what in staged:
            _replace(tmp, path, what)
            _pending.discard(tmp)
    finally:
        _deferred = None
        for tmp, _, _ in staged:
            if tmp in _pending:
                _discard(tmp)


def record(path, what):
    """Notes a file or set of files finished by other means (a TF1 Saver checkpoint)."""
    _written.append((Path(path), what))


def forget(path):
    """Drops `path` from the ledger once it is removed again (a checkpoint superseded by the run's end)."""
    _written[:] = [(p, w) for p, w in _written if p != Path(path)]


def written():
    return list(_written)


def reset():
    _written.clear()
    _replaced.clear()


def left_on_disk():
    """'nothing was written', or 'left on disk: PATH (what), ...' for what this run finished."""
    if not _written:
        return "nothing was written"
    seen = {}
    for path, what in _written:
        seen[str(path)] = what
    return "left on disk: " + ", ".join(f"{p} ({w})" for p, w in seen.items())


def check_writable(path):
    """Fails before a long run, not after it, when `path` cannot be written: it is a folder, a
    folder above it is a file, or the nearest existing folder is not writable."""
    path = Path(path)
    if path.is_dir():
        raise OSError(f"{path} is a folder; give a file name such as {path / 'report.json'}")
    if path.exists() and not os.access(path, os.W_OK):
        raise OSError(f"cannot write {path}: the file exists and is not writable")
    parent = path.parent
    while not parent.exists() and not parent.is_symlink():
        parent = parent.parent
    if not parent.is_dir():
        raise OSError(f"cannot write {path}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OSError(f"cannot write {path}: {parent} is not writable")
