"""Search quality of `NASClassifier` on digits and mnist1d (issue 2's acceptance figures).

Each (dataset, seed) run happens in its own process, one after another, so that
wall time and peak memory belong to that run alone. The test split is never
seen by the search: digits gets a stratified 20 % test split per seed, mnist1d
uses the generator's own 1000-example test split.

    python -m benchmarks.nas_quality                       # seeds 0 1 2, 15 trials x 10 epochs
    python -m benchmarks.nas_quality --seeds 0 --max-trials 2 --epochs 1   # smoke size

Writes one JSON per run and a Markdown table to benchmarks/results/ (or --out).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

from benchmarks.environment import describe, environment

DATASETS = ("digits", "mnist1d")
RESULTS = os.path.join(os.path.dirname(__file__), "results")


def run_one(dataset: str, seed: int, max_trials: int, epochs: int, oracle: str) -> dict:
    """One search, in this process; returns its figures."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from sklearn.model_selection import train_test_split

    from keras_nas import NASClassifier, datasets

    data = datasets.load(dataset)
    if data.x_test is not None:
        x_train, x_test, y_train, y_test = data.x, data.x_test, data.y, data.y_test
    else:
        x_train, x_test, y_train, y_test = train_test_split(
            data.x, data.y, test_size=0.2, random_state=seed, stratify=data.y
        )
    started = time.perf_counter()
    clf = NASClassifier(max_trials=max_trials, epochs=epochs, oracle=oracle, seed=seed).fit(x_train, y_train)
    wall = time.perf_counter() - started
    best = clf.leaderboard_[0]
    return {
        "dataset": dataset,
        "seed": seed,
        "oracle": oracle,
        "max_trials": max_trials,
        "epochs": epochs,
        "test_accuracy": float(clf.score(x_test, y_test)),
        "best_val_accuracy": clf.best_score_,
        "trials_completed": sum(row["status"] == "COMPLETED" for row in clf.leaderboard_),
        "epochs_trained": sum(row["epochs"] or 0 for row in clf.leaderboard_) + len(clf.history_["loss"]),
        "wall_seconds": round(wall, 1),
        "search_seconds": round(clf.search_seconds_, 1),
        "refit_seconds": round(clf.refit_seconds_, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "best_params": best["params"],
        "best_architecture": best["architecture"],
        "device": clf.device_,
    }


def table(runs: list[dict], command: str) -> str:
    lines = [
        "# NASClassifier search quality",
        "",
        f"Command: `{command}`",
        "",
        "| dataset | seed | test accuracy | best val accuracy | trials | epochs trained | wall s | peak RSS MiB | best architecture |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        lines.append(
            f"| {run['dataset']} | {run['seed']} | {run['test_accuracy']:.4f} | {run['best_val_accuracy']:.4f} | "
            f"{run['trials_completed']} | {run['epochs_trained']} | {run['wall_seconds']:.0f} | {run['peak_rss_mib']:.0f} | "
            f"`{run['best_architecture']}` ({run['best_params']:,} params) |"
        )
    lines += ["", "| dataset | median test accuracy | min | max | median wall s | max peak RSS MiB |", "|---|---|---|---|---|---|"]
    for dataset in sorted({run["dataset"] for run in runs}):
        chosen = [run for run in runs if run["dataset"] == dataset]
        accuracies = [run["test_accuracy"] for run in chosen]
        lines.append(
            f"| {dataset} | {statistics.median(accuracies):.4f} | {min(accuracies):.4f} | {max(accuracies):.4f} | "
            f"{statistics.median(run['wall_seconds'] for run in chosen):.0f} | "
            f"{max(run['peak_rss_mib'] for run in chosen):.0f} |"
        )
    lines += ["", f"Environment: {describe(environment())}; device {runs[0]['device']}."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--max-trials", type=int, default=15)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--oracle", default="bayesian")
    parser.add_argument("--timeout", type=float, default=3600, help="hard limit per run, in seconds")
    parser.add_argument("--out", default=RESULTS)
    parser.add_argument("--one", nargs=2, metavar=("DATASET", "SEED"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.one:
        print(json.dumps(run_one(args.one[0], int(args.one[1]), args.max_trials, args.epochs, args.oracle)))
        return 0

    os.makedirs(args.out, exist_ok=True)
    runs = []
    for dataset in args.datasets:
        for seed in args.seeds:
            command = [sys.executable, "-m", "benchmarks.nas_quality", "--one", dataset, str(seed),
                       "--max-trials", str(args.max_trials), "--epochs", str(args.epochs), "--oracle", args.oracle]
            result = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout)
            if result.returncode != 0:
                print(result.stderr[-3000:], file=sys.stderr)
                return result.returncode
            run = json.loads(result.stdout.strip().splitlines()[-1])
            runs.append(run)
            with open(os.path.join(args.out, f"nas_quality_{dataset}_seed{seed}.json"), "w") as handle:
                json.dump({**run, "environment": environment()}, handle, indent=1)
            print(f"{dataset} seed {seed}: test accuracy {run['test_accuracy']:.4f}, {run['wall_seconds']:.0f} s, "
                  f"{run['peak_rss_mib']:.0f} MiB", flush=True)
    command = "python -m benchmarks.nas_quality " + " ".join(argv if argv is not None else sys.argv[1:])
    report = table(runs, command.strip())
    with open(os.path.join(args.out, "nas_quality.md"), "w") as handle:
        handle.write(report)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
