"""Every damaged file of a project is named on resume; nothing is silently reused, overwritten or lost.

One tiny search is run once; each case copies its project, damages one file
and resumes on the copy. A refused resume must name the file, and must leave
every file of the project as it was.
"""
import json
import os
import shutil

import pytest
from sklearn.datasets import load_breast_cancer

from keras_nas import NASClassifier
from keras_nas.search.checkpoints import CheckpointError

PROJECT = "keras_nas"
PARAMS = dict(oracle="random", search_space="dense", max_trials=2, epochs=1, seed=0, project_name=PROJECT)


@pytest.fixture(scope="module")
def data():
    x, y = load_breast_cancer(return_X_y=True)
    return x[:60].astype("float32"), y[:60]


@pytest.fixture(scope="module")
def searched(tmp_path_factory, data):
    """The directory of a finished search, and its best trial's id."""
    directory = tmp_path_factory.mktemp("searched")
    clf = NASClassifier(**PARAMS, directory=str(directory)).fit(*data)
    assert sorted(os.listdir(directory / PROJECT)) == [
        "keras_nas_search.json", "oracle.json", "trial_0", "trial_1", "tuner0.json"]
    return directory, clf.best_trial_id_, clf.best_score_


def _json(path):
    return json.loads(path.read_text())


def _edit(path, **changes):
    path.write_text(json.dumps({**_json(path), **changes}))


