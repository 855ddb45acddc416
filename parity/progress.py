"""A dependency-free progress bar: redrawn in place on a terminal, a line per tenth elsewhere."""
import sys
import time


class Progress:
    def __init__(self, total, description="", stream=None, width=30, initial=0):
        self.total = max(int(total), 1)
        self.description = description
        self.stream = stream or sys.stderr
        self.width = width
        self.count = self._initial = min(int(initial), self.total)  # a resumed run starts part-way
        self.postfix = ""
        self.start = time.perf_counter()
        self._tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._next_report = (int(10 * self.count / self.total) + 1) / 10
        self._last_draw = 0.0

    def update(self, n=1, postfix=None):
        self.count = min(self.count + n, self.total)
        if postfix is not None:
            self.postfix = postfix
        now = time.perf_counter()
        if self._tty:
            if now - self._last_draw >= 0.1 or self.count == self.total:
                self._last_draw = now
                self.stream.write("\r" + self._line(now))
                self.stream.flush()
        elif self.count / self.total >= self._next_report:
            while self.count / self.total >= self._next_report:
                self._next_report += 0.1
            self.stream.write(self._line(now) + "\n")
            self.stream.flush()

    def _line(self, now):
        elapsed = now - self.start
        fraction = self.count / self.total
        filled = int(self.width * fraction)
        bar = "#" * filled + "-" * (self.width - filled)
        rate = (self.count - self._initial) / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.count) / rate if rate > 0 else 0.0
        text = f"{self.description} [{bar}] {self.count}/{self.total} {rate:.1f} it/s, " \
               f"{_clock(elapsed)} elapsed, {_clock(eta)} left"
        return f"{text} {self.postfix}".rstrip()

    def close(self):
        if self._tty:
            self.stream.write("\n")
            self.stream.flush()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _clock(seconds):
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"
