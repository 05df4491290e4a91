"""Pickling estimators: what a fitted `NASClassifier`/`NASRegressor` keeps across `pickle` and `joblib`.

`cross_val_score(n_jobs=2)`, model registries and caches pickle estimators.
Two things in one cannot be pickled as they are: a keras-tuner `Oracle` (its
`defaultdict`s have lambda factories, its display points back at it) and the
fitted `tuner_` (the whole search machinery, bound to a project directory).
The oracle *parameter* is kept through a plain-data surrogate; `tuner_` is
left out (it is None after unpickling; `leaderboard_` and the other fitted
attributes keep the search's results). The Keras models pickle as `.keras`
archives.
"""

from __future__ import annotations

import collections
import pickle
import warnings
from collections.abc import Callable
from typing import Any

import keras
import keras_tuner


class _OracleState:
    """A picklable stand-in for a keras-tuner Oracle: its class and attributes, with factories made plain."""

    def __init__(self, oracle: keras_tuner.Oracle) -> None:
        # Any, not type[Oracle]: mypy reads `type[Any].__new__` as `type.__new__` (keras-tuner has no stubs).
        self.cls: Any = type(oracle)
        self.defaults: dict[str, Any] = {}
        self.attributes: dict[str, Any] = {}
        for name, value in vars(oracle).items():
            if name == "_display":  # points back at the oracle; rebuilt on loading
                continue
            if isinstance(value, collections.defaultdict):
                self.defaults[name] = value.default_factory() if value.default_factory else None
                value = dict(value)
            self.attributes[name] = value

    def restore(self) -> keras_tuner.Oracle:
        oracle = self.cls.__new__(self.cls)
        oracle.__dict__.update(self.attributes)
        for name, default in self.defaults.items():
            oracle.__dict__[name] = collections.defaultdict(_returning(default), self.attributes[name])
        from keras_tuner.src.engine.oracle import Display  # the display keras-tuner's Oracle.__init__ makes

        oracle._display = Display(oracle=oracle)
        return oracle


def _returning(value: Any) -> Callable[[], Any]:
    """A default factory that returns `value`, for a restored `defaultdict`."""
    return lambda: value


class _ModelBytes:
    """A Keras model pickled by Keras, unpickled without Keras's warning about an unbuilt optimizer."""

    def __init__(self, model: keras.Model) -> None:
        self.payload = pickle.dumps(model)

    def restore(self) -> keras.Model:
        with warnings.catch_warnings():
            # The wrapped model's optimizer was never built (it is never trained), so its state is skipped.
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            return pickle.loads(self.payload)


def estimator_state(state: dict[str, Any]) -> dict[str, Any]:
    """The picklable form of an estimator's `__dict__`."""
    state = dict(state)
    if "tuner_" in state:
        state["tuner_"] = None
    if isinstance(state.get("oracle"), keras_tuner.Oracle):
        state["oracle"] = _OracleState(state["oracle"])
    for name, value in state.items():
        if isinstance(value, keras.Model):
            state[name] = _ModelBytes(value)
    return state


def restored_state(state: dict[str, Any]) -> dict[str, Any]:
    """The estimator's `__dict__` from its pickled form."""
    return {
        name: value.restore() if isinstance(value, (_OracleState, _ModelBytes)) else value
        for name, value in state.items()
    }
