"""keras-tuner's distributed mode: a chief serving a MorphismOracle and two MorphismTuner workers.

Three processes (`_distributed_worker.py`) share one project directory; the chief serves the oracle over
gRPC on 127.0.0.1 until every trial has ended and both workers were told to stop, or were silent for
`worker_timeout` seconds (a killed worker: its trial goes to the other worker).
"""
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from keras_nas.search.morphism.oracle import PARENT
from tests import _distributed_worker as worker

SCRIPT = Path(worker.__file__)
REPO = SCRIPT.parent.parent
TUNERS = ("chief", "tuner0", "tuner1")
TIMEOUT = 300  # seconds for the whole search; it takes well under a minute
WORKER_TIMEOUT = 10  # seconds of silence after which the chief hands a worker's trial to another worker
KILLED_RUN_LIMIT = 180  # seconds within which a search that lost a worker must finish


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tail(path: Path, chars: int = 4000) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return text[-chars:]


def _run_search(tmp_path: Path, directory: Path, project: str, hold: dict[str, float] | None = None,
                kill: str | None = None, timeout: float = TIMEOUT) -> tuple[dict, str, str | None, float]:
    """Starts the chief and the two workers, waits for all to exit (or one to fail, or the timeout), kills what is left.

    `hold`: seconds a worker's first trial sleeps before training (`KERAS_NAS_TEST_HOLD`). `kill`: a worker killed
    with SIGKILL as soon as its log shows `train_begin <trial id>`. Returns the exit codes, a report for assertion
    messages, the id of the trial the killed worker was running, and the seconds from start to the last exit.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("KERASTUNER_")}
    env.update(TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1", KERASTUNER_ORACLE_IP="127.0.0.1",
               KERASTUNER_ORACLE_PORT=str(_free_port()), KERAS_NAS_WORKER_TIMEOUT=str(WORKER_TIMEOUT))
    processes, logs = {}, {}
    timed_out, killed_trial = False, None
    started = time.monotonic()
    try:
        for tuner_id in TUNERS:
            logs[tuner_id] = tmp_path / f"{tuner_id}.log"
            with open(logs[tuner_id], "wb") as log:  # the child keeps its own handle
                processes[tuner_id] = subprocess.Popen(
                    [sys.executable, str(SCRIPT), str(directory), project], cwd=REPO,
                    env={**env, "KERASTUNER_TUNER_ID": tuner_id,
                         "KERAS_NAS_TEST_HOLD": str((hold or {}).get(tuner_id, 0))},
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        deadline = started + timeout
        while True:
            if kill is not None and killed_trial is None:
                marker = re.search(r"^train_begin (\S+)$", _tail(logs[kill]), re.MULTILINE)
                if marker:
                    processes[kill].send_signal(signal.SIGKILL)
                    processes[kill].wait(timeout=30)
                    killed_trial = marker.group(1)
            codes = {tuner_id: p.poll() for tuner_id, p in processes.items()}  # poll every one
            if all(code is not None for code in codes.values()):
                break
            if any(code not in (None, 0) for tuner_id, code in codes.items() if tuner_id != kill):
                break  # a crashed worker would leave the chief waiting for it forever
            if time.monotonic() > deadline:
                timed_out = True
                break
            time.sleep(0.1)
        elapsed = time.monotonic() - started
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
        for process in processes.values():
            process.wait(timeout=30)
    codes = {tuner_id: p.returncode for tuner_id, p in processes.items()}
    report = (f"timed out after {timeout} s; " if timed_out else "") + f"exit codes {codes}\n" + "\n".join(
        f"----- {tuner_id} (exit {codes.get(tuner_id)}) -----\n{_tail(path)}" for tuner_id, path in logs.items())
    return codes, report, killed_trial, elapsed


def _raw_oracle_state(directory: Path, project: str) -> dict:
    """oracle.json as the chief left it: not through `Oracle.reload`, which moves ongoing trials to the retry queue."""
    return json.loads((directory / project / "oracle.json").read_text())


def _raw_trials(directory: Path, project: str) -> dict[str, dict]:
    return {path.parent.name.removeprefix("trial_"): json.loads(path.read_text())
            for path in sorted((directory / project).glob("trial_*/trial.json"))}


def test_a_chief_and_two_workers_complete_a_morphism_search(tmp_path, monkeypatch):
    pytest.importorskip("grpc")
    directory, project = tmp_path / "search", "distributed"
    codes, report, _, _ = _run_search(tmp_path, directory, project)
    assert codes == {tuner_id: 0 for tuner_id in TUNERS}, report

    # The chief's files as it left them: no finished trial still listed as ongoing, each trial run and ended once.
    state = _raw_oracle_state(directory, project)
    assert state["ongoing_trials"] == {}, (state["ongoing_trials"], report)
    assert sorted(state["end_order"]) == [str(i) for i in range(worker.MAX_TRIALS)], (state["end_order"], report)
    assert state["run_times"] == {str(i): 1 for i in range(worker.MAX_TRIALS)} and not state["retry_queue"], state

    # The chief's oracle state on disk, reloaded in this (non-distributed) process.
    for name in [n for n in os.environ if n.startswith("KERASTUNER_")]:
        monkeypatch.delenv(name)
    from keras_nas.search.morphism.tuner import MorphismTuner

    tuner = MorphismTuner(worker.space(), worker.oracle(), directory=directory, project_name=project, seed=0)
    trials = tuner.oracle.trials
    assert sorted(trials) == [str(i) for i in range(worker.MAX_TRIALS)], report
    assert all(t.status == "COMPLETED" for t in trials.values()), (
        {tid: (t.status, t.message) for tid, t in trials.items()}, report)
    assert all(t.score is not None and math.isfinite(t.score) for t in trials.values()), (
        {tid: t.score for tid, t in trials.items()}, report)
    assert not tuner.oracle.ongoing_trials and not tuner.oracle.tuner_ids

    # Both workers ran trials, each trial exactly once; each saved its own records.
    records = {tuner_id: json.loads((directory / project / f"{tuner_id}.json").read_text())["records"]
               for tuner_id in ("tuner0", "tuner1")}
    assert records["tuner0"] and records["tuner1"], (records, report)
    assert not set(records["tuner0"]) & set(records["tuner1"]), (records, report)
    assert set(records["tuner0"]) | set(records["tuner1"]) == set(trials), (records, report)
    assert all(r["epochs"] >= 1 and r["architecture"] for rs in records.values() for r in rs.values())
    for tuner_id, ran in records.items():  # a worker's leaderboard lists the trials it ran
        assert f"{tuner_id} done: {sorted(ran)}, leaderboard {len(ran)}" in (tmp_path / f"{tuner_id}.log").read_text()

    # After the initial points, the chief grew children from completed trials, and the workers built them.
    children = [t for t in trials.values() if PARENT in t.hyperparameters.values]
    assert children, ({tid: t.hyperparameters.values for tid, t in trials.items()}, report)
    assert not any("fallback" in entry for entry in tuner.oracle.proposal_log), tuner.oracle.proposal_log
    ran = {tid: r for rs in records.values() for tid, r in rs.items()}
    assert all(ran[t.trial_id].get("parent") == t.hyperparameters.values[PARENT] for t in children), (ran, report)


def test_a_killed_worker_s_trial_is_run_by_the_other_worker_and_the_chief_exits(tmp_path):
    """SIGKILL one worker mid-trial: the chief requeues its trial after `worker_timeout`, the other worker runs it.

    The surviving worker's own first trial sleeps longer than `worker_timeout` before training: its heartbeats keep
    it from being taken for dead. Without the heartbeat mechanism the chief would wait for the killed worker for ever.
    """
    pytest.importorskip("grpc")
    directory, project = tmp_path / "search", "killed"
    codes, report, killed_trial, elapsed = _run_search(
        tmp_path, directory, project, hold={"tuner0": WORKER_TIMEOUT + 3, "tuner1": 600}, kill="tuner1",
        timeout=KILLED_RUN_LIMIT)
    assert killed_trial is not None, report
    assert codes["tuner1"] == -signal.SIGKILL, report
    assert codes["chief"] == 0 and codes["tuner0"] == 0, report
    assert elapsed < KILLED_RUN_LIMIT, report
    chief_log = (tmp_path / "chief.log").read_text()
    assert "worker tuner1 silent" in chief_log and f"trial {killed_trial} goes back to the queue" in chief_log, report
    assert "worker tuner0 silent" not in chief_log, report  # a long first trial with heartbeats is not a death

    # Raw files: every trial COMPLETED, each ended exactly once, nothing left ongoing or queued.
    ids = [str(i) for i in range(worker.MAX_TRIALS)]
    state = _raw_oracle_state(directory, project)
    assert state["ongoing_trials"] == {} and state["retry_queue"] == [], (state, report)
    assert sorted(state["end_order"]) == ids, (state["end_order"], report)
    assert state["run_times"] == {i: 1 for i in ids}, (state["run_times"], report)
    trials = _raw_trials(directory, project)
    assert sorted(trials) == ids, (sorted(trials), report)
    assert {tid: t["status"] for tid, t in trials.items()} == {i: "COMPLETED" for i in ids}, report
    assert all(t["score"] is not None and math.isfinite(t["score"]) for t in trials.values()), report

    # The survivor ran the killed worker's trial, and every trial it did not run was one the killed worker finished.
    survivor = json.loads((directory / project / "tuner0.json").read_text())["records"]
    assert killed_trial in survivor, (sorted(survivor), killed_trial, report)
    victim_file = directory / project / "tuner1.json"
    victim = json.loads(victim_file.read_text()).get("records", {}) if victim_file.exists() else {}
    assert killed_trial not in victim and not set(victim) & set(survivor), (victim, survivor, report)
    assert set(victim) | set(survivor) == set(ids), (victim, survivor, report)
    assert f"tuner0 done: {sorted(survivor)}" in (tmp_path / "tuner0.log").read_text(), report


class _Context:
    """The part of a gRPC servicer context the chief reads: the caller's metadata."""

    def __init__(self, tuner_id: str | None) -> None:
        self._metadata = () if tuner_id is None else (("keras-nas-tuner-id", tuner_id),)

    def invocation_metadata(self):
        return self._metadata


