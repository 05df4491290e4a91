"""Project directories: resume the same search, refuse another one, report corruption."""
import json
import os

import numpy as np
import pytest

from keras_nas import NASClassifier
from keras_nas.search.project import FINGERPRINT
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


def _tree(root):
    return sorted(os.path.relpath(os.path.join(folder, name), root)
                  for folder, dirs, names in os.walk(root) for name in names + dirs)


@pytest.mark.parametrize("name", ["", ".", "..", "ABSOLUTE", "inner/keras_nas", "..\\up", None, 3])
def test_project_name_must_be_a_plain_folder_name(tmp_path, tabular_small, name):
    """An empty, absolute or '..' project_name used to make overwrite=True delete `directory`, another folder or its parent."""
    x, y = tabular_small
    directory = tmp_path / "runs"
    (directory / "inner" / "keras_nas").mkdir(parents=True)
    (directory / "inner" / "keras_nas" / FINGERPRINT).write_text("{}")
    (directory / "mine.txt").write_text("mine")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / FINGERPRINT).write_text("{}")
    if name == "ABSOLUTE":
        name = str(tmp_path / "elsewhere")
    before = _tree(tmp_path)
    with pytest.raises(ValueError, match=r"project_name must be a plain folder name") as raised:
        NASClassifier(**TINY, directory=directory, project_name=name, overwrite=True).fit(x, y)
    assert f"received project_name={name!r}" in str(raised.value)
    assert _tree(tmp_path) == before


def test_overwrite_never_clears_a_folder_keras_nas_did_not_create(tmp_path, tabular_small):
    x, y = tabular_small
    os.makedirs(tmp_path / "keras_nas" / "trial_0")
    (tmp_path / "keras_nas" / "notes.txt").write_text("mine")
    (tmp_path / "keras_nas" / "oracle.json").write_text("{}")  # a keras-tuner search, not one of keras_nas's
    (tmp_path / "keras_nas" / "trial_0" / "trial.json").write_text("{}")
    before = _tree(tmp_path)
    with pytest.raises(ValueError, match=r"overwrite=True clears only a project directory that keras_nas created.*"
                                         r"'notes.txt'.*nothing was deleted"):
        NASClassifier(**TINY, directory=tmp_path, overwrite=True).fit(x, y)
    assert _tree(tmp_path) == before and (tmp_path / "keras_nas" / "notes.txt").read_text() == "mine"


def test_overwrite_does_not_follow_a_link_out_of_the_directory(tmp_path, tabular_small):
    """A fingerprint is only trusted in a real folder directly inside `directory`."""
    x, y = tabular_small
    target = tmp_path / "precious"
    target.mkdir()
    (target / FINGERPRINT).write_text("{}")
    (target / "data.csv").write_text("1,2")
    (tmp_path / "runs").mkdir()
    os.symlink(target, tmp_path / "runs" / "keras_nas")
    with pytest.raises(ValueError, match="nothing was deleted"):
        NASClassifier(**TINY, directory=tmp_path / "runs", overwrite=True).fit(x, y)
    assert sorted(os.listdir(target)) == sorted([FINGERPRINT, "data.csv"])


def test_a_project_path_that_is_a_file_is_refused(tmp_path, tabular_small):
    x, y = tabular_small
    (tmp_path / "keras_nas").write_text("mine")
    with pytest.raises(ValueError, match="is a file, not a folder"):
        NASClassifier(**TINY, directory=tmp_path, overwrite=True).fit(x, y)
    assert (tmp_path / "keras_nas").read_text() == "mine"


def test_overwrite_clears_a_damaged_keras_nas_project_but_nothing_beside_it(tmp_path, tabular_small):
    x, y = tabular_small
    os.makedirs(tmp_path / "keras_nas" / "trial_0")
    (tmp_path / "keras_nas" / FINGERPRINT).write_text("{trunc")
    (tmp_path / "keras_nas" / "trial_0" / "trial.json").write_text("{}")
    (tmp_path / "keras_nas" / "notes.txt").write_text("mine")
    (tmp_path / "beside.txt").write_text("mine")
    with pytest.warns(UserWarning, match=r"kept \['notes.txt'\]: keras_nas did not write them"):
        clf = NASClassifier(**{**TINY, "max_trials": 1}, directory=tmp_path, overwrite=True).fit(x, y)
    assert len(clf.leaderboard_) == 1 and (tmp_path / "beside.txt").read_text() == "mine"
    assert (tmp_path / "keras_nas" / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("name", ["morphism", "bayesian", "random", "hyperband"])
def test_every_oracles_own_state_passes_the_check_and_a_missing_key_is_named(tmp_path, name):
    from keras_nas.search import oracles
    from keras_nas.search import project_check

    oracle = oracles.get_oracle(name, "val_accuracy", 5, 3, seed=0)
    oracle._set_project_dir(str(tmp_path), "p")
    state = json.loads(json.dumps(oracle.get_state()))
    os.makedirs(tmp_path / "p")
    (tmp_path / "p" / FINGERPRINT).write_text(json.dumps({"oracle": name}))
    (tmp_path / "p" / "tuner0.json").write_text(json.dumps({"records": {}, "oracle_seconds": 0.0}))
    (tmp_path / "p" / "oracle.json").write_text(json.dumps(state))
    project_check.check_readable(str(tmp_path), "p")
    key = {"bayesian": "alpha", "hyperband": "current_bracket"}.get(name, "start_order")  # read by set_state
    del state[key]
    (tmp_path / "p" / "oracle.json").write_text(json.dumps(state))
    with pytest.raises(ValueError, match=rf"is corrupt: oracle.json lacks the keys \['{key}'\]"):
        project_check.check_readable(str(tmp_path), "p")
