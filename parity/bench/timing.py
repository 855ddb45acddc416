"""How each style's steps are timed: the phases, the warm-up, the timed blocks.

Phases: `infer` and `train`, the step on the fixed batch, for every style; and `loop`, training as a
user's run does, for the styles whose driver has such a loop (styles.Loop).

Per style the model is built once and each phase warmed up: the first `warmup` steps of each are
untimed; `warmup_s` is the time from nothing (the build, `build_s`, is counted in every phase) to
the end of the last of them, so it holds graph construction, the session's first runs, tracing and
XLA compiles. Then the `steps` timed steps of each phase run in ROUNDS blocks, the styles taking
turns, so a shared machine's drift weighs on all of them alike: timed one after the other, the last
styles of a run came out up to 30% slow. Every step ends in a sync (a Session.run fetch, `.numpy()`
or a float of the loss), so each time is the work done, not the work queued. Model.fit's steps are
the gaps between its batch ends; each block is one fit call, whose first batch (fit's own set-up)
is not timed.

A driver offers, by what it has: `loop(steps)` for the loop phase; `multi(phase, steps)` (a
multi-step style, or a JAX style timed in its process: seconds not timed, and each step's) or
`timed(phase, steps)` (a pair's legacy graph, timed where it lives: each step's seconds) for the
others; or `infer_step()` and `train_step()`, timed here one by one (fit's training through
`fit(steps)`).
"""
import time

from parity.bench.settings import PHASES
from parity.bench.styles import finite

# The timed steps of each phase are taken in this many blocks, the styles taking turns: with
# mnist_cnn's 100 steps a block is one multi-step call, and the shorter a turn, the more alike
# a shared machine's slow spells fall on every style.
ROUNDS = 10


def blocks(steps):
    """The sizes of the timed blocks `steps` steps are taken in: ROUNDS of them, or one a step."""
    rounds = min(ROUNDS, steps)
    return [steps // rounds + (i < steps % rounds) for i in range(rounds)]


def phases(driver):
    """The phases a driver has: infer and train, and loop where it has a training loop."""
    return PHASES if hasattr(driver, "loop") else tuple(p for p in PHASES if p != "loop")


def warm_up(driver, phase, warmup):
    """Runs the untimed first `warmup` steps of a phase; returns their seconds."""
    if phase == "loop":
        first, rest = driver.loop(warmup)
        return first + sum(rest)
    if hasattr(driver, "multi"):
        first, rest = driver.multi(phase, warmup)
        return first + sum(rest)
    if hasattr(driver, "timed"):
        return sum(driver.timed(phase, warmup))
    if _is_fit(driver, phase):
        first, rest = driver.fit(max(warmup - 1, 0))
        return first + sum(rest)
    step = _step(driver, phase)
    began = time.perf_counter()
    for _ in range(warmup):
        step()
    return time.perf_counter() - began


def timed(driver, phase, steps):
    """The seconds of each of `steps` steps of a phase."""
    if phase == "loop":
        return driver.loop(steps)[1]
    if hasattr(driver, "multi"):
        return driver.multi(phase, steps)[1]
    if hasattr(driver, "timed"):
        return driver.timed(phase, steps)
    if _is_fit(driver, phase):
        return driver.fit(steps)[1]
    step = _step(driver, phase)
    times = []
    for _ in range(steps):
        began = time.perf_counter()
        step()
        times.append(time.perf_counter() - began)
    return times


def _is_fit(driver, phase):
    return phase == "train" and getattr(driver, "style", None) == "fit" and hasattr(driver, "fit")


def _step(driver, phase):
    if phase != "train":
        return driver.infer_step

    def train_step():
        driver.trained = getattr(driver, "trained", 0) + 1
        finite(getattr(driver, "style", "legacy"), driver.trained, driver.train_step())
    return train_step
