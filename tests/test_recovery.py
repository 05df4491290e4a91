"""Reconciling a reloaded project with its trial files, on projects left as a kill leaves them (no training)."""
import copy
import json
import os

import keras
import keras_tuner
import pytest

from keras_nas.search import recovery
from keras_nas.search.records import TrialRecord
from keras_nas.search.tuner import NASTuner

PROJECT = "p"


class _Killed(Exception):
    """Stands for SIGKILL: raised where the process would have died."""


def _oracle(directory) -> keras_tuner.Oracle:
    hp = keras_tuner.HyperParameters()
    hp.Int("units", 1, 10_000)
    oracle = keras_tuner.oracles.RandomSearchOracle(
        objective=keras_tuner.Objective("score", "max"), max_trials=3, seed=7, hyperparameters=hp
    )
    oracle._set_project_dir(str(directory), PROJECT)
    return oracle


def _reloaded(directory) -> keras_tuner.Oracle:
    oracle = _oracle(directory)
    oracle.reload()
    return oracle


def _finish(oracle, trial, score: float) -> None:
    oracle.update_trial(trial.trial_id, {"score": score})
    trial.status = "COMPLETED"
    oracle.end_trial(trial)


def _killed_at_save(oracle, call) -> None:
    """Runs `call` with `oracle.json` writes dying: what a kill right before that write leaves."""
    def die():
        raise _Killed()

    oracle.save = die
    with pytest.raises(_Killed):
        call()


def _oracle_file(directory) -> dict:
    with open(os.path.join(directory, PROJECT, "oracle.json")) as handle:
        return json.load(handle)


def test_trial_finished_but_still_listed_as_ongoing_is_not_trained_again(tmp_path):
    oracle = _oracle(tmp_path)
    _finish(oracle, oracle.create_trial("tuner0"), 0.5)  # the kill comes before the tuner's own save
    assert _oracle_file(tmp_path)["ongoing_trials"] == {"tuner0": "0"}

    resumed = _reloaded(tmp_path)
    changes = recovery.reconcile(resumed)
    assert resumed.create_trial("tuner0").trial_id == "1"
    assert resumed.trials["0"].status == "COMPLETED" and resumed.trials["0"].score == 0.5
    assert resumed._run_times["0"] == 1 and resumed.end_order == ["0"]
    assert changes == {"ended": ["0"], "dropped": [], "requeued": []}


def test_trial_file_written_before_the_oracle_knew_it_is_dropped_and_proposed_again(tmp_path):
    reference = _oracle(tmp_path / "reference")
    _finish(reference, reference.create_trial("tuner0"), 0.5)
    expected = reference.create_trial("tuner0").hyperparameters.values

    oracle = _oracle(tmp_path)
    _finish(oracle, oracle.create_trial("tuner0"), 0.5)
    oracle.save()
    _killed_at_save(oracle, lambda: oracle.create_trial("tuner0"))
    phantom = tmp_path / PROJECT / "trial_1" / "trial.json"
    assert json.loads(phantom.read_text())["status"] == "RUNNING"

    resumed = _reloaded(tmp_path)
    changes = recovery.reconcile(resumed)
    assert not phantom.exists() and sorted(resumed.trials) == ["0"]
    assert resumed.remaining_trials() == 2  # the phantom does not count against max_trials
    trial = resumed.create_trial("tuner0")
    assert trial.trial_id == "1" and trial.hyperparameters.values == expected
    assert changes["dropped"] == ["1"]


def test_trial_killed_inside_end_trial_counts_as_ended_once(tmp_path):
    oracle = _oracle(tmp_path)
    trial = oracle.create_trial("tuner0")
    oracle.update_trial(trial.trial_id, {"score": 0.25})
    trial.status = "COMPLETED"
    _killed_at_save(oracle, lambda: oracle.end_trial(trial))  # trial.json says COMPLETED, oracle.json does not
    assert _oracle_file(tmp_path)["end_order"] == []

    resumed = _reloaded(tmp_path)
    changes = recovery.reconcile(resumed)
    assert resumed.end_order == ["0"] and resumed._run_times["0"] == 1
    assert resumed.create_trial("tuner0").trial_id == "1"
    assert changes["ended"] == ["0"]


