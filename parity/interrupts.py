"""Which KeyboardInterrupt is a Ctrl-C: while installed, SIGINT is noted before it raises
KeyboardInterrupt, and SIGTERM raises Terminated, so that a KeyboardInterrupt (or SystemExit) that a
user's module raises by itself is told apart from a signal and reported as that module's error."""
import signal
import threading

_received = []
_installed = []


class Terminated(BaseException):
    """SIGTERM, raised like KeyboardInterrupt so that every `finally` cleans up on the way out."""


def _on_sigint(signum, frame):
    _received.append(signum)
    raise KeyboardInterrupt()


def _on_sigterm(signum, frame):
    _received.append(signum)
    raise Terminated()


def install():
    """Installs both handlers (in the main thread only: elsewhere Python refuses); returns a function
    that puts the previous ones back."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    _received.clear()
    previous = {s: signal.signal(s, h) for s, h in ((signal.SIGINT, _on_sigint), (signal.SIGTERM, _on_sigterm))}
    _installed.append(True)

    def restore():
        _installed.pop()
        for s, h in previous.items():
            signal.signal(s, h)
    return restore


def from_signal():
    """Whether a KeyboardInterrupt may have come from a signal: True once a SIGINT or SIGTERM came
    while the handlers were installed, and whenever they are not (then no one can tell)."""
    return bool(_received) or not _installed
