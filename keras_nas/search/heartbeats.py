"""Heartbeats of a distributed search: what the chief and its workers agree on to tell a slow worker from a dead one.

A worker names itself in the gRPC metadata of every call (`TUNER_ID_KEY`) and
sends a heartbeat every `heartbeat_interval(worker_timeout)` seconds; the chief
keeps when it last heard from each worker (`Liveness`) and gives up on one
silent for `worker_timeout` seconds (`keras_nas.search.distributed`).

Nothing here imports gRPC, so both sides, and `NASTuner`, can use it in a
search that is not distributed.
"""

from __future__ import annotations

import math
import threading
import time

DEFAULT_WORKER_TIMEOUT = 120.0
TUNER_ID_KEY = "keras-nas-tuner-id"  # gRPC metadata keys must be lower case


def check_worker_timeout(worker_timeout: float) -> float:
    """Returns `worker_timeout` as a float, or raises a ValueError that says what to pass."""
    try:
        value = float(worker_timeout)
    except (TypeError, ValueError):
        value = float("nan")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(
            f"worker_timeout={worker_timeout!r}: expected a positive number of seconds after which the chief of a "
            f"distributed search hands a silent worker's trial to another worker; pass e.g. "
            f"worker_timeout={DEFAULT_WORKER_TIMEOUT:g}."
        )
    return value


def heartbeat_interval(worker_timeout: float) -> float:
    """Seconds between a worker's heartbeats: several per `worker_timeout`, so one late beat is not a death."""
    return min(max(worker_timeout / 6.0, 0.2), 10.0)


class Liveness:
    """When the chief last heard from each worker that sends heartbeats."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # the gRPC threads write, the chief's main thread reads
        self._heard: dict[str, float] = {}

    def heard(self, tuner_id: str) -> None:
        with self._lock:
            self._heard[tuner_id] = time.monotonic()

    def tracks(self, tuner_id: str) -> bool:
        with self._lock:
            return tuner_id in self._heard

    def silent(self, timeout: float) -> dict[str, float]:
        """The tracked workers silent for more than `timeout` seconds, with their silence."""
        now = time.monotonic()
        with self._lock:
            return {tid: now - last for tid, last in self._heard.items() if now - last > timeout}

    def forget(self, tuner_id: str) -> None:
        with self._lock:
            self._heard.pop(tuner_id, None)
