"""`NASClassifier`: architecture search for classification."""

from __future__ import annotations

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.validation import check_is_fitted

from keras_nas.architecture import Head
from keras_nas.estimators import data
from keras_nas.estimators.base import BaseNASEstimator


class NASClassifier(ClassifierMixin, BaseNASEstimator):
    """Finds, trains and exports a Keras classifier by neural architecture search.

    Labels may be integers, strings or one-hot rows; `classes_` holds them
    (column indices for one-hot rows) and `predict` returns them. See `BaseNASEstimator` for
    the parameters.

    Example:

    ```python
    from sklearn.datasets import load_digits
    x, y = load_digits(return_X_y=True)
    clf = NASClassifier(max_trials=5, epochs=5, seed=0).fit(x.reshape(-1, 8, 8, 1), y)
    clf.predict(x[:3].reshape(-1, 8, 8, 1)); clf.export("digits_model")
    ```
    """

    _task = "classification"

    def _fit_targets(self, y):
        labels = data.check_class_labels(y)
        self._label_encoder = LabelEncoder().fit(labels)
        self.classes_ = self._label_encoder.classes_
        if len(self.classes_) < 2:
            raise ValueError(f"Classification needs at least 2 classes; y holds only {list(self.classes_)}.")
        return self._label_encoder.transform(labels).astype(np.int32)

    def _encode_targets(self, y, name="y"):
        labels = data.check_class_labels(y, name)
        unknown = set(np.unique(labels).tolist()) - set(self.classes_.tolist())
        if unknown:
            raise ValueError(f"{name} holds labels not seen in training: {sorted(map(str, unknown))[:10]}.")
        return self._label_encoder.transform(labels).astype(np.int32)

    def _head(self):
        return Head("classification", len(self.classes_))

    def score(self, x, y, sample_weight=None) -> float:
        """Accuracy of `predict(x)` against y (labels or one-hot rows)."""
        from sklearn.metrics import accuracy_score

        check_is_fitted(self, "best_model_")
        labels = data.check_class_labels(y)
        predictions = self.predict(x)
        data.check_lengths(predictions, labels)
        return float(accuracy_score(labels, predictions, sample_weight=sample_weight))

    def predict_proba(self, x) -> np.ndarray:
        """Class probabilities, shape (samples, classes), columns ordered as `classes_`."""
        return self._predict_raw(x)

    def predict(self, x) -> np.ndarray:
        """Predicted labels: the training labels' values, or column indices if they were one-hot."""
        indices = np.argmax(self.predict_proba(x), axis=1)
        return self.classes_[indices]
