"""The project directory of a search: where trials live, how a resumed search is recognised and checked.

keras-tuner resumes any search whose directory it finds, and trusts every file
in it: a damaged file gives a raw `KeyError` deep in its reload, or worse, a
resumed search that silently reuses a trial id and overwrites a finished
trial. keras_nas therefore

- writes a small `keras_nas_search.json` describing the search (task, input
  shape, outputs, space, oracle, objective, data) and refuses to resume a
  directory written by a different search;
- lets `overwrite=True` clear only a project that keras_nas created: a
  directory directly inside `directory` (so `project_name` must be a plain
  folder name) holding that file; anything else is refused, nothing deleted.
  Even then only the search's own entries go (`oracle.json`, the tuners'
  files, `trial_*` folders); any other file is kept, with a warning;
- checks every keras-tuner file of a project before keras-tuner reloads it
  (`check_readable`): `oracle.json`, the tuner's file, every
  `trial_*/trial.json` (keys and types), that the trial ids the oracle lists
  have their files, and that each finished trial's checkpoint matches its
  checksum (`keras_nas.search.checkpoints`). A damaged project is refused with a
  ValueError naming the file; nothing is changed on disk.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Callable
from typing import Any

from keras_nas.search import checkpoints
from keras_nas.search import records as records_module
from keras_nas.utils import atomic

FINGERPRINT = "keras_nas_search.json"
ORACLE_FILE = "oracle.json"
TRIAL_FILE = "trial.json"
CHECKPOINT = "checkpoint.weights.h5"
BUILD_CONFIG = "build_config.json"
_TEMPORARY = ".tmp_"  # prefix of the siblings `keras_nas.utils.atomic` writes before a rename
_STATUSES = ("RUNNING", "IDLE", "INVALID", "STOPPED", "COMPLETED", "FAILED")
_FINGERPRINT_KEYS = {
    "task": (str, "a string"),
    "input_shape": (list, "a list"),
    "search_space": (dict, "an object"),
    "oracle": (str, "a string"),
    "objective": (str, "a string"),
}

_REFUSED = (
    "Resuming is refused so that no finished trial is lost or overwritten: restore the file (e.g. from a backup), "
    "or pass overwrite=True to start the search afresh (this deletes the project's trials)."
)


class _Damaged(Exception):
    """One damaged file of a project: its path relative to the project and what is wrong with it."""

    def __init__(self, relative: str, problem: str, remedy: str = _REFUSED) -> None:
        super().__init__(relative, problem)
        self.relative, self.problem, self.remedy = relative, problem, remedy


def _corrupt(project: str, damaged: _Damaged) -> ValueError:
    return ValueError(
        f"The project directory {project!r} is corrupt: {damaged.relative} {damaged.problem}. {damaged.remedy}"
    )


# -- project name and directory ------------------------------------------
def check_project_name(project_name: Any) -> str:
    """Returns `project_name` if it is a plain folder name; else raises a ValueError saying what is expected."""
    separators = {"/", "\\", os.sep} | ({os.altsep} if os.altsep else set())
    plain = (
        isinstance(project_name, str)
        and project_name not in ("", ".", "..")
        and not any(s in project_name for s in separators)
        and "\0" not in project_name
    )
    if not plain:
        raise ValueError(
            f"project_name must be a plain folder name, created inside `directory` (not empty, not '.' or '..', no "
            f"path separators); received project_name={project_name!r}. Put the path "
            "in `directory` and a name such as 'keras_nas' in project_name."
        )
    return project_name


def _entries(project: str) -> list[str]:
    """The project's entries, without the hidden siblings a killed atomic write leaves behind."""
    return sorted(name for name in os.listdir(project) if not name.startswith(_TEMPORARY))


def _holds_search(names: list[str]) -> bool:
    return ORACLE_FILE in names or any(
        n.startswith("trial_") or (n.startswith("tuner") and n.endswith(".json")) for n in names
    )


def _created_by_keras_nas(directory: str, project: str) -> bool:
    """Whether `overwrite=True` may clear `project`: a real folder directly inside `directory` with our fingerprint.

    The fingerprint's name alone could be matched by accident; the place (a
    child of `directory`, reached without a link) makes a coincidence that
    deletes someone's folder implausible.
    """
    if os.path.islink(project) or not os.path.isdir(project):
        return False
    fingerprint = os.path.join(project, FINGERPRINT)
    if os.path.islink(fingerprint) or not os.path.isfile(fingerprint):
        return False
    return os.path.dirname(os.path.realpath(project)) == os.path.realpath(directory)


def _written_by_a_search(project: str, name: str) -> bool:
    """Whether a project entry is one keras-tuner or keras_nas writes (the only ones overwrite=True deletes)."""
    path = os.path.join(project, name)
    if name.startswith(_TEMPORARY) or name == ORACLE_FILE:
        return True
    if os.path.isdir(path) and not os.path.islink(path):
        return re.fullmatch(r"trial_\w+", name) is not None
    return name == _tuner_file() or re.fullmatch(r"(tuner\d*|chief)\.json", name) is not None


