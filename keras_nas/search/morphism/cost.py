"""`TrainingCost`: the predicted seconds of a proposal, for cost-aware acquisition.

A child's training time is predicted from its lineage: the measured seconds of
the trial it grows from, scaled by the ratio of multiply-adds per example
(`Architecture.flops`) raised to an exponent b,

    seconds(child) = seconds(parent) * (flops(child) / flops(parent)) ** b,

where b is the least-squares slope of log seconds on log flops over the trials
so far (clipped to [0, 1.5]; 1 until three trials of different sizes have
finished). A trial's seconds run from its proposal to its end, so they include
building, tracing, validation and early stopping: the cost the search really
pays. Snoek et al. (2012) model the duration with a second GP; one log-linear
fit anchored on the parent is enough here, since the architecture family is one
lineage and the size is known exactly before training.

Example:

>>> cost = TrainingCost([1e6, 2e6, 4e6], [10.0, 20.0, 40.0])
>>> round(cost.exponent, 6)
1.0
>>> round(float(cost.predict(8e6, parent_flops=4e6, parent_seconds=30.0)), 6)
60.0
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MIN_TRIALS = 3  # trials of different sizes before the exponent is fitted


class TrainingCost:
    """Predicts trial seconds from multiply-adds, anchored on a parent's measured seconds."""

    def __init__(self, flops: Sequence[float], seconds: Sequence[float]) -> None:
        pairs = [(float(f), float(s)) for f, s in zip(flops, seconds, strict=True) if f > 0 and s > 0]
        self.median_seconds = float(np.median([s for _, s in pairs])) if pairs else 1.0
        self.median_flops = float(np.median([f for f, _ in pairs])) if pairs else 1.0
        self.exponent = 1.0
        logs = np.log(np.array(pairs, dtype=float).reshape(-1, 2))
        if len(pairs) >= MIN_TRIALS and np.ptp(logs[:, 0]) > 0.1:
            slope = np.polyfit(logs[:, 0], logs[:, 1], 1)[0]
            self.exponent = float(np.clip(slope, 0.0, 1.5))

    def predict(
        self, flops: float | np.ndarray, parent_flops: float | None = None, parent_seconds: float | None = None
    ) -> np.ndarray:
        """Predicted seconds of networks of `flops` multiply-adds; without a measured parent, relative to the
        median trial."""
        if not parent_flops or not parent_seconds:
            parent_flops, parent_seconds = self.median_flops, self.median_seconds
        ratio = np.maximum(np.asarray(flops, dtype=float), 1.0) / float(parent_flops)
        return float(parent_seconds) * ratio**self.exponent


__all__ = ["TrainingCost"]
