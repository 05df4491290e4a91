"""A real search killed with SIGKILL at chosen points, then resumed: nothing finished is lost or trained twice.

Each chain runs `_fault_child.py` (a 3-trial random search, 2 epochs, on 200 rows, then refit and export)
on one directory, killing it at each of its hold points in turn: every run resumes what the previous
kill left and is killed at a later point; a last run, without a hold, finishes. After each kill the
project's trial files are snapshotted. The chain then checks that

- no trial that was COMPLETED at a kill was trained again, and each keeps its score;
- a trial is trained once, plus once more for each kill that interrupted it mid-run;
- the finished project holds exactly `MAX_TRIALS` trials, all COMPLETED, none ongoing or queued for
  retry, each ended once; the tuner's records describe every trial;
- the export path never holds a half-written model, and the final export reloads and predicts what the
  estimator predicts.

A separate test compares a resumed search's scores with an uninterrupted one's.
"""
from __future__ import annotations

import glob
import json
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from tests import _fault_child

ROOT = Path(__file__).resolve().parent.parent
CHILD = Path(__file__).with_name("_fault_child.py")
PROJECT = "keras_nas"
RUN_TIMEOUT = 240

CHAINS = {
    # The state-write windows of keras-tuner's save order.
    "windows": ["ended:0", "created:1", "ended:1", "created:2", "saved:2"],
    # Proposals and training.
    "training": ["proposal:0", "batch:0", "epoch:1", "trained:1", "begun:2", "refit_begin"],
    # After the records save, the last trial's end, the refit and the export.
    "late": ["saved:0", "ended:2", "refit", "export"],
}


def _run(directory: Path, export_path: Path, hold: str | None = None) -> tuple[list[str], bool]:
    """Runs the child; with `hold`, SIGKILLs it once it holds that window open.

    Returns its output lines and whether it was killed (a run that finishes without reaching `hold` is not).
    """
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": str(ROOT)}
    env.pop("KERAS_NAS_FAULT_HOLD", None)
    if hold:
        env["KERAS_NAS_FAULT_HOLD"] = hold
    process = subprocess.Popen(
        [sys.executable, str(CHILD), str(directory), str(export_path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT,
    )
    watchdog = threading.Timer(RUN_TIMEOUT, process.kill)
    watchdog.start()
    lines = []
    try:
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if hold and line.startswith("hold "):
                process.send_signal(signal.SIGKILL)
                break
        process.stdout.close()
        code = process.wait()
    finally:
        watchdog.cancel()
    tail = "\n".join(lines[-40:])
    killed = bool(hold) and f"hold {hold}" in lines
    if killed:
        assert code == -signal.SIGKILL, f"the child was not killed at {hold!r} (exit {code}):\n{tail}"
    else:
        assert code == 0, f"the run failed (exit {code}):\n{tail}"
    return lines, killed


def _trials(directory: Path) -> dict[str, dict]:
    found = {}
    for path in glob.glob(str(directory / PROJECT / "trial_*" / "trial.json")):
        with open(path) as handle:
            state = json.load(handle)
        found[state["trial_id"]] = {"status": state["status"], "score": state["score"]}
    return found


def _events(lines: list[str], name: str) -> list[str]:
    return [line.split()[1] for line in lines if line.startswith(name + " ")]


def _result(lines: list[str]) -> dict:
    results = [json.loads(line[len("result "):]) for line in lines if line.startswith("result ")]
    assert results, "the final run printed no result"
    return results[-1]


def _assert_export_whole(export_path: Path) -> None:
    # A kill may leave the path absent; whatever is there must be a complete SavedModel.
    if export_path.exists():
        assert (export_path / "saved_model.pb").is_file(), f"half-written export at {export_path}: {os.listdir(export_path)}"
        assert (export_path / "keras_nas_export.json").is_file()


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> dict:
    """Trial scores of the same search run once without a kill."""
    directory = tmp_path_factory.mktemp("uninterrupted")
    return _result(_run(directory, directory / "model")[0])["scores"]


@pytest.mark.parametrize("chain", sorted(CHAINS))
def test_killed_and_resumed_search_loses_nothing(chain, tmp_path):
    directory, export_path = tmp_path / "search", tmp_path / "model"
    runs, snapshots, interrupted, missed = [], [], Counter(), []
    for position, hold in enumerate(CHAINS[chain]):
        lines, killed = _run(directory, export_path, hold)
        if not killed:  # the search finished without reaching the window: check what it left
            missed = CHAINS[chain][position:]
            runs.append(lines)
            break
        snapshot = _trials(directory)
        begun = _events(lines, "train_begin")
        if begun and snapshot.get(begun[-1], {}).get("status") != "COMPLETED":
            interrupted[begun[-1]] += 1  # killed while that trial ran: it must run once more
        runs.append(lines)
        snapshots.append((hold, snapshot))
        _assert_export_whole(export_path)
    if not missed:
        final_lines, _ = _run(directory, export_path)
        runs.append(final_lines)
    final_lines = runs[-1]
    final = _trials(directory)

    for index, (hold, snapshot) in enumerate(snapshots):
        later_begins = Counter(t for lines in runs[index + 1:] for t in _events(lines, "train_begin"))
        for trial_id, seen in snapshot.items():
            if seen["status"] == "COMPLETED":
                assert later_begins[trial_id] == 0, f"after a kill at {hold}, finished trial {trial_id} trained again"
                assert final[trial_id] == seen, f"after a kill at {hold}, finished trial {trial_id} changed: {final[trial_id]}"

    begins = Counter(t for lines in runs for t in _events(lines, "train_begin"))
    ids = [f"{i}" for i in range(_fault_child.MAX_TRIALS)]
    assert dict(begins) == {t: 1 + interrupted[t] for t in ids}, f"trainings per trial: {dict(begins)}"

    assert sorted(final) == ids, f"trial files on disk: {sorted(final)}"
    assert all(t["status"] == "COMPLETED" and t["score"] is not None for t in final.values()), final
    with open(directory / PROJECT / "oracle.json") as handle:
        oracle = json.load(handle)
    assert oracle["ongoing_trials"] == {} and oracle["retry_queue"] == []
    assert sorted(oracle["end_order"]) == ids and sorted(oracle["start_order"]) == ids
    assert oracle["run_times"] == {t: 1 for t in ids}
    with open(directory / PROJECT / "tuner0.json") as handle:
        records = json.load(handle)["records"]
    assert sorted(records) == ids and all(r["architecture"] for r in records.values())

    result = _result(final_lines)
    assert result["scores"] == {t: final[t]["score"] for t in ids}
    np.testing.assert_allclose(result["exported"], result["estimator"], atol=1e-5)
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".tmp_")], "a killed export's staging was left behind"
    assert not missed, f"the resumed runs never reached the hold points {missed}"


def test_resumed_search_scores_like_an_uninterrupted_one(tmp_path, uninterrupted):
    directory = tmp_path / "search"
    _run(directory, tmp_path / "model", "saved:1")
    resumed = _result(_run(directory, tmp_path / "model")[0])["scores"]
    assert resumed == uninterrupted
