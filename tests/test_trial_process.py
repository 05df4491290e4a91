"""Trials trained in child processes (`keras_nas.search.trial_process`): same results, bounded processes, no orphans."""
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from keras_nas import NASClassifier
from keras_nas.search import trial_process
from keras_nas.spaces import DenseSpace
from tests._trial_process_helpers import KillFirstTrial, RaiseInFirstTrial, WritePid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(90, 5)).astype("float32")
    return x, (x[:, 0] + x[:, 1] > 0).astype(int)


def _search(tmp_path, name, trials_per_process, callbacks=(), max_trials=4):
    return NASClassifier(search_space=DenseSpace(), oracle="random", max_trials=max_trials, epochs=2, seed=0,
                         trials_per_process=trials_per_process, callbacks=list(callbacks),
                         directory=str(tmp_path / name))


def _pids(folder):
    return [int(open(os.path.join(folder, name)).read()) for name in sorted(os.listdir(folder))]


def test_child_processes_train_the_same_trials_as_this_process(tmp_path, blobs):
    here = _search(tmp_path, "here", None).fit(*blobs)
    pid_folder = tmp_path / "pids"
    pid_folder.mkdir()
    away = _search(tmp_path, "away", 2, [WritePid(str(pid_folder))]).fit(*blobs)

    def scores(clf):
        return {row["trial_id"]: (row["status"], row["score"], row["params"]) for row in clf.leaderboard_}

    assert scores(away) == scores(here)  # seeded per trial: where it trains changes nothing
    pids = _pids(pid_folder)
    assert pids.count(os.getpid()) == 1  # the refit, in this process
    trial_pids = [pid for pid in pids if pid != os.getpid()]
    assert len(trial_pids) == 4 and len(set(trial_pids)) == 2  # a fresh process after every 2 trials
    np.testing.assert_allclose(away.predict_proba(blobs[0]), here.predict_proba(blobs[0]), atol=1e-6)


def test_a_trial_whose_process_dies_fails_alone_and_is_replaced(tmp_path, blobs):
    clf = _search(tmp_path, "s", 2, [KillFirstTrial(str(tmp_path / "killed"))], max_trials=3).fit(*blobs)
    rows = {row["trial_id"]: row for row in clf.leaderboard_}
    assert rows["0"]["status"] == "FAILED"
    assert "trial process ended during the trial (exit code -9" in rows["0"]["message"]
    assert sum(row["status"] == "COMPLETED" for row in rows.values()) == 3  # max_trials still completed


def test_an_error_in_the_trial_process_reaches_the_leaderboard(tmp_path, blobs):
    clf = _search(tmp_path, "s", 4, [RaiseInFirstTrial(str(tmp_path / "raised"))], max_trials=2).fit(*blobs)
    rows = {row["trial_id"]: row for row in clf.leaderboard_}
    assert rows["0"]["status"] != "COMPLETED"
    assert rows["0"]["message"] == "ValueError: boom in the trial process"
    assert "boom in the trial process" in clf.tuner_.oracle.get_trial("0").message  # the child's traceback
    assert sum(row["status"] == "COMPLETED" for row in rows.values()) == 2


_Local = type("Local", (keras.callbacks.Callback,), {"__module__": "__main__"})  # as a notebook defines it


def test_what_a_child_cannot_import_is_named(tmp_path, blobs):
    with pytest.raises(ValueError, match=r"trials_per_process=2 .* Local is defined in __main__"):
        _search(tmp_path, "s", 2, [_Local()], max_trials=1).fit(*blobs)


def test_auto_falls_back_to_this_process_with_a_warning(tmp_path, blobs):
    x, y = blobs
    clf = NASClassifier(search_space=DenseSpace(), oracle="random", max_trials=11, epochs=1, seed=0,
                        callbacks=[_Local()], directory=str(tmp_path / "s"))
    with pytest.warns(UserWarning, match=r"train in this process.*Local is defined in __main__"):
        clf.fit(x[:40], y[:40])
    assert sum(row["status"] == "COMPLETED" for row in clf.leaderboard_) == 11