def _truncate(path):
    content = path.read_bytes()
    path.write_bytes(content[: len(content) // 2])


def _scribble(path):
    """Random bytes over the middle of the file, its size unchanged: HDF5 still opens it."""
    content = bytearray(path.read_bytes())
    middle = len(content) // 2
    content[middle: middle + 256] = os.urandom(256)
    path.write_bytes(bytes(content))


def _trial(best):
    return f"trial_{best}"


# (case id, relative file named in the error, damage(project, best trial id), expected message part)
CASES = [
    ("oracle-empty", "oracle.json", lambda p, b: (p / "oracle.json").write_text(""), "is empty"),
    ("oracle-truncated", "oracle.json", lambda p, b: _truncate(p / "oracle.json"), "is not valid JSON"),
    ("oracle-invalid-json", "oracle.json", lambda p, b: (p / "oracle.json").write_text("{'ongoing_trials': "),
     "is not valid JSON"),
    ("oracle-empty-object", "oracle.json", lambda p, b: (p / "oracle.json").write_text("{}"), "lacks the keys"),
    ("oracle-not-an-object", "oracle.json", lambda p, b: (p / "oracle.json").write_text("[1, 2]"),
     "expected a JSON object"),
    ("oracle-wrong-type", "oracle.json", lambda p, b: _edit(p / "oracle.json", start_order={"0": 1}),
     "'start_order'"),
    ("tuner-empty", "tuner0.json", lambda p, b: (p / "tuner0.json").write_text(""), "is empty"),
    ("tuner-empty-object", "tuner0.json", lambda p, b: (p / "tuner0.json").write_text("{}"), "lacks the keys"),
    ("tuner-records-not-a-dict", "tuner0.json", lambda p, b: _edit(p / "tuner0.json", records=[1, 2]), "'records'"),
    ("tuner-record-unknown-field", "tuner0.json",
     lambda p, b: _edit(p / "tuner0.json", records={b: {"architecture": "a", "colour": "red"}}), "unknown fields"),
    ("tuner-deleted", "tuner0.json", lambda p, b: (p / "tuner0.json").unlink(), "is missing"),
    ("fingerprint-invalid-json", "keras_nas_search.json",
     lambda p, b: (p / "keras_nas_search.json").write_text("{not json"), "cannot be read"),
    ("fingerprint-empty-object", "keras_nas_search.json",
     lambda p, b: (p / "keras_nas_search.json").write_text("{}"), "has no 'task'"),
    ("fingerprint-deleted", "keras_nas_search.json", lambda p, b: (p / "keras_nas_search.json").unlink(),
     "not written by keras_nas"),
    ("trial-truncated", "trial_{best}/trial.json", lambda p, b: _truncate(p / _trial(b) / "trial.json"),
     "is not valid JSON"),
    ("trial-empty-object", "trial_{best}/trial.json", lambda p, b: (p / _trial(b) / "trial.json").write_text("{}"),
     "lacks the keys"),
    ("trial-score-string", "trial_{best}/trial.json", lambda p, b: _edit(p / _trial(b) / "trial.json", score="abc"),
     "'score' = 'abc'"),
    ("trial-status-number", "trial_{best}/trial.json", lambda p, b: _edit(p / _trial(b) / "trial.json", status=42),
     "'status' = 42"),
    ("trial-hyperparameters-garbage", "trial_{best}/trial.json",
     lambda p, b: _edit(p / _trial(b) / "trial.json", hyperparameters={"space": [{"class_name": "Nope"}], "values": {}}),
     "'hyperparameters'"),
    ("trial-id-of-another-trial", "trial_{best}/trial.json",
     lambda p, b: _edit(p / _trial(b) / "trial.json", trial_id="7"), "names trial '7'"),
    ("trial-json-deleted", "trial_{best}/trial.json", lambda p, b: (p / _trial(b) / "trial.json").unlink(),
     "is missing, though"),
    ("trial-folder-deleted", "trial_{best}/trial.json", lambda p, b: shutil.rmtree(p / _trial(b)),
     "oracle.json lists trial"),
    ("build-config-invalid", "trial_{best}/build_config.json",
     lambda p, b: (p / _trial(b) / "build_config.json").write_text("{"), "is not valid JSON"),
    ("checkpoint-truncated", "trial_{best}/checkpoint.weights.h5",
     lambda p, b: _truncate(p / _trial(b) / "checkpoint.weights.h5"), "does not match its checksum"),
    ("checkpoint-random-bytes", "trial_{best}/checkpoint.weights.h5",
     lambda p, b: _scribble(p / _trial(b) / "checkpoint.weights.h5"), "does not match its checksum"),
    ("checkpoint-deleted", "trial_{best}/checkpoint.weights.h5",
     lambda p, b: (p / _trial(b) / "checkpoint.weights.h5").unlink(), "is missing"),
    ("checksum-deleted", "trial_{best}/checkpoint.weights.h5",
     lambda p, b: (p / _trial(b) / "checkpoint.weights.h5.sha256").unlink(), "has no checksum file"),
    ("checksum-wrong", "trial_{best}/checkpoint.weights.h5",
     lambda p, b: (p / _trial(b) / "checkpoint.weights.h5.sha256").write_text("0" * 64 + "  checkpoint.weights.h5\n"),
     "does not match its checksum"),
    ("checksum-garbage", "trial_{best}/checkpoint.weights.h5",
     lambda p, b: (p / _trial(b) / "checkpoint.weights.h5.sha256").write_text("not a digest"),
     "holds no sha256 digest"),
]


def _snapshot(root):
    return {
        os.path.relpath(os.path.join(folder, name), root): open(os.path.join(folder, name), "rb").read()
        for folder, _, names in os.walk(root) for name in names
    }


@pytest.fixture
def copy(searched, tmp_path):
    source, best, score = searched
    directory = tmp_path / "copy"
    shutil.copytree(source, directory)
    return directory, best, score


def test_an_intact_copy_resumes_with_the_same_result(copy, data):
    directory, best, score = copy
    clf = NASClassifier(**PARAMS, directory=str(directory)).fit(*data)
    assert clf.best_trial_id_ == best and clf.best_score_ == score and len(clf.leaderboard_) == 2


@pytest.mark.parametrize("relative, damage, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_damaged_file_refuses_the_resume_and_names_it(copy, data, relative, damage, expected):
    directory, best, _ = copy
    project = directory / PROJECT
    damage(project, best)
    before = _snapshot(directory)
    with pytest.raises(ValueError) as raised:
        NASClassifier(**PARAMS, directory=str(directory)).fit(*data)
    message = str(raised.value)
    assert type(raised.value) is ValueError
    assert relative.format(best=best) in message and expected in message, message
    assert "overwrite=True" in message or "Restore the file" in message, message
    assert _snapshot(directory) == before  # a refused resume changes nothing


def test_a_best_checkpoint_deleted_with_its_checksum_is_refused_at_refit(copy, data):
    """A morphism search prunes checkpoints with their checksums: only their use can tell a missing one."""
    directory, best, _ = copy
    checkpoint = directory / PROJECT / _trial(best) / "checkpoint.weights.h5"
    checkpoint.unlink()
    (directory / PROJECT / _trial(best) / "checkpoint.weights.h5.sha256").unlink()
    with pytest.raises(CheckpointError, match=rf"{_trial(best)}/checkpoint.weights.h5 is missing.*refit='scratch'"):
        NASClassifier(**PARAMS, directory=str(directory)).fit(*data)
    # The trials themselves are intact: a refit that needs no weights works.
    clf = NASClassifier(**PARAMS, refit="scratch", directory=str(directory)).fit(*data)
    assert clf.best_trial_id_ == best


def test_overwrite_replaces_a_damaged_project(copy, data):
    directory, best, _ = copy
    (directory / PROJECT / "oracle.json").write_text("")
    clf = NASClassifier(**PARAMS, overwrite=True, directory=str(directory)).fit(*data)
    assert len(clf.leaderboard_) == 2
