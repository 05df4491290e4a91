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
  (`keras_nas.search.project_check.check_readable`): `oracle.json`, the tuner's file, every
  `trial_*/trial.json` (keys and types), that the trial ids the oracle lists
  have their files, and that each finished trial's checkpoint matches its
  checksum (`keras_nas.search.checkpoints`). A damaged project is refused with a
  ValueError naming the file; nothing is changed on disk.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import warnings
from typing import Any

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


def _tuner_file() -> str:
    return os.environ.get("KERASTUNER_TUNER_ID", "tuner0") + ".json"


def _is_worker() -> bool:
    # A distributed worker reads no oracle.json: the chief serves the oracle.
    from keras_tuner.src.distribute import utils as dist_utils

    return dist_utils.has_chief_oracle() and not dist_utils.is_chief_oracle()