def _clear(project: str) -> None:
    """Deletes a keras_nas project's search; any other file in it is kept, with a warning."""
    kept = []
    # The fingerprint stays (it is rewritten next): a kill halfway leaves a project overwrite=True still clears.
    for name in sorted(os.listdir(project)):
        if name == FINGERPRINT:
            continue
        if not _written_by_a_search(project, name):
            kept.append(name)
            continue
        path = os.path.join(project, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.remove(path)  # a link is removed, never what it points to
    if kept:
        warnings.warn(
            f"overwrite=True cleared the search in {project!r} but kept {kept}: keras_nas did not write them.",
            stacklevel=4,
        )


def _read_fingerprint(project: str) -> dict[str, Any]:
    path = os.path.join(project, FINGERPRINT)
    try:
        found = _load(path, FINGERPRINT)
    except _Damaged as damaged:
        raise _corrupt(project, damaged) from None
    if not isinstance(found, dict):
        problem = f"holds {type(found).__name__} {_short(found)}; expected an object"
        raise _corrupt(project, _Damaged(FINGERPRINT, problem))
    for key, (kind, expected) in _FINGERPRINT_KEYS.items():
        if not isinstance(found.get(key), kind):
            problem = "has no " + repr(key) if key not in found else f"has {key!r} = {_short(found[key])}"
            raise _corrupt(project, _Damaged(FINGERPRINT, f"{problem}; expected {expected}"))
    return found


def prepare(
    directory: str | os.PathLike | None, project_name: str, fingerprint: dict[str, Any], overwrite: bool
) -> str:
    """Returns the directory to hand to keras-tuner after checking, clearing (`overwrite`) or writing the project.

    Raises:
        ValueError: `project_name` is not a plain folder name; the project holds
            another search, a damaged fingerprint, or files keras_nas did not
            write (with `overwrite=True` too: only a keras_nas project is cleared).
    """
    check_project_name(project_name)
    fingerprint = json.loads(json.dumps(fingerprint))  # compare as stored: tuples become lists
    directory = tempfile.mkdtemp(prefix="keras_nas_") if directory is None else os.fspath(directory)
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise ValueError(f"directory={directory!r} is a file, not a folder; pass a folder to hold the search.")
    project = os.path.join(directory, project_name)
    path = os.path.join(project, FINGERPRINT)
    if os.path.lexists(project) and not os.path.isdir(project):
        raise ValueError(
            f"The project directory {project!r} is a file, not a folder; nothing was changed. Choose another "
            "project_name or directory."
        )
    names = _entries(project) if os.path.isdir(project) else []
    if overwrite and names:
        if not _created_by_keras_nas(directory, project):
            raise ValueError(
                f"overwrite=True clears only a project directory that keras_nas created (a folder directly inside "
                f"`directory` holding {FINGERPRINT}); {project!r} is not one (it holds {names[:5]}), so nothing was "
                "deleted. Choose another project_name or directory, or delete it yourself."
            )
        _clear(project)
        names = []
    if FINGERPRINT in names:
        found = _read_fingerprint(project)
        if found != fingerprint:
            changed = sorted(k for k in set(found) | set(fingerprint) if found.get(k) != fingerprint.get(k))
            raise ValueError(
                f"The project directory {project!r} holds a different search (differs in {changed}: "
                f"{ {k: found.get(k) for k in changed} } there, { {k: fingerprint.get(k) for k in changed} } now). "
                "Pass overwrite=True to replace it or choose another directory."
            )
    elif names:
        hint = (
            f"It holds a keras-tuner search ({names[:5]}) but no {FINGERPRINT}: the file was deleted, or another "
            "program made the search. Restore the file, or choose another directory"
            if _holds_search(names)
            else f"It holds {names[:5]}. Choose another directory"
        )
        raise ValueError(
            f"The project directory {project!r} is not empty and was not written by keras_nas. {hint}; "
            "overwrite=True does not clear it (keras_nas deletes only what it created)."
        )
    os.makedirs(project, exist_ok=True)
    atomic.write_json(path, fingerprint, indent=1, sort_keys=True)
    return directory


# -- checking keras-tuner's files ----------------------------------------
def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _load(path: str, relative: str) -> Any:
    """The JSON in `path`, or `_Damaged` saying why it cannot be read."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as error:
        raise _Damaged(relative, f"cannot be read ({error.strerror or error})") from None
    if not raw.strip():
        raise _Damaged(relative, "is empty")
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise _Damaged(relative, f"cannot be read: it is not valid JSON ({error})") from None


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


def _tuner_file() -> str:
    return os.environ.get("KERASTUNER_TUNER_ID", "tuner0") + ".json"


def _is_worker() -> bool:
    # A distributed worker reads no oracle.json: the chief serves the oracle.
    from keras_tuner.src.distribute import utils as dist_utils

    return dist_utils.has_chief_oracle() and not dist_utils.is_chief_oracle()


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
