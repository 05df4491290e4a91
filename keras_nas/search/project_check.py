"""Checking a project's files before keras-tuner reloads them (see `keras_nas.search.project`).

`check_readable` reads `oracle.json`, the tuner's file and every
`trial_*/trial.json` against the schemas below (keys and types), checks that
the trial ids the oracle lists have their files and that each finished
trial's checkpoint matches its checksum. A damaged project is refused with a
ValueError naming the file; nothing is changed on disk.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from typing import Any

from keras_nas.search import checkpoints
from keras_nas.search import records as records_module
from keras_nas.search.project import (
    _STATUSES,
    BUILD_CONFIG,
    CHECKPOINT,
    FINGERPRINT,
    ORACLE_FILE,
    TRIAL_FILE,
    _corrupt,
    _Damaged,
    _entries,
    _is_worker,
    _load,
    _short,
    _tuner_file,
    check_project_name,
)


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _optional(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda value: value is None or check(value)


def _list_of(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, list) and all(check(v) for v in value)


def _dict_of(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, dict) and all(isinstance(k, str) and check(v) for k, v in value.items())


def _str(value: Any) -> bool:
    return isinstance(value, str)


def _hyperparameters(value: Any) -> bool:
    if not (isinstance(value, dict) and isinstance(value.get("space"), list) and isinstance(value.get("values"), dict)):
        return False
    import keras_tuner

    try:
        keras_tuner.HyperParameters.from_config(value)
    except Exception:  # any malformed entry: keras-tuner's own parser decides
        return False
    return True


def _metrics(value: Any) -> bool:
    def history(h: Any) -> bool:
        return (
            isinstance(h, dict)
            and h.get("direction") in ("min", "max")
            and _list_of(lambda o: isinstance(o, dict) and _list_of(_number)(o.get("value")) and _int(o.get("step")))(
                h.get("observations")
            )
        )

    return isinstance(value, dict) and _dict_of(history)(value.get("metrics"))


def _display(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and _optional(_str)(value.get("search_start"))
        and _dict_of(_str)(value.get("trial_start"))
        and _dict_of(_int)(value.get("trial_number"))
    )


_TRIAL_SCHEMA: dict[str, tuple[Callable[[Any], bool], str]] = {
    "trial_id": (_str, "a string"),
    "hyperparameters": (_hyperparameters, "keras-tuner hyperparameters ({'space': [...], 'values': {...}})"),
    "metrics": (_metrics, "keras-tuner metrics ({'metrics': {name: {'direction', 'observations'}}})"),
    "score": (_optional(_number), "a number or null"),
    "best_step": (_optional(_int), "an integer or null"),
    "status": (lambda v: v in _STATUSES, f"one of {list(_STATUSES)}"),
    "message": (_optional(_str), "a string or null"),
}

_ORACLE_SCHEMA: dict[str, tuple[Callable[[Any], bool], str]] = {
    "ongoing_trials": (_dict_of(_str), "an object of tuner id -> trial id"),
    "hyperparameters": (_hyperparameters, "keras-tuner hyperparameters ({'space': [...], 'values': {...}})"),
    "start_order": (_list_of(_str), "a list of trial ids"),
    "end_order": (_list_of(_str), "a list of trial ids"),
    "run_times": (_dict_of(_int), "an object of trial id -> integer"),
    "retry_queue": (_list_of(_str), "a list of trial ids"),
    "seed": (_optional(_int), "an integer or null"),
    "seed_state": (_optional(_int), "an integer or null"),
    "tried_so_far": (_list_of(_str), "a list of strings"),
    "id_to_hash": (_dict_of(_optional(_str)), "an object of trial id -> string"),
    "display": (_display, "an object with search_start, trial_start, trial_number"),
}

# What keras-tuner's subclasses of Oracle add to its state (their `set_state` reads each key).
_ORACLE_EXTRAS: dict[str, dict[str, tuple[Callable[[Any], bool], str]]] = {
    "bayesian": {
        "num_initial_points": (_optional(_int), "an integer or null"),
        "alpha": (_number, "a number"),
        "beta": (_number, "a number"),
    },
    "hyperband": {
        "hyperband_iterations": (_int, "an integer"),
        "max_epochs": (_int, "an integer"),
        "min_epochs": (_int, "an integer"),
        "factor": (_int, "an integer"),
        "brackets": (lambda v: isinstance(v, list), "a list"),
        "current_bracket": (_int, "an integer"),
        "current_iteration": (_int, "an integer"),
    },
}
# A user's oracle instance is fingerprinted by its class name.
_ORACLE_EXTRAS["BayesianOptimizationOracle"] = _ORACLE_EXTRAS["bayesian"]
_ORACLE_EXTRAS["HyperbandOracle"] = _ORACLE_EXTRAS["hyperband"]

_TUNER_SCHEMA: dict[str, tuple[Callable[[Any], bool], str]] = {
    "records": (_dict_of(lambda r: isinstance(r, dict)), "an object of trial id -> record object"),
    "oracle_seconds": (lambda v: _number(v) and math.isfinite(v) and v >= 0, "a non-negative number"),
}


def _check_schema(state: Any, schema: dict[str, tuple[Callable[[Any], bool], str]], relative: str) -> None:
    if not isinstance(state, dict):
        raise _Damaged(relative, f"holds {type(state).__name__} {_short(state)}; expected a JSON object")
    missing = [key for key in schema if key not in state]
    if missing:
        raise _Damaged(relative, f"lacks the keys {missing}")
    for key, (check, expected) in schema.items():
        if not check(state[key]):
            raise _Damaged(relative, f"has {key!r} = {_short(state[key])}; expected {expected}")


def _check_records(records: dict[str, Any], relative: str) -> None:
    for trial_id, record in records.items():
        unknown = sorted(set(record) - records_module.FIELDS)
        if unknown:
            raise _Damaged(relative, f"has a record of trial {trial_id!r} with unknown fields {unknown}")
        text = record.get("architecture_json")
        if text is None:
            continue
        try:
            ok = isinstance(text, str) and isinstance(json.loads(text), dict)
        except json.JSONDecodeError:
            ok = False
        if not ok:
            raise _Damaged(
                relative, f"has a record of trial {trial_id!r} whose architecture_json is not an architecture"
            )


def _checkpoint_remedy(path: str) -> str:
    return (
        "Resuming is refused so that a result is never built on unverified weights: restore the file; or, if you "
        f"trust it, record its checksum with keras_nas.search.checkpoints.record({path!r}); or remove it and its "
        f"{CHECKPOINT}{checkpoints.SUFFIX} to go on without these weights (the trial keeps its score; if it is "
        "the best one, refit with refit='scratch'); or pass overwrite=True to start the search afresh."
    )


def _check_trials(project: str) -> dict[str, dict[str, Any]]:
    """Every `trial_*/trial.json`, checked, by trial id."""
    trials: dict[str, dict[str, Any]] = {}
    for name in _entries(project):
        folder = os.path.join(project, name)
        if not name.startswith("trial_") or not os.path.isdir(folder):
            continue
        relative = f"{name}/{TRIAL_FILE}"
        path = os.path.join(folder, TRIAL_FILE)
        if not os.path.exists(path):
            contents = _entries(folder)
            if contents:  # an empty folder is a trial killed before its first write: keras-tuner writes it again
                raise _Damaged(relative, f"is missing, though {name}/ holds {contents[:4]}")
            continue
        state = _load(path, relative)
        _check_schema(state, _TRIAL_SCHEMA, relative)
        if state["trial_id"] != name[len("trial_") :]:
            raise _Damaged(relative, f"names trial {state['trial_id']!r}, but it lies in {name}/")
        build_config = os.path.join(folder, BUILD_CONFIG)
        # Written in place by keras-tuner during a trial: only a finished trial's must be whole.
        completed = state["status"] == "COMPLETED" and os.path.exists(build_config)
        if completed and not isinstance(_load(build_config, f"{name}/{BUILD_CONFIG}"), dict):
            raise _Damaged(f"{name}/{BUILD_CONFIG}", "is not a JSON object")
        trials[state["trial_id"]] = state
    return trials


def _check_checkpoints(project: str, trials: dict[str, dict[str, Any]]) -> None:
    for trial_id, state in sorted(trials.items()):
        if state["status"] != "COMPLETED":
            continue  # an unfinished trial is trained again, a failed one never used
        relative = f"trial_{trial_id}/{CHECKPOINT}"
        path = os.path.join(project, relative)
        if not os.path.exists(path) and not os.path.exists(checkpoints.checksum_path(path)):
            continue  # pruned by a morphism search (`keep_checkpoints`), with its checksum
        problem = checkpoints.problem(path)
        if problem is not None:
            raise _Damaged(relative, problem, _checkpoint_remedy(path))


def _check_oracle(project: str, trials: dict[str, dict[str, Any]], oracle_name: str | None) -> None:
    path = os.path.join(project, ORACLE_FILE)
    state = _load(path, ORACLE_FILE)
    _check_schema(state, {**_ORACLE_SCHEMA, **_ORACLE_EXTRAS.get(oracle_name or "", {})}, ORACLE_FILE)
    listed = [*state["start_order"], *state["end_order"], *state["ongoing_trials"].values(), *state["retry_queue"]]
    for trial_id in dict.fromkeys(listed):
        if trial_id not in trials:
            # keras-tuner numbers trials by count: a lost file makes the next trial reuse a finished one's id.
            raise _Damaged(
                f"trial_{trial_id}/{TRIAL_FILE}",
                f"is missing, though {ORACLE_FILE} lists trial {trial_id!r}",
            )


def check_readable(directory: str, project_name: str) -> None:
    """Raises a ValueError naming the file if a project's files are damaged; run it before keras-tuner reloads.

    Checks keys and types of `oracle.json` (with the keys of the oracle named in
    the fingerprint), of the tuner's file and of every `trial_*/trial.json`;
    that every trial `oracle.json` lists has its `trial.json`; that a search
    with finished trials has its tuner's file and `oracle.json`; and that the
    checkpoint of every completed trial matches its checksum. Changes nothing.
    """
    project = os.path.join(directory, check_project_name(project_name))
    if not os.path.isdir(project):
        return
    try:
        fingerprint_path = os.path.join(project, FINGERPRINT)
        oracle_name = None
        if os.path.exists(fingerprint_path):
            fingerprint = _load(fingerprint_path, FINGERPRINT)
            oracle_name = fingerprint.get("oracle") if isinstance(fingerprint, dict) else None
        tuner_file = _tuner_file()
        for name in _entries(project):  # other tuners' files (distributed workers): readable at least
            if (
                name.endswith(".json")
                and name not in (tuner_file, FINGERPRINT)
                and os.path.isfile(os.path.join(project, name))
            ):
                _load(os.path.join(project, name), name)
        trials = _check_trials(project)
        tuner_path = os.path.join(project, tuner_file)
        finished = sorted(t for t, s in trials.items() if s["status"] in ("COMPLETED", "FAILED"))
        if os.path.exists(tuner_path):
            state = _load(tuner_path, tuner_file)
            _check_schema(state, _TUNER_SCHEMA, tuner_file)
            _check_records(state["records"], tuner_file)
        elif finished:
            raise _Damaged(
                tuner_file,
                f"is missing, though trials {finished[:5]} finished: keras-tuner would start afresh and overwrite them",
            )
        if not _is_worker():
            if os.path.exists(os.path.join(project, ORACLE_FILE)):
                _check_oracle(project, trials, oracle_name)
            elif os.path.exists(tuner_path) or finished:
                raise _Damaged(ORACLE_FILE, f"is missing, though {tuner_file} says the search was started")
        _check_checkpoints(project, trials)
    except _Damaged as damaged:
        raise _corrupt(project, damaged) from None
