"""Checksums of the weight checkpoints a search writes, verified before any checkpoint is used.

HDF5 has no checksum of its own: random bytes written into a `.weights.h5`
file still load, and the model then predicts at chance while the search's
score says otherwise. So every checkpoint keras_nas writes gets a sidecar
`<checkpoint>.sha256` holding the sha256 of its bytes, in `sha256sum` format
(`sha256sum -c checkpoint.weights.h5.sha256` checks it by hand), and every
use of a checkpoint checks it first.

Order of the writes: the checkpoint is written aside and renamed into place,
then its checksum is written (atomically). A kill between the two leaves a
checksum that is missing or describes the previous checkpoint; either way
the checkpoint does not verify, and is treated as not written: the resumed
search refuses to use it (or, for a parent whose weights a child would
inherit, the child trains from scratch with a warning). Content, not
modification time, decides: copying a project with `cp -r` keeps it valid.
"""

from __future__ import annotations

import hashlib
import os
import re
from typing import Any

from keras_nas.utils import atomic

SUFFIX = ".sha256"
_DIGEST = re.compile(r"^([0-9a-f]{64})(?:\s|$)")
_CHUNK = 1 << 20


class CheckpointError(ValueError):
    """A checkpoint that is missing, has no checksum, or does not match its checksum."""

    def __init__(self, path: str, problem: str, remedy: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"The checkpoint {path} {problem}. {remedy}")


def checksum_path(path: str | os.PathLike) -> str:
    """Where the checksum of the checkpoint at `path` is stored."""
    return os.fspath(path) + SUFFIX


def digest(path: str | os.PathLike) -> str:
    """The sha256 of the file's bytes, in hex."""
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            sha.update(chunk)
    return sha.hexdigest()


def record(path: str | os.PathLike) -> str:
    """Writes the checksum of the checkpoint at `path` beside it; returns the digest.

    Also the way to vouch by hand for a checkpoint written by an older keras_nas
    (which wrote none): `keras_nas.search.checkpoints.record("…/trial_3/checkpoint.weights.h5")`.
    """
    path = os.fspath(path)
    value = digest(path)
    atomic.write_text(checksum_path(path), f"{value}  {os.path.basename(path)}\n")
    return value


def problem(path: str | os.PathLike) -> str | None:
    """None if the checkpoint at `path` matches its recorded checksum, else what is wrong, as a clause."""
    path = os.fspath(path)
    sidecar = checksum_path(path)
    if not os.path.isfile(path):
        return "is missing"
    if not os.path.isfile(sidecar):
        return (
            f"has no checksum file ({os.path.basename(sidecar)}): the search was killed while saving it, "
            "or it was written by a keras_nas that recorded none"
        )
    try:
        with open(sidecar, encoding="utf-8") as handle:
            match = _DIGEST.match(handle.read(200).strip().lower())
    except (OSError, UnicodeDecodeError) as error:
        return f"has a checksum file {os.path.basename(sidecar)} that cannot be read ({error})"
    if match is None:
        return f"has a checksum file {os.path.basename(sidecar)} that holds no sha256 digest"
    try:
        actual = digest(path)
    except OSError as error:
        return f"cannot be read ({error})"
    if actual != match.group(1):
        return (
            f"does not match its checksum in {os.path.basename(sidecar)} (sha256 {actual[:12]}… on disk, "
            f"{match.group(1)[:12]}… recorded): it was changed or damaged after keras_nas wrote it, "
            "or the search was killed between writing it and its checksum"
        )
    return None


def verify(path: str | os.PathLike, remedy: str) -> None:
    """Raises `CheckpointError` (saying `remedy`) unless the checkpoint at `path` matches its checksum."""
    found = problem(path)
    if found is not None:
        raise CheckpointError(os.fspath(path), found, remedy)


def remove(path: str | os.PathLike) -> None:
    """Deletes a checkpoint and then its checksum (a kill between leaves only a harmless checksum)."""
    path = os.fspath(path)
    for name in (path, checksum_path(path)):
        if os.path.exists(name):
            os.remove(name)


def _fsync(path: str) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def sign_saves(callbacks: list[Any]) -> None:
    """Makes keras-tuner's `SaveBestEpoch` callbacks in `callbacks` write atomically and record a checksum.

    keras-tuner writes a trial's best epoch through `SaveBestEpoch._save_model`
    straight to the checkpoint path; the wrapped save writes a hidden sibling,
    renames it into place, then records the checksum. The same callback serves
    every execution of a trial: it is wrapped once.
    """
    from keras_tuner.src.engine.tuner_utils import SaveBestEpoch

    for callback in callbacks:
        if isinstance(callback, SaveBestEpoch) and not getattr(callback, "_keras_nas_signed", False):
            callback._save_model = _signed_save(callback, callback._save_model)
            callback._keras_nas_signed = True


def _signed_save(callback: Any, save: Any):
    def signed() -> None:
        final = os.fspath(callback.filepath)
        # Keras picks the format from the name: the sibling must also end in `.weights.h5`.
        aside = os.path.join(os.path.dirname(final), ".tmp_" + os.path.basename(final))
        if not final.endswith(".weights.h5"):
            save()
            if os.path.isfile(final):
                record(final)
            return
        callback.filepath = aside
        try:
            save()
        finally:
            callback.filepath = final
        if not os.path.isfile(aside):
            return  # a non-chief replica of a tf.distribute strategy writes nothing here
        _fsync(aside)
        os.replace(aside, final)
        record(final)

    return signed
