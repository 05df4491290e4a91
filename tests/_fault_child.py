"""One run of the small search that `test_fault_injection.py` kills: search, refit, export, reload the export.

Run by path: `python _fault_child.py DIRECTORY EXPORT_PATH`. It prints one marker line per event
(`train_begin ID`, `train_end ID`, `refit_begin`, `export_begin`, `export_done`, ...) and, at the end, a
`result {...}` line (scores, predictions of the estimator and of the reloaded export).

`KERAS_NAS_FAULT_HOLD=POINT[:TRIAL_ID]` holds one window open: right at that point the child prints
`hold POINT` and sleeps, and the parent kills it during the sleep. The points:

- `batch:ID` (mid-epoch), `epoch:ID` (after the first epoch, before its checkpoint): during training;
- `trained:ID`: `NASTuner.run_trial` returned; nothing is reported to the oracle yet;
- `ended:ID`: `Oracle.end_trial` returned (`oracle.json` still lists the trial as ongoing);
- `saved:ID`: `BaseTuner.on_trial_end` returned (the tuner's records are saved);
- `proposal:ID`: the oracle proposed the trial's values, nothing is written yet;
- `created:ID`: `trial_ID/trial.json` is written but `oracle.json` does not know the trial yet;
- `begun:ID`: `Oracle.create_trial` returned (the trial is in `oracle.json`), training has not begun;
- `refit_begin`, `refit`: before and during the final refit; `export`: the SavedModel's variables are
  written, its `saved_model.pb` is not.

Importing this module does nothing (pytest's `--doctest-modules` imports it).
"""
import json
import os
import sys
import time

HOLD_SECONDS = 600.0
MAX_TRIALS = 3
EPOCHS = 2
ROWS = 200


def _say(line: str) -> None:
    print(line, flush=True)


def _hold(point: str, trial_id=None) -> None:
    wanted = os.environ.get("KERAS_NAS_FAULT_HOLD", "")
    name, _, wanted_id = wanted.partition(":")
    if name == point and (not wanted_id or wanted_id == str(trial_id)):
        _say(f"hold {wanted}")
        time.sleep(HOLD_SECONDS)


def _install_hooks(state: dict) -> None:
    """Wraps the library calls at the hold points; each wrapper only prints and may sleep."""
    import keras_tuner
    from keras_tuner.src.engine import base_tuner, oracle
    from tensorflow.python.lib.io import file_io

    from keras_nas.estimators.trial_search import TrialSearch
    from keras_nas.search.tuner import NASTuner

    run_trial = NASTuner.run_trial

    def wrapped_run_trial(self, trial, *args, **kwargs):
        state["trial"] = trial.trial_id
        _say(f"train_begin {trial.trial_id}")
        results = run_trial(self, trial, *args, **kwargs)
        _say(f"train_end {trial.trial_id}")
        _hold("trained", trial.trial_id)
        return results

    NASTuner.run_trial = wrapped_run_trial

    end_trial = oracle.Oracle.end_trial

    def wrapped_end_trial(self, trial):
        result = end_trial(self, trial)
        _say(f"trial_end {trial.trial_id}")
        _hold("ended", trial.trial_id)
        return result

    oracle.Oracle.end_trial = wrapped_end_trial

    on_trial_end = base_tuner.BaseTuner.on_trial_end

    def wrapped_on_trial_end(self, trial):
        result = on_trial_end(self, trial)
        _hold("saved", trial.trial_id)
        return result

    base_tuner.BaseTuner.on_trial_end = wrapped_on_trial_end

    populate_space = keras_tuner.oracles.RandomSearchOracle.populate_space

    def wrapped_populate_space(self, trial_id):
        result = populate_space(self, trial_id)
        _hold("proposal", trial_id)
        return result

    keras_tuner.oracles.RandomSearchOracle.populate_space = wrapped_populate_space

    create_trial = oracle.Oracle.create_trial
    get_state = oracle.Oracle.get_state

    def wrapped_create_trial(self, tuner_id):
        state["creating"] = len(self.start_order)
        try:
            trial = create_trial(self, tuner_id)
        finally:
            state["creating"] = None
        _hold("begun", trial.trial_id)
        return trial

    def wrapped_get_state(self):
        # Inside `create_trial`, the state is taken to write oracle.json right after a new trial's trial.json.
        before = state.get("creating")
        if before is not None and len(self.start_order) > before:
            trial_id = self.start_order[-1]
            if os.path.exists(os.path.join(self._project_dir, f"trial_{trial_id}", "trial.json")):
                _hold("created", trial_id)
        return get_state(self)

    oracle.Oracle.create_trial = wrapped_create_trial
    oracle.Oracle.get_state = wrapped_get_state

    final_model = TrialSearch.final_model

    def wrapped_final_model(self, *args, **kwargs):
        _say("refit_begin")
        _hold("refit_begin")
        state["refit"] = True
        return final_model(self, *args, **kwargs)

    TrialSearch.final_model = wrapped_final_model

    atomic_write = file_io.atomic_write_string_to_file

    def wrapped_atomic_write(filename, contents, *args, **kwargs):
        if str(filename).endswith("saved_model.pb"):
            _hold("export")
        return atomic_write(filename, contents, *args, **kwargs)

    file_io.atomic_write_string_to_file = wrapped_atomic_write


def _markers(state: dict):
    import keras

    class Markers(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 2 and not state.get("refit"):
                _hold("batch", state.get("trial"))

        def on_epoch_end(self, epoch, logs=None):
            if state.get("refit"):
                _say(f"refit_epoch_end {epoch}")
                _hold("refit")
            else:
                _say(f"epoch_end {state.get('trial')} {epoch}")
                if epoch == 0:
                    _hold("epoch", state.get("trial"))

    return Markers()


def main(directory: str, export_path: str) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import numpy as np
    from sklearn.datasets import load_breast_cancer

    from keras_nas import NASClassifier

    state: dict = {}
    _install_hooks(state)
    x, y = load_breast_cancer(return_X_y=True)
    x, y = x[:ROWS].astype("float32"), y[:ROWS]
    clf = NASClassifier(
        oracle="random", search_space="dense", max_trials=MAX_TRIALS, epochs=EPOCHS, seed=0,
        directory=directory, verbose=1, callbacks=[_markers(state)],
    )
    _say("fit_begin")
    clf.fit(x, y)
    _say("export_begin")
    path = clf.export(export_path)
    _say("export_done")

    import tensorflow as tf

    loaded = tf.saved_model.load(path)
    exported = np.asarray(loaded.serve(tf.constant(x[:8])))
    scores = {row["trial_id"]: row["score"] for row in clf.leaderboard_}
    _say("result " + json.dumps({
        "scores": scores,
        "best_trial_id": clf.best_trial_id_,
        "estimator": clf.predict_proba(x[:8]).tolist(),
        "exported": exported.tolist(),
    }))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
