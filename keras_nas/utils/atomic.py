"""Writes that a killed process cannot leave half done: write aside, fsync, rename.

A reader of a path written through these functions sees either the old
content or the new, never a truncated file. Every file keras_nas itself writes
into a project directory or an export path goes through here.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any


def _fsync_directory(directory: str) -> None:
    # The rename is durable only once the directory entry is on disk.
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def write_bytes(path: str | os.PathLike, content: bytes) -> None:
    """Replaces the file at `path` with `content` atomically."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=".tmp_", suffix="_" + os.path.basename(path), dir=directory)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        raise
    _fsync_directory(directory)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Replaces the file at `path` with `text` (UTF-8) atomically."""
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, obj: Any, **dump_kwargs: Any) -> None:
    """Replaces the file at `path` with `obj` as JSON atomically (`dump_kwargs` go to `json.dumps`)."""
    write_text(path, json.dumps(obj, **dump_kwargs))


@contextlib.contextmanager
def replacing(path: str | os.PathLike) -> Iterator[str]:
    """Yields a fresh path beside `path` to write a file or directory into; on success it replaces `path`.

    On an error (or a kill) the half-written sibling is left under a hidden
    `.tmp_` name, never at `path`. An existing `path` is only replaced once the
    new one is complete.

    Example:

    ```python
    with replacing("model_dir") as aside:
        model.export(aside)
    ```
    """
    path = os.path.abspath(os.fspath(path))
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".tmp_" + os.path.basename(path) + "_", dir=directory)
    aside = os.path.join(staging, os.path.basename(path))
    try:
        yield aside
        if os.path.isdir(path) and not os.path.islink(path):
            old = os.path.join(staging, ".old")
            os.replace(path, old)  # both renames are within one directory tree: each is atomic
            os.replace(aside, path)
        else:
            os.replace(aside, path)
        _fsync_directory(directory)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
