"""`TimeBudget`: the one clock behind every `time_budget` (trial search, supernets, ENAS, trial processes).

A budget is a monotonic deadline, fixed when it is created. Everything that
honours it asks the same two questions, `spent()` and `remaining()`, and
training loops stop at the end of the epoch in which it ran out
(`TimeBudget.callback`), so no epoch is cut in half.

Part of a budget can be kept back for what follows (`reserved`: the refit after
a search): `remaining()` and `spent()` then count the reserve as spent, and
`final()` is the same deadline with nothing kept back, for the work the reserve
was for; its callback stops before an epoch that would end past the deadline.

Example:

>>> budget = TimeBudget(None)
>>> budget.spent(), budget.remaining()
(False, None)
>>> TimeBudget(0).spent()
True
>>> budget = TimeBudget(60)
>>> budget.reserved = 60.0
>>> budget.spent(), budget.final().spent()
(True, False)
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
        self.reserved = 0.0  # seconds before the deadline kept back for what follows

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def remaining(self) -> float | None:
        """Seconds left (negative once spent), or None without a limit."""
        return None if self.deadline is None else self.deadline - self.reserved - time.monotonic()

    def spent(self) -> bool:
        remaining = self.remaining()
        return remaining is not None and remaining <= 0

    def final(self) -> TimeBudget:
        """The same deadline with nothing reserved (what the reserve was kept for runs under it)."""
        final = TimeBudget(None)
        final.started, final.deadline, final.seconds = self.started, self.deadline, self.seconds
        return final

    def callback(self, ahead: bool = False) -> keras.callbacks.Callback:
        """A Keras callback that stops training at the end of the epoch in which the budget ran out, or with
        `ahead`, at the end of the epoch after which another as long as it would overrun."""
        return _StopWhenSpent(self, ahead)


class _StopWhenSpent(keras.callbacks.Callback):
    def __init__(self, budget: TimeBudget, ahead: bool) -> None:
        super().__init__()
        self.budget = budget
        self.ahead = ahead
        self._epoch_started = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_started = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        remaining = self.budget.remaining()
        needed = time.monotonic() - self._epoch_started if self.ahead else 0.0
        if remaining is not None and remaining <= needed:
            self.model.stop_training = True
