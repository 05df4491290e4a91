"""The estimators' one-shot path: search a supernet, derive its architecture, train that from scratch."""

from __future__ import annotations

import copy
import math
import time
from typing import TYPE_CHECKING, Any

import keras
import numpy as np

if TYPE_CHECKING:
    import contextlib

    import tensorflow as tf

    from keras_nas.architecture import Architecture, Head
    from keras_nas.oneshot import OneShotStrategy
    from keras_nas.search.tuner import NASTuner


class OneShotMixin:
    """`fit` for a `BaseNASEstimator` whose `strategy` is set (see the `strategy` argument there)."""

    # What this mixin reads and sets of `BaseNASEstimator` (declarations for type checkers; set there and below).
    search_space: Any
    strategy: Any  # None, a strategy name or a OneShotStrategy, as the user passed it (see `_check_strategy`)
    epochs: int
    batch_size: int
    seed: int | None
    verbose: int
    time_budget: float | None
    refit: bool | str
    input_shape_: tuple[int, ...]
    tuner_: NASTuner | None  # None after a one-shot fit (and after unpickling)
    best_architecture_: Architecture | None  # None where a trial search's space cannot describe its networks
    best_score_: float | None  # the strategy's validation score, None where it gives none

    if TYPE_CHECKING:  # implemented by BaseNASEstimator

        def _head(self) -> Head: ...

        def _precision(self) -> contextlib.AbstractContextManager[None]: ...

        def _dataset(
            self, x: np.ndarray, y: np.ndarray, shuffle: bool, batch_size: int | None = None
        ) -> tf.data.Dataset: ...

        def _train_final(
            self, model: keras.Model, x, y, validation=None, batch_size: int | None = None
        ) -> keras.Model: ...

    def _check_strategy(self) -> None:
        # Imported here: a trial search never loads the one-shot package.
        from keras_nas.oneshot import STRATEGIES, OneShotStrategy

        strategy = self.strategy
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
        if self.search_space != "auto":
            raise ValueError(
                f"search_space={self.search_space!r} applies to the trial search only; a one-shot strategy "
                "searches its own supernet (leave search_space='auto')."
            )

    def _make_strategy(self) -> OneShotStrategy:
        from keras_nas.oneshot import get_strategy

        # A copy: fitting must not change the estimator's parameters (scikit-learn's contract).
        strategy = get_strategy(self.strategy) if isinstance(self.strategy, str) else copy.deepcopy(self.strategy)
        return strategy.configure(
            self.input_shape_,
            self._head(),
            epochs=int(self.epochs),
            batch_size=int(self.batch_size),
            seed=self.seed,
            verbose=int(self.verbose),
            time_budget=self.time_budget,
        )

    def _fit_one_shot(self, x_train, y_train, x_val, y_val) -> keras.Model:
        """Searches, derives and trains; sets the fitted attributes and returns the trained network."""
        strategy = self._make_strategy()
        started = time.perf_counter()
        keras.backend.clear_session()
        strategy.search(x_train, y_train, x_val, y_val)
        self.search_seconds_ = time.perf_counter() - started
        architecture = strategy.derive()
        head = self._head()
        self.strategy_ = strategy
        self.tuner_ = None
        self.oracle_seconds_ = 0.0
        self.best_architecture_ = architecture
        self.best_hyperparameters_ = strategy.describe()
        self.best_trial_id_ = strategy.name or type(strategy).__name__
        self.best_score_ = getattr(strategy, "score_", None)
        search_epochs = len(next(iter(strategy.history_.values()), []))
        self.best_step_ = max(search_epochs - 1, 0)
        self.leaderboard_ = [
            {
                "trial_id": self.best_trial_id_,
                "status": "COMPLETED",
                "score": self.best_score_,
                "hyperparameters": self.best_hyperparameters_,
                "architecture": architecture.summary(),
                "params": architecture.num_params(self.input_shape_, head),
                "epochs": search_epochs,
                "seconds": self.search_seconds_,
            }
        ]
        if self.verbose >= 1:
            summary = architecture.summary()
            print(f"{self.best_trial_id_}: {search_epochs} search epochs, score {self.best_score_}: {summary}")

        started = time.perf_counter()
        with self._precision():
            model = self._train_derived(strategy, architecture, x_train, y_train, x_val, y_val)
        self.refit_seconds_ = time.perf_counter() - started
        return model

    def _train_derived(self, strategy, architecture, x_train, y_train, x_val, y_val) -> keras.Model:
        """Trains the derived network from scratch for `epochs` with the strategy's optimizer and batch size.

        On training + validation data when `refit`, else on the training data, validated on the rest.
        """
        keras.backend.clear_session()  # deterministic layer names, as in the trial search's refit
        if self.seed is not None:
            keras.utils.set_random_seed(int(self.seed))
        head = self._head()
        model = architecture.build(self.input_shape_, head=head, name="derived")
        validation = None
        if self.refit:
            x_train, y_train = np.concatenate([x_train, x_val]), np.concatenate([y_train, y_val])
        else:
            validation = self._dataset(x_val, y_val, shuffle=False, batch_size=strategy.train_batch)
        self.refit_epochs_ = int(self.epochs)
        steps = math.ceil(len(x_train) / strategy.train_batch) * self.refit_epochs_
        model.compile(optimizer=strategy.optimizer(steps), loss=head.loss, metrics=head.metrics)
        return self._train_final(model, x_train, y_train, validation, batch_size=strategy.train_batch)
