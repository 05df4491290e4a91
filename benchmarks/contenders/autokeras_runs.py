"""AutoKeras 3: ImageClassifier for images, StructuredDataClassifier for tabular data and sequences.

Shim (the smallest that makes it run under keras 3.15): AutoKeras 3.0.0 reads
data shapes as numpy integers (`autokeras.utils.data_utils.dataset_shape`) and
passes them to `Dense(units=...)`, which keras >= 3.13 refuses; we return
Python ints instead. AutoKeras has no sequence task, so mnist1d's 40 values go
to StructuredDataClassifier, as a user would do. The test score is that of
`predict` (the best trial's search-time model, which is also what
`export_model()` returns in AutoKeras 3).
"""

from __future__ import annotations

import keras
import numpy as np
import tree

from benchmarks.contenders.common import standardize
from benchmarks.contenders.observe import Clock, EpochMonitor, observe

DESCRIPTION = "AutoKeras 3 ImageClassifier (images) or StructuredDataClassifier (tabular, sequences), shimmed"


def _shim(autokeras) -> None:
    data_utils = autokeras.utils.data_utils
    if not getattr(data_utils, "_keras_nas_shim", False):
        # the same numpy-array leaves as the original, holding Python ints
        data_utils.dataset_shape = lambda dataset: tree.map_structure(
            lambda x: np.array([int(d) for d in x.shape], dtype=object), dataset
        )
        data_utils._keras_nas_shim = True


def run(split, budget, workdir):
    import autokeras

    _shim(autokeras)
    clock = Clock(budget.seconds or budget.safety_seconds)
    x_train, x_val, x_test = standardize(split)
    if split.kind != "image":
        x_train, x_val, x_test = (x.reshape(len(x), -1) for x in (x_train, x_val, x_test))
    keras.utils.set_random_seed(split.seed)
    task = autokeras.ImageClassifier if split.kind == "image" else autokeras.StructuredDataClassifier
    max_trials = budget.max_trials if budget.seconds is None else 10_000
    model = task(max_trials=max_trials, directory=workdir, project_name="autokeras", overwrite=True,
                 seed=split.seed, objective="val_accuracy")
    observe(model.tuner, clock)
    model.fit(
        x_train, split.y_train, validation_data=(x_val, split.y_val), epochs=budget.epochs, verbose=0,
        callbacks=[keras.callbacks.EarlyStopping("val_accuracy", patience=budget.patience, mode="max"),
                   EpochMonitor(clock)],
    )
    predictions = np.asarray(model.predict(x_test, verbose=0)).reshape(-1).astype(float).astype(int)
    best = model.tuner.oracle.get_best_trials(1)[0]
    exported = model.export_model()
    return {
        "test_score": float(np.mean(predictions == split.y_test)),
        "best_val_score": float(best.score),
        "epochs_trained": clock.epochs,
        "trials_completed": sum(t.status == "COMPLETED" for t in model.tuner.oracle.trials.values()),
        "oracle_seconds": clock.oracle_seconds,
        "anytime": clock.anytime,
        "params": int(exported.count_params()),
        "architecture": exported.name,
    }
