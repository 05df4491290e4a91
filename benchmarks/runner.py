"""Running contenders: one process per run with a hard timeout, strictly one after another.

Each run writes `<dataset>_seed<seed>_<contender>.json` into the output folder
with the fields below; a run that already has a complete result is skipped
unless `fresh=True`, so a long suite can be stopped and continued.
"""

from __future__ import annotations

import dataclasses
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import traceback

from benchmarks.contenders import Budget, registry
from benchmarks.environment import environment
from benchmarks.splits import load_split

RESULT_FIELDS = (
    "test_score", "best_val_score", "epochs_trained", "trials_completed", "oracle_seconds", "anytime", "params",
    "architecture",
)
SMOKE_SIZES = {"max_train": 160, "max_test": 80}


def problems(result: dict) -> list[str]:
    """What makes a result incomplete or malformed (empty when it is well formed)."""
    found = [] if result.get("status") == "ok" else [f"status {result.get('status')}: {result.get('error')}"]
    for field in RESULT_FIELDS + ("wall_seconds", "peak_rss_mib"):
        if result.get(field) is None:
            found.append(f"missing {field}")
    score = result.get("test_score")
    if score is not None and not 0.0 <= score <= 1.0:
        found.append(f"test_score {score} outside [0, 1]")
    anytime = result.get("anytime") or []
    if result.get("status") == "ok" and not anytime:
        found.append("empty anytime curve")
    if any(later[0] < earlier[0] or later[1] < earlier[1] for earlier, later in zip(anytime, anytime[1:])):
        found.append("anytime curve is not monotone")
    return found


def result_path(out: str, dataset: str, seed: int, contender: str) -> str:
    return os.path.join(out, f"{dataset}_seed{seed}_{contender.replace(':', '-')}.json")


def run_here(contender: str, dataset: str, seed: int, budget: Budget, smoke: bool) -> dict:
    """One run in this process; returns the complete result (status "ok" or "error")."""
    base = {"contender": contender, "dataset": dataset, "seed": seed, "budget": dataclasses.asdict(budget),
            "suite": "smoke" if smoke else "full", "metric": "accuracy"}
    started = time.perf_counter()
    try:
        split = load_split(dataset, seed, **(SMOKE_SIZES if smoke else {}))
        with tempfile.TemporaryDirectory(prefix="keras_nas_bench_") as workdir:
            measured = registry()[contender].run(split, budget, workdir)
        status, error = "ok", None
    except Exception:  # a failing contender is a result too
        measured, status, error = {}, "error", traceback.format_exc()[-4000:]
    return {
        **base, **measured, "status": status, "error": error,
        "wall_seconds": round(time.perf_counter() - started, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "environment": environment(),
    }


def run_isolated(contender: str, dataset: str, seed: int, budget: Budget, smoke: bool, timeout: float) -> dict:
    """One run in a child process killed after `timeout` seconds."""
    with tempfile.NamedTemporaryFile("r", suffix=".json") as handle:
        command = [sys.executable, "-m", "benchmarks", "child", contender, dataset, str(seed), handle.name,
                   "--budget", json.dumps(dataclasses.asdict(budget))] + (["--smoke"] if smoke else [])
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
        started = time.perf_counter()
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
        except subprocess.TimeoutExpired:
            return {"contender": contender, "dataset": dataset, "seed": seed, "budget": dataclasses.asdict(budget),
                    "suite": "smoke" if smoke else "full", "metric": "accuracy", "status": "timeout",
                    "error": f"killed after {timeout:.0f} s", "wall_seconds": round(time.perf_counter() - started, 2),
                    "environment": environment()}
        text = open(handle.name).read()
        if done.returncode != 0 or not text:
            return {"contender": contender, "dataset": dataset, "seed": seed, "status": "error",
                    "error": (done.stderr or "")[-4000:], "wall_seconds": round(time.perf_counter() - started, 2),
                    "environment": environment()}
        return json.loads(text)


def run_suite(datasets, seeds, contenders, budget: Budget, out: str, smoke: bool = False, timeout: float = 3600,
              isolated: bool = True, fresh: bool = False, log=print) -> list[dict]:
    os.makedirs(out, exist_ok=True)
    results = []
    for dataset in datasets:
        for seed in seeds:
            for contender in contenders:
                path = result_path(out, dataset, seed, contender)
                if not fresh and os.path.exists(path):
                    with open(path) as handle:
                        previous = json.load(handle)
                    if previous.get("status") == "ok" and previous.get("budget") == dataclasses.asdict(budget):
                        results.append(previous)
                        continue
                if isolated:
                    result = run_isolated(contender, dataset, seed, budget, smoke, timeout)
                else:
                    result = run_here(contender, dataset, seed, budget, smoke)
                with open(path, "w") as handle:
                    json.dump(result, handle, indent=1)
                results.append(result)
                score = result.get("test_score")
                log(f"{dataset} seed {seed} {contender}: {result['status']}"
                    + (f", test {score:.4f}, {result['wall_seconds']:.0f} s" if score is not None else "")
                    + (f"\n{result['error'].strip().splitlines()[-1]}" if result.get("error") else ""))
    return results
