"""`OneShotSearch`: the estimators' one-shot search: train a supernet, derive its architecture, train that
from scratch."""

from __future__ import annotations

import copy
import math
from typing import TYPE_CHECKING

import keras

from keras_nas.estimators.search import Found, Search, Split
from keras_nas.search.outcomes import leaderboard_row
from keras_nas.search.records import TrialRecord

if TYPE_CHECKING:
    from keras_nas.architecture import Architecture
    from keras_nas.oneshot import OneShotStrategy


class OneShotSearch(Search):
    """The search of a set `strategy` (see the `strategy` argument of `BaseNASEstimator`)."""

    strategy: OneShotStrategy  # set by `search`, with the architecture it derived
    architecture: Architecture

    def make_strategy(self) -> OneShotStrategy:
        """A configured copy of the estimator's strategy (fitting must not change its parameters)."""
        from keras_nas.oneshot import get_strategy  # here: a trial search never loads the one-shot package

        est = self.estimator
        strategy = get_strategy(est.strategy) if isinstance(est.strategy, str) else copy.deepcopy(est.strategy)
        return strategy.configure(
            est.input_shape_,
            est._head(),
            epochs=int(est.epochs),
            batch_size=int(est.batch_size),
            seed=est.seed,
            verbose=int(est.verbose),
            # half of the budget, so that the derived network trains in the other half
            time_budget=None if est.time_budget is None else est.time_budget / 2,
        )

    def search(self, split: Split) -> None:
        est = self.estimator
        self.strategy = est.strategy_ = self.make_strategy()
        est.tuner_ = None
        keras.backend.clear_session()
        self.strategy.search(split.x_train, split.y_train, split.x_val, split.y_val)
        self.architecture = self.strategy.derive()

    def found(self) -> Found:
        est, strategy, architecture = self.estimator, self.strategy, self.architecture
        trial_id = strategy.name or type(strategy).__name__
        score = getattr(strategy, "score_", None)
        hyperparameters = strategy.describe()
        search_epochs = len(next(iter(strategy.history_.values()), []))
        record = TrialRecord(
            architecture=architecture.summary(),
            params=architecture.num_params(est.input_shape_, est._head()),
            epochs=search_epochs,
            seconds=self.search_seconds,
        )
        row = leaderboard_row(trial_id, "COMPLETED", score, hyperparameters, record)
        if est.verbose >= 1:
            print(f"{trial_id}: {search_epochs} search epochs, score {score}: {architecture.summary()}")
        return Found(trial_id, score, max(search_epochs - 1, 0), hyperparameters, architecture, [row])

    def final_model(self, split: Split) -> keras.Model:
        """Trains the derived network from scratch for `epochs` with the strategy's optimizer and batch size.

        On training + validation data when `refit`, else on the training data, validated on the rest.
        """
        est, strategy = self.estimator, self.strategy
        with est._precision():  # `mixed_precision` applies to the final training only
            keras.backend.clear_session()  # deterministic layer names, as in the trial search's refit
            if est.seed is not None:
                keras.utils.set_random_seed(int(est.seed))
            head = est._head()
            model = self.architecture.build(est.input_shape_, head=head, name="derived")
            validation = None
            if est.refit:
                x_train, y_train = split.combined()
            else:
                x_train, y_train = split.x_train, split.y_train
                validation = est._dataset(split.x_val, split.y_val, shuffle=False, batch_size=strategy.train_batch)
            est.refit_epochs_ = int(est.epochs)
            steps = math.ceil(len(x_train) / strategy.train_batch) * est.refit_epochs_
            model.compile(optimizer=strategy.optimizer(steps), loss=head.loss, metrics=head.metrics)
            return est._train_final(
                model, x_train, y_train, validation, batch_size=strategy.train_batch, budget=self.budget.final()
            )
