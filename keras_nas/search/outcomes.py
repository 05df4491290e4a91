"""How trials ended: whether one diverged, why one failed (in one line), a trained one's record, the leaderboard.

`NASTuner` uses these as each trial ends (the record it keeps, or the failure
reason) and when asked for results (`leaderboard`, `failure_of`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Any

import keras
import keras_tuner
import numpy as np

from keras_nas.architecture import Architecture
from keras_nas.search.records import TrialRecord


class NonFiniteGuard(keras.callbacks.Callback):
    """Stops training at the end of the first epoch whose logs hold a NaN or infinite value, and says which."""

    def __init__(self) -> None:
        super().__init__()
        self.reason: str | None = None

    def on_epoch_end(self, epoch, logs=None):
        bad = sorted(name for name, value in (logs or {}).items() if not math.isfinite(float(value)))
        if bad:
            self.reason = f"{', '.join(bad)} became NaN or infinite in epoch {epoch + 1}"
            self.model.stop_training = True


def non_finite_weights(model: keras.Model) -> list[str]:
    """Names of the model's weights that hold a NaN or infinite value."""
    return [w.path for w in model.weights if not np.all(np.isfinite(keras.ops.convert_to_numpy(w)))]


def divergence(guard: NonFiniteGuard, model: keras.Model | None) -> str | None:
    """Why a trained trial diverged (its logs, else its weights, became NaN or infinite); None if it did not."""
    reason = guard.reason
    bad = non_finite_weights(model) if reason is None and model is not None else []
    if bad:
        reason = f"weights became NaN or infinite ({', '.join(bad[:3])})"
    return reason


def failure_reason(error: BaseException, limit: int = 600) -> str:
    """One line saying why a trial failed: the exception's type and message, without Keras's argument dump."""
    text = str(error).split("Arguments received by")[0]
    text = " ".join(line.strip() for line in text.splitlines() if line.strip())
    text = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def trained_record(
    hypermodel: Any, trial: Any, model: keras.Model | None, results: Any, seconds: float, proposal_seconds: float
) -> TrialRecord:
    """The record of a trial that trained: its architecture (from the space, else read off the model), size, time."""
    epochs = sum(len(r.history.get("loss", [])) for r in results if hasattr(r, "history"))
    architecture = None
    describe = getattr(hypermodel, "architecture", None)
    try:
        if callable(describe):
            architecture = describe(keras_tuner.HyperParameters.from_config(trial.hyperparameters.get_config()))
        elif model is not None:
            architecture = Architecture.from_keras_model(model)
    except (ValueError, TypeError, KeyError):
        architecture = None  # an undescribable model still counts as a trial
    return TrialRecord(
        architecture=architecture.summary() if architecture is not None else None,
        architecture_json=architecture.to_json() if architecture is not None else None,
        params=int(model.count_params()) if model is not None else None,
        epochs=int(epochs),
        seconds=round(seconds, 3),
        proposal_seconds=round(proposal_seconds, 4),
        finished_at=time.time(),
    )


def failure_of(trial: Any, record: TrialRecord | None, objective: str) -> str | None:
    """Why a trial did not complete, in one line; None for a completed one.

    The tuner's record says why, else keras-tuner's message; an invalid trial without either lacked the
    `objective`.
    """
    if trial.status == "COMPLETED":
        return None
    reason = record.failure if record is not None else None
    if reason is None and getattr(trial, "message", None):
        reason = trial.message.strip().splitlines()[-1]
    if reason is None and trial.status in ("INVALID", "FAILED"):
        reason = f"the objective {objective} was NaN or missing"
    return reason


def leaderboard_row(
    trial_id: str,
    status: str,
    score: float | None,
    hyperparameters: dict[str, Any],
    record: TrialRecord,
    message: str | None = None,
) -> dict[str, Any]:
    """One row of `leaderboard_`, the same for every search: id, status, score, hyperparameters, architecture,
    params, epochs, seconds, message."""
    return {
        "trial_id": trial_id,
        "status": status,
        "score": None if score is None else float(score),
        "hyperparameters": hyperparameters,
        "architecture": record.architecture,
        "params": record.params,
        "epochs": record.epochs,
        "seconds": record.seconds,
        "message": message,
    }


def leaderboard(
    trials: Mapping[str, Any],
    records: Mapping[str, TrialRecord],
    direction: str,
    message: Callable[[str], str | None],
) -> list[dict[str, Any]]:
    """One row per trial, best first (`direction` "max" or "min"; unscored trials last); `message(trial_id)`
    says why a trial did not complete."""
    rows = [
        leaderboard_row(
            trial_id,
            trial.status,
            trial.score,
            dict(trial.hyperparameters.values),
            records.get(trial_id, TrialRecord()),
            message(trial_id),
        )
        for trial_id, trial in trials.items()
    ]
    sign = -1.0 if direction == "max" else 1.0
    rows.sort(key=lambda row: (row["score"] is None, sign * (row["score"] or 0.0)))
    return rows
