"""Writing a trained Keras model to disk: TensorFlow SavedModel or the `.keras` format.

An export is written beside its path and renamed into place once complete
(`keras_nas.utils.atomic.replacing`): a process killed while exporting leaves the
path as it was (absent, or the previous export), never a half-written model.
A SavedModel written by keras_nas carries a small marker file,
`keras_nas_export.json`; an existing directory is replaced only if it is empty
or carries that marker, so exporting never deletes a folder the user made.
"""

from __future__ import annotations

import os
import shutil

import keras

from keras_nas.utils import atomic

FORMATS = ("saved_model", "keras")
MARKER = "keras_nas_export.json"


def _check_replaceable(path: str) -> None:
    """Raises a ValueError if `path` holds something that an export must not delete."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(
            f"Cannot export a SavedModel to {path!r}: a file is there, and a SavedModel is a directory. "
            "Remove the file or choose another path."
        )
    if not os.path.isdir(path) or not os.listdir(path):
        return
    if os.path.isfile(os.path.join(path, MARKER)):
        return
    raise ValueError(
        f"Cannot export to {path!r}: the directory is not empty and is not an export written by keras_nas "
        f"(it has no {MARKER}); exporting would delete its contents. Choose a new path, or remove the "
        "directory yourself if it may go."
    )


def _remove_stale_staging(path: str) -> None:
    """Deletes what a killed export left beside `path` (`atomic.replacing`'s hidden staging folders)."""
    directory, name = os.path.split(os.path.abspath(path))
    prefix = ".tmp_" + name + "_"
    try:
        entries = os.listdir(directory)
    except OSError:
        return
    for entry in entries:
        staging = os.path.join(directory, entry)
        if not entry.startswith(prefix) or not os.path.isdir(staging) or os.path.islink(staging):
            continue
        # Only a folder holding nothing but a half-written export (and maybe the export it replaced).
        if set(os.listdir(staging)) <= {name, ".old"}:
            old = os.path.join(staging, ".old")
            if os.path.exists(old) and not os.path.lexists(path):
                os.replace(old, path)  # killed between the two renames: the previous export goes back first
            shutil.rmtree(staging, ignore_errors=True)


def export_model(model: keras.Model, path: str | os.PathLike, format: str = "saved_model") -> str:
    """Writes `model` and returns the path written.

    `"saved_model"` writes a TensorFlow SavedModel directory whose `serve`
    signature runs the model (load it with `tf.saved_model.load(path)`, keep
    the loaded object alive, call `.serve(x)`). `"keras"` writes a `.keras`
    file (the suffix is added if missing), loadable with
    `keras.saving.load_model`. Either is written aside and renamed into place.

    Raises:
        ValueError: for an unknown format, or a path holding a directory that
            is neither empty nor a previous keras_nas export.
    """
    if format not in FORMATS:
        raise ValueError(f"Unknown export format {format!r}; choose one of {list(FORMATS)}.")
    path = os.fspath(path)
    if format == "keras" and not path.endswith(".keras"):
        path += ".keras"
    if format == "keras" and os.path.isdir(path):
        raise ValueError(
            f"Cannot export a .keras file to {path!r}: a directory is there. Remove it or choose another path."
        )
    _remove_stale_staging(path)
    if format == "saved_model":
        _check_replaceable(path)
    with atomic.replacing(path) as aside:
        if format == "saved_model":
            model.export(aside, format="tf_saved_model", verbose=False)
            atomic.write_json(os.path.join(aside, MARKER), {"format": "saved_model", "writer": "keras_nas"})
        else:
            # keras checks the suffix of the path it writes: keep it on the aside name.
            model.save(aside)
    return path