def test_the_trial_process_dies_with_the_search(tmp_path):
    search = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests", "_trial_process_search.py"),
                               str(tmp_path / "s")], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": ROOT})
    try:
        for line in search.stdout:  # the trial process prints its pid once it trains
            if line.startswith("training "):
                child = int(line.split()[1])
                break
        else:
            pytest.fail(f"the search ended (exit code {search.wait()}) before its trial process trained")
        assert child != search.pid
        search.send_signal(signal.SIGKILL)
        search.wait()
        deadline = time.monotonic() + 30
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(child), "the trial process outlived the search"
    finally:
        search.kill()


def test_a_search_killed_while_a_child_trains_resumes_with_every_finished_trial_once(tmp_path):
    import json

    directory = tmp_path / "s"
    script = [sys.executable, os.path.join(ROOT, "tests", "_trial_process_search.py"), str(directory), "resumable"]
    env = {**os.environ, "PYTHONPATH": ROOT}
    search = subprocess.Popen(script, cwd=ROOT, stdout=subprocess.PIPE, text=True, env=env)
    try:
        for line in search.stdout:  # the second trial trains in its own process, after trial 0 finished
            if line.startswith("training "):
                child = int(line.split()[1])
                break
        else:
            pytest.fail(f"the search ended (exit code {search.wait()}) before its second trial trained")
        finished = json.loads((directory / "keras_nas" / "trial_0" / "trial.json").read_text())
        search.send_signal(signal.SIGKILL)
        search.wait()
    finally:
        search.kill()
    deadline = time.monotonic() + 30
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(child)

    resumed = subprocess.run(script, cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    scores = json.loads(resumed.stdout.split("scores ", 1)[1])
    assert sorted(scores) == ["0", "1", "2"] and all(status == "COMPLETED" for status, _ in scores.values())
    assert scores["0"][1] == finished["score"]  # kept, not retrained
    # Trainings: trial 0, trial 1 (killed), trial 1 again, trial 2, the refit; trial 0 never twice.
    assert (directory / "count").read_text() == "5"


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("value", [0, -1, 1.5, True, "always", [2]])
def test_trials_per_process_is_checked(value, blobs):
    with pytest.raises(ValueError, match=r"trials_per_process must be 'auto', None or a positive integer; received"):
        NASClassifier(trials_per_process=value).fit(*blobs)


@pytest.mark.parametrize("setting, max_trials, worker, expected", [
    ("auto", 10, False, None), ("auto", 11, False, "auto"), ("auto", None, False, "auto"), ("auto", 50, True, None),
    (None, 50, False, None), (3, 2, False, 3), (3, 2, True, 3),
])
def test_plan(setting, max_trials, worker, expected):
    assert trial_process.plan(setting, max_trials, worker) == expected


@pytest.mark.parametrize("policy, trials_run, memory, expected", [
    (2, 1, [700.0], False), (2, 2, [700.0, 900.0], True),
    ("auto", 2, [700.0, 760.0], False),  # grew 60 MiB since its first trial
    ("auto", 3, [700.0, 740.0, 765.0], True),  # grew 65 MiB: more than trial_process.AUTO_GROWTH_MIB
    ("auto", 9, [None] * 9, False), ("auto", 10, [None] * 10, True),  # memory unreadable: every 10 trials
])
def test_when_a_trial_process_is_replaced(policy, trials_run, memory, expected):
    process = object.__new__(trial_process.TrialProcess)
    process.trials_run, process.memory_mib = trials_run, memory
    process.process = _Running()
    assert process.worn_out(policy) is expected
    process.process.returncode = -9  # died in its last trial: replaced whatever the policy says
    assert process.worn_out(policy) is True


class _Running:
    returncode = None

    def poll(self):
        return self.returncode
