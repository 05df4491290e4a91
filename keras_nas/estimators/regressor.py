"""`NASRegressor`: architecture search for regression."""

from __future__ import annotations

import keras
import numpy as np
from sklearn.base import RegressorMixin
from sklearn.utils.validation import check_is_fitted

from keras_nas.architecture import Head
from keras_nas.estimators import data
from keras_nas.estimators.base import BaseNASEstimator


class NASRegressor(RegressorMixin, BaseNASEstimator):
    """Finds, trains and exports a Keras regressor by neural architecture search.

    Targets may be 1-D or 2-D (several outputs). They are standardised for
    training; the exported model outputs values in the original units. See
    `BaseNASEstimator` for the parameters.

    Example:

    ```python
    from sklearn.datasets import load_diabetes
    x, y = load_diabetes(return_X_y=True)
    reg = NASRegressor(max_trials=5, epochs=20, seed=0).fit(x, y)
    reg.score(x, y)
    ```
    """

    _task = "regression"

    def _fit_targets(self, y):
        targets = data.check_regression_targets(y)
        self._single_output = targets.ndim == 1
        targets = targets.reshape(len(targets), -1)
        self.target_mean_ = targets.mean(axis=0)
        self.target_scale_ = np.where(targets.std(axis=0) > 0, targets.std(axis=0), 1.0).astype(np.float32)
        return (targets - self.target_mean_) / self.target_scale_

    def _encode_targets(self, y, name="y"):
        targets = data.check_regression_targets(y, name)
        targets = targets.reshape(len(targets), -1)
        if targets.shape[1] != len(self.target_mean_):
            raise ValueError(f"{name} has {targets.shape[1]} outputs; training had {len(self.target_mean_)}.")
        return targets

    def _head(self):
        return Head("regression", len(self.target_mean_))

    def _split(self, x, y):
        x_train, x_val, y_train, y_val = super()._split(x, y)
        if self.validation_data is not None:  # user targets come in original units
            y_val = (y_val - self.target_mean_) / self.target_scale_
        return x_train, x_val, y_train, y_val

    def _output_layers(self, x):
        return keras.layers.Rescaling(
            scale=self.target_scale_.tolist(), offset=self.target_mean_.tolist(), name="denormalize"
        )(x)

    def score(self, x, y, sample_weight=None) -> float:
        """R² of `predict(x)` against y (averaged uniformly over outputs)."""
        from sklearn.metrics import r2_score

        check_is_fitted(self, "best_model_")
        targets = self._encode_targets(y)
        predictions = self.predict(x)
        data.check_lengths(predictions, targets)
        return float(r2_score(targets, predictions.reshape(targets.shape), sample_weight=sample_weight))

    def predict(self, x) -> np.ndarray:
        """Predicted targets in their original units (1-D for a single output)."""
        predictions = self._predict_raw(x)
        return predictions[:, 0] if self._single_output else predictions
