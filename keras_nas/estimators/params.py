"""Checking a `BaseNASEstimator`'s parameters: each bad value is refused naming it, what it got and what to pass."""

from __future__ import annotations

import math
from typing import Any

import keras
import keras_tuner
import numpy as np

from keras_nas import spaces
from keras_nas.architecture import Head
from keras_nas.search import oracles, trial_process

REFITS = ("warm", "scratch", True, False)


def check(est: Any) -> None:
    """Checks every parameter of a `BaseNASEstimator` before `fit` reads any data."""
    _check_sizes(est)
    _check_choices(est)
    _check_callbacks(est.callbacks)
    check_objective(est)
    if est.strategy is not None:
        _check_strategy(est)


def _check_strategy(est: Any) -> None:
    from keras_nas.oneshot import STRATEGIES, OneShotStrategy  # here: a trial search never loads the one-shot code

    strategy = est.strategy
    if isinstance(strategy, str):
        if strategy not in STRATEGIES:
            raise ValueError(
                f"Unknown strategy {strategy!r}; choose None (trial search), one of {sorted(STRATEGIES)} "
                "or pass a keras_nas.oneshot.OneShotStrategy."
            )
    elif not isinstance(strategy, OneShotStrategy):
        raise ValueError(
            f"strategy must be None, a strategy name or a keras_nas.oneshot.OneShotStrategy; received {strategy!r}."
        )
    if est.search_space != "auto":
        raise ValueError(
            f"search_space={est.search_space!r} applies to the trial search only; a one-shot strategy "
            "searches its own supernet (leave search_space='auto')."
        )


def _positive_int(name: str, value: Any, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive integer; received {name}={value!r}.")


def _check_sizes(est: Any) -> None:
    unbounded = est.time_budget is not None or est.strategy is not None  # one-shot searches have no trials
    _positive_int("max_trials", est.max_trials, allow_none=unbounded)
    _positive_int("epochs", est.epochs)
    _positive_int("batch_size", est.batch_size)
    _positive_int("patience", est.patience)
    if est.time_budget is not None and (
        isinstance(est.time_budget, bool)
        or not isinstance(est.time_budget, (int, float, np.integer, np.floating))
        or not math.isfinite(est.time_budget)  # NaN compares False with everything: it would never stop
        or est.time_budget <= 0
    ):
        raise ValueError(
            f"time_budget must be a finite positive number of seconds, or None; received {est.time_budget!r}. "
            "Pass e.g. time_budget=600 for ten minutes."
        )
    if est.validation_data is None and (
        isinstance(est.validation_split, bool)
        or not isinstance(est.validation_split, (int, float, np.integer, np.floating))
        or not 0 < est.validation_split < 1
    ):
        raise ValueError(
            "validation_split must be a number in (0, 1) when validation_data is not given; received "
            f"validation_split={est.validation_split!r}. Pass e.g. validation_split=0.2 to hold out a fifth."
        )


def _check_choices(est: Any) -> None:
    if est.refit not in REFITS:
        raise ValueError(f"refit must be one of {list(REFITS)}; received refit={est.refit!r}.")
    if not isinstance(est.oracle, keras_tuner.Oracle) and est.oracle not in oracles.ORACLES:
        raise ValueError(
            f"Unknown oracle {est.oracle!r}; choose one of {list(oracles.ORACLES)} or pass a keras_tuner.Oracle."
        )
    if isinstance(est.search_space, str) and est.search_space not in ("auto", *spaces.SPACES):
        raise ValueError(
            f"Unknown search_space {est.search_space!r}; choose 'auto', one of {sorted(spaces.SPACES)}, "
            "a keras_tuner.HyperModel or a build function."
        )
    if not isinstance(est.search_space, (str, keras_tuner.HyperModel)) and not callable(est.search_space):
        raise ValueError(
            f"search_space must be a name, a keras_tuner.HyperModel or a build function; received {est.search_space!r}."
        )
    if est.seed is not None and (
        isinstance(est.seed, bool) or not isinstance(est.seed, (int, np.integer)) or not 0 <= est.seed < 2**32
    ):
        raise ValueError(
            f"seed must be None or an integer in [0, 2**32 - 1]; received seed={est.seed!r}. Pass e.g. seed=0."
        )
    if not isinstance(est.verbose, (int, np.integer)) or est.verbose not in (0, 1, 2):
        raise ValueError(
            f"verbose must be 0 (silent), 1 (a line per trial) or 2 (also Keras's epoch output); received "
            f"verbose={est.verbose!r}."
        )
    trial_process.check_trials_per_process(est.trials_per_process)


def _check_callbacks(callbacks: Any) -> None:
    if callbacks is None:
        return
    if not isinstance(callbacks, (list, tuple)):
        raise ValueError(
            f"callbacks must be a list of keras.callbacks.Callback; received a single "
            f"{type(callbacks).__name__}. Pass a list, e.g. callbacks=[cb]."
        )
    for i, callback in enumerate(callbacks):
        if not isinstance(callback, keras.callbacks.Callback):
            raise ValueError(
                f"callbacks[{i}] must be a keras.callbacks.Callback; received {callback!r} ({type(callback).__name__})."
            )


def check_objective(est: Any) -> None:
    """Rejects an objective the trials would not log, before the search rather than after a trial."""
    objective = est.oracle.objective if isinstance(est.oracle, keras_tuner.Oracle) else est.objective
    if objective is None:
        return
    # an Oracle keeps several objectives in a keras_tuner MultiObjective
    many = isinstance(objective, (list, tuple))
    objectives = objective if many else getattr(objective, "objectives", [objective])
    names = []
    for item in objectives:
        if not isinstance(item, (str, keras_tuner.Objective)):
            raise ValueError(
                "objective must be a metric name such as 'val_loss', a keras_tuner.Objective or a list of them; "
                f"received objective={objective!r}."
            )
        names.append(getattr(item, "name", item))
    if est.strategy is not None or not isinstance(est.search_space, (str, spaces.SearchSpace)):
        return  # one-shot searches have no trials; models the user builds log what the user compiles
    head = Head(est._task, 1)  # the logged names depend on the task only
    logged = ["loss", *head.metrics]
    valid = [*logged, *(f"val_{name}" for name in logged)]
    unknown = [name for name in names if name not in valid]
    if unknown:
        raise ValueError(
            f"objective {unknown[0]!r} is not a metric the trials log: the {est._task} networks are compiled "
            f"with loss={head.loss!r} and metrics={head.metrics}, so choose one of {valid}."
        )
