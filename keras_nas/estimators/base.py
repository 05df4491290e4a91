"""`BaseNASEstimator`: the search, refit, predict and export shared by `NASClassifier` and `NASRegressor`."""

from __future__ import annotations

import abc
import contextlib
import warnings
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from sklearn.base import BaseEstimator
from sklearn.model_selection import train_test_split
from sklearn.utils.validation import check_is_fitted, validate_data

from keras_nas.architecture import Head
from keras_nas.backend.tracing import build_compiled_state
from keras_nas.estimators import data, export, params, pickling
from keras_nas.estimators.one_shot import OneShotSearch
from keras_nas.estimators.search import Search, Split
from keras_nas.estimators.trial_search import TrialSearch
from keras_nas.utils.budget import TimeBudget


class BaseNASEstimator(BaseEstimator, abc.ABC):
    """Shared search, refit, predict and export logic of `NASClassifier` and `NASRegressor`.

    Args:
        search_space: `"auto"` (with the morphism oracle, networks grown from a
            seed by morphisms; with the others, dense for tabular data and
            convolutional for sequences and images), `"morphism"`, `"dense"`,
            `"conv"`, a `keras_tuner.HyperModel` (a `SearchSpace` is configured
            for the data; any other must build models with the right input and
            output) or a build function `hp -> model`.
        oracle: `"morphism"` (default: Bayesian optimisation over
            architectures with network-morphism proposals and weight
            inheritance, see `MorphismOracle`), `"bayesian"`, `"random"`,
            `"hyperband"` or a `keras_tuner.Oracle`.
        strategy: None (default) for the trial search above; or a one-shot
            strategy, `"darts"`, `"pc_darts"`, `"gdas"`, `"enas"` (any name registered
            with `keras_nas.oneshot.register_strategy`) or a configured
            `keras_nas.oneshot.OneShotStrategy` such as
            `DARTSStrategy(channels=4, num_cells=3)`. A one-shot search trains
            one supernet (weights on the training split, the architecture on
            the validation split) for the strategy's `search_epochs` (DARTS
            family: half of `epochs` unless set), derives its architecture
            (`best_architecture_`, plain Keras layers), and trains that from
            scratch for `epochs` with the strategy's optimizer (DARTS's SGD
            with cosine decay) and batch size (DARTS family:
            `train_batch_size=96`; None: `batch_size`), on training +
            validation data when `refit`, else on the training split,
            validated on the other.
            `strategy_` keeps the search (`alpha_history_`, `supernet_`).
            `time_budget` stops the supernet's training at the end of an epoch.
            `search_space`, `oracle`, `max_trials`, `patience`, `directory`
            and its siblings apply to the trial search only, and
            `mixed_precision` to the final training only.
        max_trials: Number of architectures to train to completion; `None`
            needs `time_budget`. A trial that fails (its loss, metrics or weights
            become NaN or infinite, or it raises) is marked `FAILED` with its
            reason in `leaderboard_`, is never chosen, and is replaced by a new
            one; after 3 failures in a row (keras-tuner's
            `max_consecutive_failed_trials`) the search stops, with a warning,
            or with an error quoting the cause if no trial completed.
        epochs: Most epochs per trial (trials stop early after `patience` epochs
            without improvement of the objective).
        batch_size: Training batch size.
        time_budget: Seconds for the whole `fit`, refit included. No new trial
            starts once what is left would not cover the refit (estimated from
            the best trial's seconds per epoch) and the running trial stops at
            the end of its epoch; the refit stops before an epoch that would
            end past the budget, and is skipped, with a warning, if the search
            spent it all (`best_model_` is then the best trial's checkpoint).
            One-shot strategies give the supernet half of it and train the
            derived network in the rest.
        objective: What the search optimises; default `"val_accuracy"` for
            classification and `"val_loss"` for regression.
        validation_split: Fraction of the training data held out to score trials
            (stratified for classification) when `validation_data` is not given.
        validation_data: `(x_val, y_val)` to score trials on.
        callbacks: Keras callbacks added to every trial (must be deep-copyable and,
            when trials train in a child process, picklable).
        refit: How `best_model_` is made from the best trial. `"warm"` (default;
            True means the same): the best trial's trained network continues on
            training + validation data for min(3, `epochs`) epochs at a tenth of
            its learning rate. `"scratch"`: its architecture is retrained from
            scratch on training + validation data for the epochs its weights had
            been trained when its trial scored best (with weight inheritance, its
            ancestors' epochs included; at most 3 x `epochs`). False: the best
            trial's checkpoint as is. Warm is the default because a grown
            network's weights hold its whole lineage's training: on mnist1d a
            warm refit scored 0.980-0.981 test accuracy where retraining the same
            architecture from scratch scored 0.954-0.972 (and no refit 0.975).
        patience: Early-stopping patience of each trial, in epochs.
        normalize: Standardise inputs (per feature or channel) with statistics of
            the training data; the exported model includes the normalisation.
        mixed_precision: Train with float16 compute on a GPU (ignored on CPU).
        directory: Where trials are stored. None (default): a new temporary
            directory, removed when `fit` returns (the fitted model is in
            memory; `tuner_` can then no longer load trial checkpoints). A
            directory holding the same search is resumed: every trial finished
            before a crash or kill is kept, exactly once.
        project_name: Sub-directory of `directory` for this search: a plain
            folder name (no path separators, not empty, not `.` or `..`).
        overwrite: Clear an existing project instead of resuming it. Only a
            project that keras_nas created is ever cleared, and only its own
            files; anything else raises and nothing is deleted.
        seed: Seed of the data split, the oracle and every trial's training.
        verbose: 0 silent, 1 one line per trial, 2 also Keras's epoch output.
        trials_per_process: Where trials train. `"auto"` (default): searches of
            more than 10 trials (or with no trial limit) train them in a child
            process that is replaced once it has grown by 64 MiB since its first
            trial (every 10 trials where memory cannot be read), so that the memory
            TensorFlow keeps after each trained model (about 10 MiB a trial) is
            given back; shorter searches train in this process. An integer: a
            child process, replaced after that many trials. None: this process.
            A child needs the search space and callbacks to be importable (not
            defined in `__main__`); "auto" falls back to this process with a
            warning when they are not. See `keras_nas.search.trial_process`.
    """

    _task = ""

    def __init__(
        self,
        search_space="auto",
        oracle="morphism",
        strategy=None,
        max_trials=10,
        epochs=10,
        batch_size=32,
        time_budget=None,
        objective=None,
        validation_split=0.2,
        validation_data=None,
        callbacks=None,
        refit="warm",
        patience=3,
        normalize=True,
        mixed_precision=False,
        directory=None,
        project_name="keras_nas",
        overwrite=False,
        seed=None,
        verbose=0,
        trials_per_process="auto",
    ):
        self.search_space = search_space
        self.oracle = oracle
        self.strategy = strategy
        self.max_trials = max_trials
        self.epochs = epochs
        self.batch_size = batch_size
        self.time_budget = time_budget
        self.objective = objective
        self.validation_split = validation_split
        self.validation_data = validation_data
        self.callbacks = callbacks
        self.refit = refit
        self.patience = patience
        self.normalize = normalize
        self.mixed_precision = mixed_precision
        self.directory = directory
        self.project_name = project_name
        self.overwrite = overwrite
        self.seed = seed
        self.verbose = verbose
        self.trials_per_process = trials_per_process

    # -- pickling --------------------------------------------------------
    def __getstate__(self):
        return pickling.estimator_state(super().__getstate__())

    def __setstate__(self, state):
        super().__setstate__(pickling.restored_state(state))

    # -- parameters ------------------------------------------------------
    def _check_params(self) -> None:
        params.check(self)

    # -- what subclasses provide ----------------------------------------
    @abc.abstractmethod
    def _fit_targets(self, y: Any) -> np.ndarray:
        """Checks the training targets, learns their encoding and returns them encoded."""

    @abc.abstractmethod
    def _encode_targets(self, y: Any, name: str = "y") -> np.ndarray:
        """Checks further targets and encodes them as the training targets were."""

    @abc.abstractmethod
    def _head(self) -> Head:
        """The output head for the fitted targets."""

    def _output_layers(self, x):
        return x

    # -- data ------------------------------------------------------------
    def _read_xy(
        self, x: Any, y: Any, reset: bool = False, x_name: str = "x", y_name: str = "y"
    ) -> tuple[np.ndarray, Any]:
        """x checked by `_check_x` and y as given, from arrays, DataFrames or a tf.data dataset of pairs."""
        if data.is_dataset(x):
            if y is not None:
                raise ValueError(f"When {x_name} is a tf.data dataset it must yield (x, y) pairs; pass {y_name}=None.")
            x, y = data.read_dataset(x)
            if y is None:
                raise ValueError(f"The tf.data dataset {x_name} yields no targets; it must yield (x, y) pairs.")
        elif y is None:
            raise ValueError(f"{y_name} is required when {x_name} is an array or DataFrame.")
        return self._check_x(x, reset, x_name), y

    def _read_x(self, x: Any) -> np.ndarray:
        """The x of a fitted estimator's predict (array, DataFrame or tf.data dataset), checked by `_check_x`."""
        check_is_fitted(self, "best_model_")
        if data.is_dataset(x):
            x = data.read_dataset(x)[0]
        return self._check_x(x, reset=False)

    def _check_x(self, x: Any, reset: bool, name: str = "x") -> np.ndarray:
        """x as a float32 array; learns (`reset`) or checks `input_shape_` and the feature names and count."""
        array = data.check_x(x, name)
        try:
            # scikit-learn sets and checks feature_names_in_ (warning when only one side has names) and sets
            # n_features_in_ of (samples, features) data; the shape check below covers every rank.
            validate_data(self, x, reset=reset, skip_check_array=True, ensure_2d=reset and array.ndim == 2)
        except ValueError as error:  # only names can mismatch here
            raise ValueError(
                f"{name} has columns {[str(c) for c in x.columns]}, but this estimator was fitted on columns "
                f"{list(self.feature_names_in_)}. {error}Pass the fitted columns in their order, e.g. "
                f"{name}[estimator.feature_names_in_]."
            ) from None
        if reset:
            self.input_shape_ = tuple(int(d) for d in array.shape[1:])
            if array.ndim != 2:  # a refit on sequences or images must not keep a stale count
                self.__dict__.pop("n_features_in_", None)  # not vars(self): mypy reads it as a class's mappingproxy
        elif array.shape[1:] != self.input_shape_:
            raise ValueError(
                f"{name} has examples of shape {array.shape[1:]}, but this estimator was fitted on examples of shape "
                f"{self.input_shape_}; pass data with the features it was fitted on."
            )
        return array

    def _standardize(self, x: np.ndarray) -> np.ndarray:
        return data.standardize(x, self.input_mean_, self.input_variance_) if self.normalize else x

    def _dataset(self, x: np.ndarray, y: np.ndarray, shuffle: bool, batch_size: int | None = None) -> tf.data.Dataset:
        dataset = tf.data.Dataset.from_tensor_slices((x, y))
        if shuffle:
            dataset = dataset.shuffle(len(x), seed=self.seed, reshuffle_each_iteration=True)
        return dataset.batch(int(batch_size or self.batch_size)).prefetch(tf.data.AUTOTUNE)

    def _split(self, x: np.ndarray, y: np.ndarray):
        if self.validation_data is not None:
            if not isinstance(self.validation_data, (tuple, list)) or len(self.validation_data) != 2:
                raise ValueError("validation_data must be a tuple (x_val, y_val).")
            x_val, y_val = self.validation_data
            x_val, y_val = self._read_xy(x_val, y_val, x_name="x_val", y_name="y_val")
            y_val = self._encode_targets(y_val, "y_val")
            data.check_lengths(x_val, y_val, "x_val", "y_val")
            return x, x_val, y, y_val
        stratify = None
        if self._task == "classification":
            counts = np.bincount(y)
            stratify = y if counts.min() >= 2 and len(y) * float(self.validation_split) >= len(counts) else None
        if len(x) < 2:
            raise ValueError(f"At least 2 examples are needed to hold out validation data; received {len(x)}.")
        return train_test_split(x, y, test_size=float(self.validation_split), random_state=self.seed, stratify=stratify)

    # -- fitting ---------------------------------------------------------
    def _objective(self):
        return self.objective or self._head().objective

    @contextlib.contextmanager
    def _precision(self):
        gpu = bool(tf.config.list_physical_devices("GPU"))
        self.device_ = "GPU" if gpu else "CPU"
        if not self.mixed_precision:
            yield
            return
        if not gpu:
            warnings.warn("mixed_precision=True is ignored: TensorFlow sees no GPU.", stacklevel=3)
            yield
            return
        previous = keras.config.dtype_policy()
        keras.config.set_dtype_policy("mixed_float16")
        try:
            yield
        finally:
            keras.config.set_dtype_policy(previous)

    def fit(self, x, y=None):
        """Searches architectures on (x, y), then refits the best one; returns self.

        Args:
            x: Array or DataFrame of shape (samples, features), (samples, steps,
                channels) or (samples, height, width, channels); or a tf.data
                dataset of (x, y) pairs, batched or not (read into memory).
            y: Targets; None when x is a dataset.
        """
        self._check_params()
        x, y = self._read_xy(x, y, reset=True)
        y = self._fit_targets(y)
        data.check_lengths(x, y)
        x_train, x_val, y_train, y_val = self._split(x, y)
        self.input_mean_, self.input_variance_ = data.moments(x_train)
        split = Split(x, y, self._standardize(x_train), y_train, self._standardize(x_val), y_val)
        self.best_model_ = self._wrap(self._make_search().run(split))
        return self

    def _make_search(self) -> Search:
        """The search `fit` runs: keras-tuner trials, or the one-shot `strategy` when one is set."""
        return TrialSearch(self) if self.strategy is None else OneShotSearch(self)

    def _train_final(
        self, model: keras.Model, x, y, validation=None, batch_size: int | None = None, budget: TimeBudget | None = None
    ) -> keras.Model:
        """Trains the final network for `refit_epochs_` (batches of `batch_size`, default the estimator's), stopping
        before an epoch that would end past `budget`'s deadline."""
        build_compiled_state(model, x[:2], y[:2])  # `fit` then traces its step once, not twice
        history = model.fit(
            self._dataset(x, y, shuffle=True, batch_size=batch_size),
            validation_data=validation,
            epochs=self.refit_epochs_,
            shuffle=False,
            callbacks=list(self.callbacks or []) + ([budget.callback(ahead=True)] if budget is not None else []),
            verbose=1 if self.verbose >= 2 else 0,
        )
        self.history_ = history.history
        return model

    def _wrap(self, model: keras.Model) -> keras.Model:
        """The trained network with input normalisation (and target rescaling) built in."""
        inputs = keras.Input(shape=self.input_shape_, name="features")
        x = inputs
        if self.normalize:
            x = keras.layers.Normalization(
                axis=-1, mean=self.input_mean_, variance=self.input_variance_, name="normalize"
            )(x)
        x = self._output_layers(model(x))
        wrapped = keras.Model(inputs, x, name="keras_nas_model")
        head = self._head()
        wrapped.compile(loss=head.loss, metrics=head.metrics)
        return wrapped

    # -- using the fitted model -----------------------------------------
    def _predict_raw(self, x) -> np.ndarray:
        x = self._read_x(x)  # checks that the estimator is fitted first
        return self.best_model_.predict(x, batch_size=max(int(self.batch_size), 256), verbose=0)

    def evaluate(self, x, y=None) -> dict[str, float]:
        """Loss and metrics of `best_model_` on (x, y), as a dict."""
        check_is_fitted(self, "best_model_")
        x, y = self._read_xy(x, y)
        y = self._encode_targets(y)
        data.check_lengths(x, y)
        results = self.best_model_.evaluate(
            x, y, batch_size=max(int(self.batch_size), 256), verbose=0, return_dict=True
        )
        return {k: float(v) for k, v in results.items()}

    def export(self, path: str, format: str = "saved_model") -> str:
        """Writes `best_model_` as a TensorFlow SavedModel (default) or a `.keras` file; returns the path.

        The SavedModel's `serve` signature takes raw features (normalisation is
        inside) and returns class probabilities or regression values; mapping
        class indices back to labels stays with the estimator (`classes_`).
        """
        check_is_fitted(self, "best_model_")
        return export.export_model(self.best_model_, path, format)
