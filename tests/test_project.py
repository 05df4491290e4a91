"""Project directories: resume the same search, refuse another one, report corruption."""
import json
import os

import numpy as np
import pytest

from keras_nas import NASClassifier
from keras_nas.project import FINGERPRINT
from tests.conftest import TINY


def _scores(clf):
    return {row["trial_id"]: (row["score"], row["hyperparameters"]) for row in clf.leaderboard_}


def test_resume_keeps_finished_trials_and_extends_the_budget(tmp_path, tabular_small):
    x, y = tabular_small
    first = NASClassifier(**TINY, directory=tmp_path).fit(x, y)
    second = NASClassifier(**{**TINY, "max_trials": 3}, directory=tmp_path).fit(x, y)
    before, after = _scores(first), _scores(second)
    assert len(after) == 3
    assert all(after[tid] == before[tid] for tid in before)


def test_a_different_search_in_the_same_directory_is_refused(tmp_path, tabular_small, digits_small):
    x, y = tabular_small
    NASClassifier(**TINY, directory=tmp_path).fit(x, y)
    with pytest.raises(ValueError, match=r"holds a different search \(differs in \['data', 'input_shape', 'outputs'\]"):
        NASClassifier(**TINY, directory=tmp_path).fit(*digits_small)
    with pytest.raises(ValueError, match=r"differs in \['oracle', 'search_space'\]"):
        NASClassifier(**TINY, directory=tmp_path, oracle="random").fit(x, y)
    # Nothing already done was lost by the refusals.
    assert len(NASClassifier(**TINY, directory=tmp_path).fit(x, y).leaderboard_) == 2
    replaced = NASClassifier(**{**TINY, "max_trials": 1}, directory=tmp_path, overwrite=True).fit(*digits_small)
    assert len(replaced.leaderboard_) == 1


def test_corrupt_fingerprint(tmp_path, tabular_small):
    x, y = tabular_small
    os.makedirs(tmp_path / "keras_nas")
    (tmp_path / "keras_nas" / FINGERPRINT).write_text("{not json")
    with pytest.raises(ValueError, match="is corrupt: keras_nas_search.json cannot be read"):
        NASClassifier(**TINY, directory=tmp_path).fit(x, y)


def test_corrupt_trial_file(tmp_path, tabular_small):
    x, y = tabular_small
    NASClassifier(**TINY, directory=tmp_path).fit(x, y)
    trial = tmp_path / "keras_nas" / "trial_0" / "trial.json"
    content = trial.read_text()
    trial.write_text(content[: len(content) // 2])
    with pytest.raises(ValueError, match=r"is corrupt: .*trial.json cannot be read"):
        NASClassifier(**TINY, directory=tmp_path).fit(x, y)
    trial.write_text(content)  # restoring the file makes the search resumable again
    assert len(NASClassifier(**TINY, directory=tmp_path).fit(x, y).leaderboard_) == 2


def test_foreign_directory_is_refused(tmp_path, tabular_small):
    x, y = tabular_small
    os.makedirs(tmp_path / "keras_nas")
    (tmp_path / "keras_nas" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty and was not written by keras_nas"):
        NASClassifier(**TINY, directory=tmp_path).fit(x, y)
    assert (tmp_path / "keras_nas" / "notes.txt").read_text() == "mine"


def test_fingerprint_is_readable_json(tmp_path, tabular_small):
    x, y = tabular_small
    NASClassifier(**TINY, directory=tmp_path).fit(x, y)
    fingerprint = json.loads((tmp_path / "keras_nas" / FINGERPRINT).read_text())
    assert fingerprint["task"] == "classification" and fingerprint["input_shape"] == [x.shape[1]]
    assert fingerprint["search_space"]["class"] == "MorphismSpace" and np.isscalar(fingerprint["outputs"])


def test_other_data_in_the_same_directory_is_refused(tmp_path, tabular_small):
    """Cross-validation folds with a fixed directory must not resume each other's trials."""
    x, y = tabular_small
    NASClassifier(**{**TINY, "max_trials": 1}, directory=tmp_path).fit(x[:80], y[:80])
    with pytest.raises(ValueError, match=r"differs in \['data'\]"):
        NASClassifier(**{**TINY, "max_trials": 1}, directory=tmp_path).fit(x[80:], y[80:])
    with pytest.raises(ValueError, match=r"differs in \['split'\]"):
        NASClassifier(**{**TINY, "max_trials": 1, "seed": 1}, directory=tmp_path).fit(x[:80], y[:80])