def _chief(tmp_path: Path, max_trials: int = 2):
    """keras_nas's chief servicer over a stock RandomSearchOracle (no process, no network)."""
    pytest.importorskip("grpc")
    import keras_tuner
    from keras_tuner.src import protos

    from keras_nas.search import distributed

    hp = keras_tuner.HyperParameters()
    hp.Int("units", 1, 1000)
    oracle = keras_tuner.oracles.RandomSearchOracle(objective="loss", max_trials=max_trials, hyperparameters=hp,
                                                    seed=3)
    oracle._set_project_dir(str(tmp_path), "chief")
    return distributed._servicer_class()(oracle, worker_timeout=5.0), protos.get_service()


def _ask(servicer, service, tuner_id, metadata=True):
    from keras_tuner.src.engine import trial as trial_module

    response = servicer.CreateTrial(service.CreateTrialRequest(tuner_id=tuner_id),
                                    _Context(tuner_id if metadata else None))
    return trial_module.Trial.from_proto(response.trial)


def _finish(servicer, service, tuner_id, trial, loss, metadata=True):
    context = _Context(tuner_id if metadata else None)
    servicer.UpdateTrial(service.UpdateTrialRequest(trial_id=trial.trial_id, metrics={"loss": loss}, step=0), context)
    trial.status = "COMPLETED"
    servicer.EndTrial(service.EndTrialRequest(trial=trial.to_proto()), context)


