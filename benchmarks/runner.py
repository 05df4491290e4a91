"""Running contenders: one process per run with a hard timeout, strictly one after another.

Each run writes `<dataset>_seed<seed>_<contender>.json` into the output folder
(`<dataset>_seed<seed>_<budget>s_<contender>.json` in the anytime suite, one
per wall-clock budget) with the fields below; a run that already has a
complete result under the same budget is skipped unless `fresh=True`, so a
long suite can be stopped and continued.
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
REFIT_FIELDS = ("test_score_search", "search_seconds", "refit_seconds")  # of contenders that refit their search
SMOKE_SIZES = {"max_train": 160, "max_test": 80}
ANYTIME_BUDGETS = (60.0, 180.0, 600.0)
ANYTIME_DATASETS = ("mnist5k", "mnist1d")


def anytime_contenders() -> list[str]:
    """The anytime suite's default contenders: all but scikit-learn's (no time to spend) and enas_random10."""
    return [name for name in registry() if not name.startswith("sklearn_") and name != "keras_nas:enas_random10"]


def anytime_timeout(seconds: float) -> float:
    """The hard limit of an anytime run with a budget of `seconds`: room for one epoch past the budget and start-up."""
    return 1.5 * seconds + 180.0


def problems(result: dict) -> list[str]:
    """What makes a result incomplete or malformed (empty when it is well formed)."""
    found = [] if result.get("status") == "ok" else [f"status {result.get('status')}: {result.get('error')}"]
    contender = registry().get(result.get("contender", ""))
    refits = result.get("status") == "ok" and contender is not None and contender.refits
    for field in RESULT_FIELDS + ("wall_seconds", "peak_rss_mib") + (REFIT_FIELDS if refits else ()):
        if result.get(field) is None:
            found.append(f"missing {field}")
    for field in ("test_score", "test_score_search"):
        score = result.get(field)
        if score is not None and not 0.0 <= score <= 1.0:
            found.append(f"{field} {score} outside [0, 1]")
    if result.get("suite") == "anytime" and not (result.get("budget") or {}).get("seconds"):
        found.append("anytime run without a wall-clock budget")
    anytime = result.get("anytime") or []
    if result.get("status") == "ok" and not anytime:
        found.append("empty anytime curve")
    if any(later[0] < earlier[0] or later[1] < earlier[1] for earlier, later in zip(anytime, anytime[1:])):
        found.append("anytime curve is not monotone")
    return found


def result_path(out: str, dataset: str, seed: int, contender: str, seconds: float | None = None) -> str:
    """The run's JSON; `seconds` (the anytime suite's budget) goes into the name, one file per budget."""
    budget = "" if seconds is None else f"_{seconds:g}s"
    return os.path.join(out, f"{dataset}_seed{seed}{budget}_{contender.replace(':', '-')}.json")


def run_here(contender: str, dataset: str, seed: int, budget: Budget, smoke: bool, suite: str | None = None) -> dict:
    """One run in this process; returns the complete result (status "ok" or "error")."""
    base = {"contender": contender, "dataset": dataset, "seed": seed, "budget": dataclasses.asdict(budget),
            "suite": suite or ("smoke" if smoke else "full"), "metric": "accuracy"}
    started = time.perf_counter()
    try:
        split = load_split(dataset, seed, **(SMOKE_SIZES if smoke else {}))
        base["test_examples"] = len(split.y_test)
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


def run_isolated(contender: str, dataset: str, seed: int, budget: Budget, smoke: bool, timeout: float,
                 suite: str | None = None) -> dict:
    """One run in a child process killed after `timeout` seconds."""
    with tempfile.NamedTemporaryFile("r", suffix=".json") as handle:
        command = [sys.executable, "-m", "benchmarks", "child", contender, dataset, str(seed), handle.name,
                   "--budget", json.dumps(dataclasses.asdict(budget))] + (["--smoke"] if smoke else [])
        command += ["--suite", suite] if suite else []
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
        base = {"contender": contender, "dataset": dataset, "seed": seed, "budget": dataclasses.asdict(budget),
                "suite": suite or ("smoke" if smoke else "full"), "metric": "accuracy"}
        started = time.perf_counter()
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
        except subprocess.TimeoutExpired:
            return {**base, "status": "timeout", "error": f"killed after {timeout:.0f} s",
                    "wall_seconds": round(time.perf_counter() - started, 2), "environment": environment()}
        text = open(handle.name).read()
        if done.returncode != 0 or not text:
            return {**base, "status": "error", "error": (done.stderr or "")[-4000:],
                    "wall_seconds": round(time.perf_counter() - started, 2), "environment": environment()}
        return json.loads(text)


def _run_or_resume(path: str, contender: str, dataset: str, seed: int, budget: Budget, smoke: bool, timeout: float,
                   isolated: bool, fresh: bool, log, suite: str | None = None) -> dict:
    """The result at `path` if it is complete and has `budget` (and not `fresh`); else a new run, written there."""
    if not fresh and os.path.exists(path):
        with open(path) as handle:
            previous = json.load(handle)
        if previous.get("status") == "ok" and previous.get("budget") == dataclasses.asdict(budget):
            return previous
    if isolated:
        result = run_isolated(contender, dataset, seed, budget, smoke, timeout, suite)
    else:
        result = run_here(contender, dataset, seed, budget, smoke, suite)
    with open(path, "w") as handle:
        json.dump(result, handle, indent=1)
    score = result.get("test_score")
    log(f"{dataset} seed {seed} {contender}" + (f" {budget.seconds:g} s" if suite == "anytime" else "")
        + f": {result['status']}"
        + (f", test {score:.4f}, {result['wall_seconds']:.0f} s" if score is not None else "")
        + (f"\n{result['error'].strip().splitlines()[-1]}" if result.get("error") else ""))
    return result


def run_suite(datasets, seeds, contenders, budget: Budget, out: str, smoke: bool = False, timeout: float = 3600,
              isolated: bool = True, fresh: bool = False, log=print) -> list[dict]:
    os.makedirs(out, exist_ok=True)
    return [_run_or_resume(result_path(out, dataset, seed, contender), contender, dataset, seed, budget, smoke,
                           timeout, isolated, fresh, log)
            for dataset in datasets for seed in seeds for contender in contenders]


def run_anytime(datasets, seeds, budgets, contenders, out: str, max_trials: int = 15, epochs: int = 10,
                timeout: float | None = None, isolated: bool = True, fresh: bool = False, log=print) -> list[dict]:
    """The anytime suite: every (dataset, seed, contender) once per wall-clock budget in `budgets` (seconds, the
    refit inside), trials unbounded, each killed after `timeout` (default `anytime_timeout`). All runs of the
    smallest budget go first, then the next, so that a stopped suite has the cheap budgets complete."""
    os.makedirs(out, exist_ok=True)
    results = []
    for seconds in sorted(float(b) for b in budgets):
        budget = Budget(max_trials=max_trials, epochs=epochs, seconds=seconds)
        for seed in seeds:
            for dataset in datasets:
                for contender in contenders:
                    results.append(_run_or_resume(
                        result_path(out, dataset, seed, contender, seconds), contender, dataset, seed, budget,
                        False, timeout or anytime_timeout(seconds), isolated, fresh, log, suite="anytime"))
    return results
