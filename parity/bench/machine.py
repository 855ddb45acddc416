"""What the machine offers and what a style takes of it: the float32 matmul peak that `peak_share`
divides the achieved GFLOP/s by, the threads, and the process's memory.

Memory: the process's peak resident set while a style is built and warmed up (`peak_rss_mb`, reset
before it where Linux allows it; the same figure for every phase) and its growth over the resident
set before it (`rss_growth_mb`). The process keeps what earlier styles and models hold or left
resident, and reuses memory they freed without growing, so the peak is an upper bound and the
growth a lower bound of what the style alone would need. Styles that run in another process (a
user's isolated legacy graph, the JAX styles) have neither figure.
"""
import math
import os
import platform
import resource
import time

from parity.bench.settings import tf as _tf

# Square matrix sizes for the matmul peak, and how long each is repeated: big enough that the
# rate is the kernel's, not the call's.
PEAK_SIZES = (512, 1024, 2048)
PEAK_SECONDS = 0.5


def measure_matmul_peak(sizes=None, min_seconds=None):
    """The machine's float32 matmul rate, best of several sizes and repeats, in a tf.function.

    Args:
        sizes: square matrix sizes tried (None: PEAK_SIZES).
        min_seconds: repeat each size at least this long, and at least three times (None: PEAK_SECONDS).

    Returns:
        {"gflops_per_s": the best rate, "by_size": {size: its best rate}}.
    """
    tf = _tf()
    # A scalar result keeps the output's copy out of the timing; the sum's n^2 adds are not counted.
    matmul = tf.function(lambda a, b: tf.reduce_sum(tf.linalg.matmul(a, b)))
    by_size = {}
    min_seconds = PEAK_SECONDS if min_seconds is None else min_seconds
    for n in sizes or PEAK_SIZES:
        a = tf.random.uniform((n, n), seed=1)
        b = tf.random.uniform((n, n), seed=2)
        matmul(a, b).numpy()
        best, spent, runs = math.inf, 0.0, 0
        while runs < 3 or spent < min_seconds:
            began = time.perf_counter()
            matmul(a, b).numpy()
            took = time.perf_counter() - began
            best, spent, runs = min(best, took), spent + took, runs + 1
        by_size[str(n)] = round(2.0 * n ** 3 / best / 1e9, 2)
    return {"gflops_per_s": max(by_size.values()), "by_size": by_size}


def threads():
    """TensorFlow's thread pools, as the report states them."""
    tf = _tf()
    return {"intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
            "cpu_count": os.cpu_count(), "note": "0: TensorFlow chooses (about one per core)"}


class Memory:
    """Peak resident set of this process: reset and read through /proc where Linux allows it,
    else the process's lifetime peak from getrusage."""

    def __init__(self):
        self.resettable = self._reset()
        self.method = ("VmHWM of /proc/self/status, reset through /proc/self/clear_refs at the start of "
                       "each phase" if self.resettable else
                       "ru_maxrss: the process's peak since it started (cumulative over the run)")

    @staticmethod
    def _reset():
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            return True
        except OSError:
            return False

    @staticmethod
    def _status_mb(key):
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024
        return None

    def start(self):
        """Resets the peak where possible; returns the resident set now, in MB."""
        if self.resettable:
            self._reset()
            return round(self._status_mb("VmRSS"), 1)
        return None

    def peak(self):
        if self.resettable:
            return round(self._status_mb("VmHWM"), 1)
        # ru_maxrss is in kilobytes on Linux, bytes on macOS.
        scale = 1024 * 1024 if platform.system() == "Darwin" else 1024
        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale, 1)
