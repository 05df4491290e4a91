"""`TrialRecord`: what keras_nas keeps about one trial beside keras-tuner's `Trial`.

A record is written by the tuner when a trial ends (or fails), saved with the
tuner's state (`tuner0.json`, so a resumed search keeps it), sent back by a
trial process, and read by the leaderboard, the progress line and the
morphism tuner (which trial a child inherited its weights from).

Example:

>>> record = TrialRecord(architecture="dense32 > dense16", params=1234, epochs=3)
>>> TrialRecord.from_dict(record.to_dict()) == record
True
>>> record.to_dict()
{'architecture': 'dense32 > dense16', 'params': 1234, 'epochs': 3}
"""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass
class TrialRecord:
    """One trial's record; every field is optional, since a trial may fail at any point."""

    architecture: str | None = None  # `Architecture.summary()`, None when the model could not be described
    architecture_json: str | None = None  # `Architecture.to_json()`
    params: int | None = None
    epochs: int | None = None  # epochs trained in this trial
    seconds: float | None = None  # training seconds
    proposal_seconds: float | None = None  # seconds the oracle took to propose the trial
    finished_at: float | None = None  # `time.time()` when it ended
    failure: str | None = None  # why it failed, in one line
    parent: str | None = None  # morphism search: the trial whose architecture this one grew from
    inherited: bool | None = None  # whether it started from its parent's weights
    moves: int | None = None  # how many morphisms led from the parent
    error: str | None = None  # why the parent's weights could not be inherited

    def to_dict(self) -> dict[str, Any]:
        """The fields that are set, as JSON-ready values."""
        return {key: value for key, value in dataclasses.asdict(self).items() if value is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrialRecord:
        """The record `to_dict` wrote; a ValueError naming any key a record does not have."""
        unknown = sorted(set(data) - FIELDS)
        if unknown:
            raise ValueError(f"A trial record has no field {unknown}; its fields are {sorted(FIELDS)}.")
        return cls(**data)


FIELDS = frozenset(field.name for field in dataclasses.fields(TrialRecord))
