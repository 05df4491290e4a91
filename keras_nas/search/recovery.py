"""What makes a killed search resumable: durable state writes and a reconcile step on reload.

keras-tuner writes a search's state in three places and in an order that a
kill can interrupt:

- `Oracle.create_trial` writes `trial_N/trial.json` and only then `oracle.json`.
  Killed between the two, trial N exists on disk (RUNNING) but not in the
  oracle's state: keras-tuner reloads it as a trial that runs for ever, counts
  it against `max_trials`, and proposes its values again.
- `Oracle.end_trial` saves `oracle.json` while the trial is still listed in
  `ongoing_trials` (it is removed from memory afterwards, and saved again by
  the tuner). Killed in between, `Oracle.reload` sends the finished trial back
  to the retry queue and the resumed search trains it again.
- keras-tuner writes each JSON file in place: a kill during a write leaves a
  truncated file that no resume can read.

`make_durable` routes the oracle's and the tuner's JSON writes through
`keras_nas.utils.atomic` (write aside, fsync, rename), and `reconcile` repairs the
first two windows when a search is reloaded. Both are called by `NASTuner`.
"""

from __future__ import annotations

import os
import weakref
from typing import Any

import keras_tuner
from keras_tuner.src.engine import oracle as oracle_module

from keras_nas.utils import atomic

TRIAL_FILE = "trial.json"

_durable: weakref.WeakSet[keras_tuner.Oracle] = weakref.WeakSet()  # the oracles NASTuner runs
_stock_writers: dict[str, Any] = {}


def _save(self: keras_tuner.Oracle) -> None:
    if self not in _durable:
        return _stock_writers["save"](self)
    atomic.write_json(self._get_oracle_fname(), self.get_state())


def _save_trial(self: keras_tuner.Oracle, trial: keras_tuner.engine.trial.Trial) -> None:
    if self not in _durable:
        return _stock_writers["_save_trial"](self, trial)
    atomic.write_json(os.path.join(self._get_trial_dir(trial.trial_id), TRIAL_FILE), trial.get_state())


def make_durable(oracle: keras_tuner.Oracle) -> keras_tuner.Oracle:
    """Makes `oracle` write `oracle.json` and every `trial.json` atomically; returns it.

    keras-tuner's `Oracle.save` and `Oracle._save_trial` (every oracle's
    writers, also when a subclass extends them and calls `super()`) write
    atomically for the oracles registered here and as before for any other.
    Nothing is stored on the oracle itself, so it copies and pickles as before.
    """
    if not _stock_writers:
        # Patched on the base class, not the instance: an oracle's own attributes stay plain data.
        _stock_writers.update(save=oracle_module.Oracle.save, _save_trial=oracle_module.Oracle._save_trial)
        oracle_module.Oracle.save = _save
        oracle_module.Oracle._save_trial = _save_trial
    _durable.add(oracle)
    return oracle


def save_tuner_state(tuner: keras_tuner.engine.base_tuner.BaseTuner) -> None:
    """Writes the tuner's own state file (not the oracle's) atomically."""
    atomic.write_json(tuner._get_tuner_fname(), tuner.get_state())


def save(tuner: keras_tuner.engine.base_tuner.BaseTuner) -> None:
    """`BaseTuner.save` with atomic writes: the oracle's state (unless on a distributed worker), then the tuner's."""
    if not tuner._is_worker():
        tuner.oracle.save()
    save_tuner_state(tuner)


def _finished(trial: Any) -> bool:
    if trial.status == "COMPLETED":
        return trial.score is not None
    return trial.status == "FAILED"


def reconcile(oracle: keras_tuner.Oracle) -> dict[str, list[str]]:
    """Makes a freshly reloaded oracle agree with the trial files on disk; returns what it changed.

    Call it after `Oracle.reload`, which has already moved every trial listed
    in `ongoing_trials` into the retry queue. Then:

    - a trial whose `trial.json` says it finished (COMPLETED with a score, or
      FAILED) is taken out of the retry queue and counted as ended: it is not
      trained again;
    - a trial whose `trial.json` was written but which `oracle.json` never
      recorded (not in `start_order`) and that never finished is dropped, and
      its `trial.json` removed: the oracle proposes that trial number afresh,
      and it does not count against `max_trials`;
    - any other unfinished trial the oracle knows is queued to run once more,
      under its own id.

    Returns `{"ended": [...], "dropped": [...], "requeued": [...]}` (trial ids).
    """
    changes: dict[str, list[str]] = {"ended": [], "dropped": [], "requeued": []}
    known = set(oracle.start_order)
    for trial_id in sorted(oracle.trials):
        trial = oracle.trials[trial_id]
        if _finished(trial):
            if trial_id in oracle._retry_queue:
                oracle._retry_queue = [t for t in oracle._retry_queue if t != trial_id]
                changes["ended"].append(trial_id)
            if trial_id not in known:
                oracle.start_order.append(trial_id)
                known.add(trial_id)
            if trial_id not in oracle.end_order:
                # Killed inside `end_trial` after trial.json, before oracle.json: finish its bookkeeping.
                oracle.end_order.append(trial_id)
                oracle._run_times[trial_id] = max(1, oracle._run_times[trial_id])
                oracle.update_space(trial.hyperparameters)
                oracle._record_values(trial)
                if trial_id not in changes["ended"]:
                    changes["ended"].append(trial_id)
        elif trial_id not in known:
            del oracle.trials[trial_id]
            oracle._retry_queue = [t for t in oracle._retry_queue if t != trial_id]
            path = os.path.join(oracle._project_dir, f"trial_{trial_id}", TRIAL_FILE)
            if os.path.exists(path):
                os.remove(path)
            changes["dropped"].append(trial_id)
        elif trial.status != "INVALID" and trial_id not in oracle._retry_queue:
            # INVALID trials are the oracle's to retry or not (`max_retries_per_trial`).
            oracle._retry_queue.append(trial_id)
            changes["requeued"].append(trial_id)
    return changes
