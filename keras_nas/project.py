"""The project directory of a search: where trials live and how a resumed search is recognised.

keras-tuner resumes any search whose directory it finds. keras_nas writes a
small `keras_nas_search.json` describing the search (task, input shape,
outputs, space, oracle, objective) and refuses to resume a directory written
by a different search, unless `overwrite=True` clears it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from typing import Any

FINGERPRINT = "keras_nas_search.json"


def prepare(directory: str | None, project_name: str, fingerprint: dict[str, Any], overwrite: bool) -> str:
    """Returns the directory to hand to keras-tuner after checking or writing the fingerprint."""
    fingerprint = json.loads(json.dumps(fingerprint))  # compare as stored: tuples become lists
    if directory is None:
        directory = tempfile.mkdtemp(prefix="keras_nas_")
    project = os.path.join(directory, project_name)
    path = os.path.join(project, FINGERPRINT)
    if overwrite and os.path.isdir(project):
        shutil.rmtree(project)
    if os.path.exists(path):
        try:
            with open(path) as handle:
                found = json.load(handle)
        except (OSError, json.JSONDecodeError) as error:
            raise ValueError(
                f"The project directory {project!r} is corrupt: {FINGERPRINT} cannot be read ({error}). "
                "Pass overwrite=True to start afresh or choose another directory."
            ) from None
        if found != fingerprint:
            changed = sorted(k for k in set(found) | set(fingerprint) if found.get(k) != fingerprint.get(k))
            raise ValueError(
                f"The project directory {project!r} holds a different search (differs in {changed}: "
                f"{ {k: found.get(k) for k in changed} } there, { {k: fingerprint.get(k) for k in changed} } now). "
                "Pass overwrite=True to replace it or choose another directory."
            )
    elif os.path.isdir(project) and os.listdir(project):
        raise ValueError(
            f"The project directory {project!r} is not empty and was not written by keras_nas. "
            "Pass overwrite=True to replace it or choose another directory."
        )
    os.makedirs(project, exist_ok=True)
    with open(path, "w") as handle:
        json.dump(fingerprint, handle, indent=1, sort_keys=True)
    return directory


def check_readable(directory: str, project_name: str) -> None:
    """Raises a clear ValueError if keras-tuner's own files in a project are corrupt."""
    project = os.path.join(directory, project_name)
    if not os.path.isdir(project):
        return
    for root, _, files in os.walk(project):
        for name in files:
            if name.endswith(".json"):
                path = os.path.join(root, name)
                try:
                    with open(path) as handle:
                        json.load(handle)
                except (OSError, json.JSONDecodeError) as error:
                    raise ValueError(
                        f"The project directory {project!r} is corrupt: {path} cannot be read ({error}). "
                        "Pass overwrite=True to start afresh, or restore the file."
                    ) from None
