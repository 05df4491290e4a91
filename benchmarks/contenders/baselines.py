"""Plain baselines: one hand-written Keras model, and scikit-learn's logistic regression and MLP."""

from __future__ import annotations

import keras
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier

from benchmarks.contenders.common import accuracy, standardize
from benchmarks.contenders.observe import Clock, EpochMonitor

FIXED_DESCRIPTION = (
    "hand-written Keras model, Adam 1e-3, budget epochs with early stopping: "
    "images conv32-pool-conv64-pool-dense128; sequences 3 x conv1d(32, k5)-pool-dense64; tabular dense64-dense64"
)


def _fixed_model(split) -> keras.Model:
    layers = keras.layers
    inputs = keras.Input(split.x_train.shape[1:])
    if split.kind == "image":
        x = layers.Conv2D(32, 3, padding="same", activation="relu")(inputs)
        x = layers.MaxPooling2D(padding="same")(x)
        x = layers.Conv2D(64, 3, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D(padding="same")(x)
        x = layers.Dense(128, activation="relu")(layers.Flatten()(x))
    elif split.kind == "sequence":
        x = inputs
        for _ in range(3):
            x = layers.Conv1D(32, 5, padding="same", activation="relu")(x)
            x = layers.MaxPooling1D(padding="same")(x)
        x = layers.Dense(64, activation="relu")(layers.Flatten()(x))
    else:
        x = layers.Dense(64, activation="relu")(inputs)
        x = layers.Dense(64, activation="relu")(x)
    outputs = layers.Dense(split.num_classes, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def fixed_keras(split, budget, workdir):
    clock = Clock(budget.seconds or budget.safety_seconds)
    x_train, x_val, x_test = standardize(split)
    keras.utils.set_random_seed(split.seed)
    model = _fixed_model(split)
    history = model.fit(
        x_train, split.y_train, validation_data=(x_val, split.y_val), epochs=budget.epochs, verbose=0,
        callbacks=[keras.callbacks.EarlyStopping("val_accuracy", patience=budget.patience, mode="max",
                                                 restore_best_weights=True), EpochMonitor(clock)],
    )
    best_val = float(max(history.history["val_accuracy"]))
    clock.record(best_val)
    return {
        "test_score": accuracy(model, x_test, split.y_test),
        "best_val_score": best_val,
        "epochs_trained": clock.epochs,
        "trials_completed": 1,
        "oracle_seconds": 0.0,
        "anytime": clock.anytime,
        "params": int(model.count_params()),
        "architecture": "fixed",
    }


def _sklearn(estimator, split):
    clock = Clock()
    x_train, x_val, x_test = (x.reshape(len(x), -1) for x in standardize(split))
    estimator.fit(x_train, split.y_train)
    best_val = float(estimator.score(x_val, split.y_val))
    clock.record(best_val)
    params = sum(np.size(c) for c in getattr(estimator, "coefs_", [])) + sum(
        np.size(b) for b in getattr(estimator, "intercepts_", []))
    if hasattr(estimator, "coef_"):
        params = int(np.size(estimator.coef_) + np.size(estimator.intercept_))
    return {
        "test_score": float(estimator.score(x_test, split.y_test)),
        "best_val_score": best_val,
        "epochs_trained": int(getattr(estimator, "n_iter_", 0) if np.isscalar(getattr(estimator, "n_iter_", 0))
                              else np.max(estimator.n_iter_)),
        "trials_completed": 1,
        "oracle_seconds": 0.0,
        "anytime": clock.anytime,
        "params": int(params),
        "architecture": type(estimator).__name__,
    }


def logistic_regression(split, budget, workdir):
    return _sklearn(LogisticRegression(max_iter=2000), split)


def mlp(split, budget, workdir):
    return _sklearn(MLPClassifier(early_stopping=True, random_state=split.seed, max_iter=500), split)
