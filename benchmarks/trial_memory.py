"""Memory over a long trial search: resident memory after every trial, and after a second fit.

A search that runs for hours must not grow with every trial. This runs one
`NASClassifier` search of `--trials` trials (default 30, the morphism oracle,
digits) in this process, reads the resident set size (`/proc/self/statm`, the
memory held now, not the peak) when each trial's training ends, then fits a
second time, and reports RSS after trials 1, 5, 10, ... and the ratio
RSS(trial N) / RSS(trial 5) (the target: at most 1.1).

    python -m benchmarks.trial_memory                       # morphism, 30 trials, digits
    python -m benchmarks.trial_memory --oracle random --trials 20

Writes benchmarks/results/trial_memory.json and .md (or --out).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from benchmarks.environment import describe, environment

RESULTS = os.path.join(os.path.dirname(__file__), "results")


def rss_mib() -> float:
    with open("/proc/self/statm") as handle:
        resident_pages = int(handle.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def measure(oracle: str, trials: int, epochs: int, dataset: str, seed: int) -> dict:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    from benchmarks.splits import load_split
    from keras_nas import NASClassifier

    readings: list[float] = []

    class _Reading(keras.callbacks.Callback):
        def on_train_end(self, logs=None):
            readings.append(round(rss_mib(), 1))

    split = load_split(dataset, seed)
    started = time.perf_counter()
    clf = NASClassifier(oracle=oracle, max_trials=trials, epochs=epochs, seed=seed, callbacks=[_Reading()])
    clf.fit(split.x_train, split.y_train)
    first_fit = readings[:trials]
    clf.fit(split.x_train, split.y_train)
    after_second = round(rss_mib(), 1)
    completed = sum(row["status"] == "COMPLETED" for row in clf.leaderboard_)
    return {
        "oracle": oracle, "dataset": dataset, "trials": trials, "epochs": epochs, "seed": seed,
        "completed": completed, "rss_after_trial_mib": first_fit, "rss_after_second_fit_mib": after_second,
        "ratio_last_to_trial5": round(first_fit[-1] / first_fit[4], 3) if len(first_fit) >= 5 else None,
        "seconds": round(time.perf_counter() - started, 1),
    }


def markdown(result: dict, command: str) -> str:
    rows = result["rss_after_trial_mib"]
    marks = [i for i in (1, 2, 5, 10, 15, 20, 25, 30, 40, 50) if i <= len(rows)]
    return "\n".join([
        "# Resident memory over a trial search",
        "",
        f"Command: `{command}`",
        "",
        describe(environment()),
        "",
        f"{result['oracle']} oracle on {result['dataset']}, {result['trials']} trials x {result['epochs']} epochs, "
        f"seed {result['seed']}; {result['completed']} trials completed in the second fit; "
        f"{result['seconds']} s for both fits.",
        "",
        "| after trial | " + " | ".join(str(i) for i in marks) + " | after a second fit |",
        "|---" * (len(marks) + 2) + "|",
        "| RSS MiB | " + " | ".join(f"{rows[i - 1]:.0f}" for i in marks)
        + f" | {result['rss_after_second_fit_mib']:.0f} |",
        "",
        f"RSS after trial {len(rows)} / RSS after trial 5: **{result['ratio_last_to_trial5']}** (target <= 1.1).",
        "",
    ])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--oracle", default="morphism")
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=RESULTS)
    args = parser.parse_args(argv)
    result = measure(args.oracle, args.trials, args.epochs, args.dataset, args.seed)
    command = "python -m benchmarks.trial_memory " + " ".join(argv if argv is not None else sys.argv[1:])
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "trial_memory.json"), "w") as handle:
        json.dump({**result, "command": command, "environment": environment()}, handle, indent=1)
    text = markdown(result, command.strip())
    with open(os.path.join(args.out, "trial_memory.md"), "w") as handle:
        handle.write(text)
    print(text)


if __name__ == "__main__":
    main()