def test_trial_interrupted_while_training_runs_once_more_under_its_own_id(tmp_path):
    oracle = _oracle(tmp_path)
    oracle.create_trial("tuner0")  # killed during training

    resumed = _reloaded(tmp_path)
    recovery.reconcile(resumed)
    again = resumed.create_trial("tuner0")
    assert again.trial_id == "0" and again.status == "RUNNING"
    _finish(resumed, again, 0.75)
    assert resumed.create_trial("tuner0").trial_id == "1"


def test_durable_oracle_keeps_the_previous_file_when_a_write_dies(tmp_path, monkeypatch):
    oracle = recovery.make_durable(_oracle(tmp_path))
    trial = oracle.create_trial("tuner0")
    before_oracle = (tmp_path / PROJECT / "oracle.json").read_text()
    before_trial = (tmp_path / PROJECT / "trial_0" / "trial.json").read_text()

    def dies(_descriptor):
        raise OSError("disk gone")

    monkeypatch.setattr(os, "fsync", dies)  # the write is under way but not yet complete
    with pytest.raises(OSError):
        oracle.update_trial(trial.trial_id, {"score": 0.5})
    with pytest.raises(OSError):
        oracle.save()
    monkeypatch.undo()
    assert (tmp_path / PROJECT / "oracle.json").read_text() == before_oracle
    assert (tmp_path / PROJECT / "trial_0" / "trial.json").read_text() == before_trial
    leftovers = [n for _, _, names in os.walk(tmp_path) for n in names if n.startswith(".tmp_")]
    assert leftovers == []


def test_an_oracle_that_extends_save_keeps_its_own_and_writes_atomically(tmp_path, monkeypatch):
    class Custom(keras_tuner.oracles.RandomSearchOracle):
        def save(self):
            self.saves = getattr(self, "saves", 0) + 1
            super().save()

    oracle = Custom(objective=keras_tuner.Objective("score", "max"), max_trials=2)
    oracle._set_project_dir(str(tmp_path), PROJECT)
    recovery.make_durable(oracle)
    oracle.save()
    assert oracle.saves == 1 and (tmp_path / PROJECT / "oracle.json").is_file()
    monkeypatch.setattr(os, "fsync", lambda _descriptor: (_ for _ in ()).throw(OSError("disk gone")))
    with pytest.raises(OSError):
        oracle.save()


def test_a_durable_oracle_stays_plain_data_and_others_write_as_before(tmp_path, monkeypatch):
    durable = recovery.make_durable(_oracle(tmp_path / "durable"))
    assert "save" not in vars(durable) and "_save_trial" not in vars(durable)  # copies and pickles as before
    copy.deepcopy(durable).save()
    plain = _oracle(tmp_path / "plain")
    monkeypatch.setattr(os, "fsync", lambda _descriptor: (_ for _ in ()).throw(OSError("disk gone")))
    plain.create_trial("tuner0")  # an oracle never handed to a NASTuner writes as keras-tuner does
    assert (tmp_path / "plain" / PROJECT / "trial_0" / "trial.json").is_file()


def _build(hp):
    return keras.Sequential([keras.Input((2,)), keras.layers.Dense(hp.Int("units", 1, 10_000))])


def test_nas_tuner_repairs_the_project_on_disk_when_it_reloads(tmp_path):
    oracle = _oracle(tmp_path)
    _finish(oracle, oracle.create_trial("tuner0"), 0.5)  # killed inside the tuner's on_trial_end ...
    _killed_at_save(oracle, lambda: oracle.create_trial("tuner0"))  # ... or, here, inside the next proposal
    (tmp_path / PROJECT / "tuner0.json").write_text(json.dumps({"records": {"0": {"architecture": "a"}}}))

    tuner = NASTuner(_build, _oracle(tmp_path), directory=str(tmp_path), project_name=PROJECT)
    on_disk = _oracle_file(tmp_path)
    assert on_disk["ongoing_trials"] == {} and on_disk["retry_queue"] == []
    assert not (tmp_path / PROJECT / "trial_1" / "trial.json").exists()
    assert sorted(tuner.oracle.trials) == ["0"] and tuner.records == {"0": TrialRecord(architecture="a")}