def test_the_chief_requeues_a_silent_worker_s_trial_and_ignores_its_late_reports(tmp_path):
    servicer, service = _chief(tmp_path)
    oracle = servicer.oracle
    lost, done = _ask(servicer, service, "a"), _ask(servicer, service, "b")
    _finish(servicer, service, "b", done, 1.0)
    raw = json.loads((tmp_path / "chief" / "oracle.json").read_text())
    assert raw["ongoing_trials"] == {"a": lost.trial_id}  # saved after end_trial: b's finished trial is gone

    # max_trials are out, but a's trial may come back: b waits instead of stopping.
    assert _ask(servicer, service, "b").status == "IDLE" and not servicer.stop_triggered
    servicer.liveness._heard["a"] -= 10.0  # a has been silent for longer than worker_timeout
    servicer.requeue_silent()
    assert oracle.ongoing_trials == {} and oracle._retry_queue == [lost.trial_id] and "a" not in oracle.tuner_ids
    assert not servicer.search_done()

    rerun = _ask(servicer, service, "b")
    assert (rerun.trial_id, rerun.status) == (lost.trial_id, "RUNNING")
    _finish(servicer, service, "a", lost, 99.0)  # a was only slow: its reports for the lost trial are ignored
    assert oracle.trials[lost.trial_id].status == "RUNNING" and oracle.ongoing_trials["b"].trial_id == lost.trial_id
    _finish(servicer, service, "b", rerun, 0.5)
    assert _ask(servicer, service, "b").status == "STOPPED" and servicer.search_done()

    raw = json.loads((tmp_path / "chief" / "oracle.json").read_text())
    ids = sorted([lost.trial_id, done.trial_id])
    assert raw["ongoing_trials"] == {} and raw["retry_queue"] == [], raw
    assert sorted(raw["end_order"]) == ids and raw["run_times"] == {i: 1 for i in ids}, raw  # no retry, no failure
    assert oracle.trials[lost.trial_id].status == "COMPLETED" and oracle.trials[lost.trial_id].score == 0.5


def test_workers_without_heartbeats_are_served_as_keras_tuner_would(tmp_path):
    servicer, service = _chief(tmp_path, max_trials=1)
    trial = _ask(servicer, service, "a", metadata=False)
    servicer.requeue_silent()
    assert servicer.oracle.ongoing_trials["a"].trial_id == trial.trial_id  # never timed out
    assert _ask(servicer, service, "b", metadata=False).status == "STOPPED"  # not told to wait for it
    _finish(servicer, service, "a", trial, 1.0, metadata=False)
    assert _ask(servicer, service, "a", metadata=False).status == "STOPPED" and servicer.search_done()


@pytest.mark.parametrize("value", [0, -1, float("nan"), float("inf"), "soon", None])
def test_a_bad_worker_timeout_says_what_to_pass(value):
    from keras_nas.search import distributed

    with pytest.raises(ValueError, match="expected a positive number of seconds.*worker_timeout=120"):
        distributed.check_worker_timeout(value)
