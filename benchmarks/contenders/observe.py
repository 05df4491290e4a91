"""Measuring any keras-tuner Tuner from outside: anytime curve, oracle time and a wall-clock budget.

The same observer wraps stock keras-tuner tuners and AutoKeras's tuner, so that
every contender is measured the same way without changing how it searches.
"""

from __future__ import annotations

import time

import keras


class Clock:
    """Seconds since a run started, and the anytime curve (best validation score so far)."""

    def __init__(self, budget_seconds: float | None = None) -> None:
        self.started = time.monotonic()
        self.started_wall = time.time()
        self.deadline = None if budget_seconds is None else self.started + float(budget_seconds)
        self.anytime: list[list[float]] = []
        self.oracle_seconds = 0.0
        self.epochs = 0
        self.reserve = 0.0  # seconds before the deadline at which time counts as out (kept for a refit)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def expired(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline - self.reserve

    def record(self, best_score: float | None, at: float | None = None) -> None:
        if best_score is not None:
            self.anytime.append([round(self.elapsed() if at is None else at, 2), float(best_score)])


class EpochMonitor(keras.callbacks.Callback):
    """Counts epochs into the clock and ends training after the epoch during which time ran out."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.clock = clock

    def on_epoch_end(self, epoch, logs=None):
        self.clock.epochs += 1
        if self.clock.expired():
            self.model.stop_training = True

    def __deepcopy__(self, memo):  # keras-tuner deep-copies callbacks; keep the shared clock
        return EpochMonitor(self.clock)


def observe(tuner, clock: Clock) -> None:
    """Wraps a tuner's hooks: time the oracle, log each trial's best-so-far, stop at the deadline."""
    pre_create_trial, on_trial_begin, on_trial_end = tuner.pre_create_trial, tuner.on_trial_begin, tuner.on_trial_end
    state = {"asked": 0.0}

    def timed_pre_create_trial():
        if clock.expired():
            tuner.oracle.max_trials = len(tuner.oracle.trials)  # the oracle answers STOPPED from now on
        pre_create_trial()
        state["asked"] = time.monotonic()

    def timed_on_trial_begin(trial):
        clock.oracle_seconds += time.monotonic() - state["asked"]
        on_trial_begin(trial)

    def logged_on_trial_end(trial):
        on_trial_end(trial)
        best = tuner.oracle.get_best_trials(1)
        if best and best[0].score is not None and best[0].status == "COMPLETED":
            clock.record(best[0].score)

    tuner.pre_create_trial = timed_pre_create_trial
    tuner.on_trial_begin = timed_on_trial_begin
    tuner.on_trial_end = logged_on_trial_end
