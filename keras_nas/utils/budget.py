"""`TimeBudget`: the one clock behind every `time_budget` (trial search, supernets, ENAS, trial processes).

A budget is a monotonic deadline, fixed when it is created. Everything that
honours it asks the same two questions, `spent()` and `remaining()`, and
training loops stop at the end of the epoch in which it ran out
(`TimeBudget.callback`), so no epoch is cut in half.

Example:

>>> budget = TimeBudget(None)
>>> budget.spent(), budget.remaining()
(False, None)
>>> TimeBudget(0).spent()
True
"""

from __future__ import annotations

import math
import time

import keras


class TimeBudget:
    """`seconds` from now (`None`: no limit)."""

    def __init__(self, seconds: float | None) -> None:
        if seconds is not None and not (isinstance(seconds, (int, float)) and math.isfinite(seconds) and seconds >= 0):
            raise ValueError(f"A time budget is a number of seconds >= 0 or None; received {seconds!r}.")
        self.seconds = None if seconds is None else float(seconds)
        self.started = time.monotonic()
        self.deadline = None if seconds is None else self.started + float(seconds)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def remaining(self) -> float | None:
        """Seconds left (negative once spent), or None without a limit."""
        return None if self.deadline is None else self.deadline - time.monotonic()

    def spent(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    def callback(self) -> keras.callbacks.Callback:
        """A Keras callback that stops training at the end of the epoch in which the budget ran out."""
        return _StopWhenSpent(self)


class _StopWhenSpent(keras.callbacks.Callback):
    def __init__(self, budget: TimeBudget) -> None:
        super().__init__()
        self.budget = budget

    def on_epoch_end(self, epoch, logs=None):
        if self.budget.spent():
            self.model.stop_training = True
