"""keras-tuner's distributed mode: a chief serving a MorphismOracle and two MorphismTuner workers.

Three processes (`_distributed_worker.py`) share one project directory; the chief serves the oracle over
gRPC on 127.0.0.1 until every trial has ended and both workers were told to stop.
"""
import json
import math
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from keras_nas.oracles.morphism import PARENT
from tests import _distributed_worker as worker

SCRIPT = Path(worker.__file__)
REPO = SCRIPT.parent.parent
TUNERS = ("chief", "tuner0", "tuner1")
TIMEOUT = 300  # seconds for the whole search; it takes well under a minute


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tail(path: Path, chars: int = 4000) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return text[-chars:]


def _run_search(tmp_path: Path, directory: Path, project: str) -> tuple[dict, str]:
    """Starts the chief and the two workers, waits for all to exit (or one to fail, or the timeout), kills what is left."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KERASTUNER_")}
    env.update(TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1", KERASTUNER_ORACLE_IP="127.0.0.1",
               KERASTUNER_ORACLE_PORT=str(_free_port()))
    processes, logs = {}, {}
    timed_out = False
    try:
        for tuner_id in TUNERS:
            logs[tuner_id] = tmp_path / f"{tuner_id}.log"
            with open(logs[tuner_id], "wb") as log:  # the child keeps its own handle
                processes[tuner_id] = subprocess.Popen(
                    [sys.executable, str(SCRIPT), str(directory), project], cwd=REPO,
                    env={**env, "KERASTUNER_TUNER_ID": tuner_id},
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + TIMEOUT
        while True:
            codes = [p.poll() for p in processes.values()]  # poll every one: `any` would stop at the chief
            if all(code is not None for code in codes):
                break
            if any(code not in (None, 0) for code in codes):
                break  # a crashed worker would leave the chief waiting for it forever
            if time.monotonic() > deadline:
                timed_out = True
                break
            time.sleep(0.2)
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
        for process in processes.values():
            process.wait(timeout=30)
    codes = {tuner_id: p.returncode for tuner_id, p in processes.items()}
    report = (f"timed out after {TIMEOUT} s; " if timed_out else "") + f"exit codes {codes}\n" + "\n".join(
        f"----- {tuner_id} (exit {codes.get(tuner_id)}) -----\n{_tail(path)}" for tuner_id, path in logs.items())
    return codes, report


def test_a_chief_and_two_workers_complete_a_morphism_search(tmp_path, monkeypatch):
    pytest.importorskip("grpc")
    directory, project = tmp_path / "search", "distributed"
    codes, report = _run_search(tmp_path, directory, project)
    assert codes == {tuner_id: 0 for tuner_id in TUNERS}, report

    # The chief's oracle state on disk, reloaded in this (non-distributed) process.
    for name in [n for n in os.environ if n.startswith("KERASTUNER_")]:
        monkeypatch.delenv(name)
    from keras_nas.morphism_tuner import MorphismTuner

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
