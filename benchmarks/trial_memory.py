"""Memory over a long trial search: the memory held after every trial, and after a second fit.

A search that runs for hours must not grow with every trial. This runs one
`NASClassifier` search of `--trials` trials (default 30, the morphism oracle,
digits) and, from a thread that reads `/proc` every 0.2 s, records the memory
of this process and of its trial processes (`keras_nas.search.trial_process`) as each
trial finishes: the resident set size (RSS) of this process, and the
proportional set size (PSS: private pages plus a share of the shared ones, so
that the libraries both processes map count once) summed over this process and
its children. It then fits a second time, and reports the readings after
trials 1, 5, 10, ... and the ratio total(trial N) / total(trial 5) (the target:
at most 1.1).

    python -m benchmarks.trial_memory                       # morphism, 30 trials, digits
    python -m benchmarks.trial_memory --trials-per-process none   # every trial in this process
    python -m benchmarks.trial_memory --oracle random --trials 20

Writes benchmarks/results/trial_memory.json and .md (or --out).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time

from benchmarks.environment import describe, environment

RESULTS = os.path.join(os.path.dirname(__file__), "results")
PAGE_MIB = os.sysconf("SC_PAGE_SIZE") / 2**20


def rss_mib(pid: int | str = "self") -> float:
    with open(f"/proc/{pid}/statm") as handle:
        return int(handle.read().split()[1]) * PAGE_MIB


def pss_mib(pid: int | str = "self") -> float:
    with open(f"/proc/{pid}/smaps_rollup") as handle:
        for line in handle:
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    return 0.0


def children(pid: int) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except OSError:  # the process ended meanwhile
                continue
            if int(fields[1]) == pid:
                found.append(int(name))
    return found


def total_pss_mib() -> float:
    total = pss_mib()
    for child in children(os.getpid()):
        try:
            total += pss_mib(child)
        except OSError:
            pass
    return total


class Sampler(threading.Thread):
    """Reads (time, this process's RSS, total PSS) every `interval` seconds until stopped."""

    def __init__(self, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.interval, self.samples, self.stopped = interval, [], threading.Event()
        self.children: set[int] = set()  # every child process seen: the trial processes

    def run(self) -> None:
        while not self.stopped.is_set():
            self.children.update(children(os.getpid()))
            self.samples.append((time.time(), rss_mib(), total_pss_mib()))
            self.stopped.wait(self.interval)

    def at(self, moment: float) -> tuple[float, float]:
        """The last reading before `moment`: (RSS, total PSS)."""
        before = [sample for sample in self.samples if sample[0] <= moment] or self.samples[:1]
        return round(before[-1][1], 1), round(before[-1][2], 1)


def measure(oracle: str, trials: int, epochs: int, dataset: str, seed: int, trials_per_process) -> dict:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from benchmarks.splits import load_split
    from keras_nas import NASClassifier

    split = load_split(dataset, seed)
    sampler = Sampler()
    sampler.start()
    started = time.perf_counter()
    clf = NASClassifier(oracle=oracle, max_trials=trials, epochs=epochs, seed=seed,
                        trials_per_process=trials_per_process)
    clf.fit(split.x_train, split.y_train)
    ends = sorted(record.finished_at for record in clf.tuner_.records.values())[:trials]
    readings = [sampler.at(moment) for moment in ends]
    processes = len(sampler.children)
    clf.fit(split.x_train, split.y_train)
    second = (round(rss_mib(), 1), round(total_pss_mib(), 1))
    sampler.stopped.set()
    completed = sum(row["status"] == "COMPLETED" for row in clf.leaderboard_)
    totals = [reading[1] for reading in readings]
    return {
        "oracle": oracle, "dataset": dataset, "trials": trials, "epochs": epochs, "seed": seed,
        "trials_per_process": trials_per_process, "trial_processes_first_fit": processes, "completed": completed,
        "rss_after_trial_mib": [reading[0] for reading in readings], "total_pss_after_trial_mib": totals,
        "rss_after_second_fit_mib": second[0], "total_pss_after_second_fit_mib": second[1],
        "ratio_last_to_trial5": round(totals[-1] / totals[4], 3) if len(totals) >= 5 else None,
        "seconds": round(time.perf_counter() - started, 1),
    }


def markdown(result: dict, command: str) -> str:
    rss, totals = result["rss_after_trial_mib"], result["total_pss_after_trial_mib"]
    marks = [i for i in (1, 2, 5, 10, 15, 20, 25, 30, 40, 50) if i <= len(rss)]
    where = ("every trial in the search's process" if result["trials_per_process"] is None
             else f"trials_per_process={result['trials_per_process']!r}")
    return "\n".join([
        "# Memory over a trial search",
        "",
        f"Command: `{command}`",
        "",
        describe(environment()),
        "",
        f"{result['oracle']} oracle on {result['dataset']}, {result['trials']} trials x {result['epochs']} epochs, "
        f"seed {result['seed']}, {where} ({result['trial_processes_first_fit']} trial processes in the first fit); "
        f"{result['completed']} trials completed in the second fit; "
        f"{result['seconds']} s for both fits. Read as each trial finished: the search process's RSS, and the PSS "
        "of the search process and its trial processes together (what the search costs the machine).",
        "",
        "| after trial | " + " | ".join(str(i) for i in marks) + " | after a second fit |",
        "|---" * (len(marks) + 2) + "|",
        "| search process RSS, MiB | " + " | ".join(f"{rss[i - 1]:.0f}" for i in marks)
        + f" | {result['rss_after_second_fit_mib']:.0f} |",
        "| total PSS, MiB | " + " | ".join(f"{totals[i - 1]:.0f}" for i in marks)
        + f" | {result['total_pss_after_second_fit_mib']:.0f} |",
        "",
        f"Total after trial {len(totals)} / total after trial 5: **{result['ratio_last_to_trial5']}** "
        "(target <= 1.1).",
        "",
    ])


def _trials_per_process(text: str):
    return None if text == "none" else text if text == "auto" else int(text)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--oracle", default="morphism")
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--trials-per-process", type=_trials_per_process, default="auto",
                        help="'auto' (the default of NASClassifier), 'none' or a number")
    parser.add_argument("--out", default=RESULTS)
    args = parser.parse_args(argv)
    result = measure(args.oracle, args.trials, args.epochs, args.dataset, args.seed, args.trials_per_process)
    command = "python -m benchmarks.trial_memory " + " ".join(argv if argv is not None else sys.argv[1:])
    name = "trial_memory" if args.trials_per_process is not None else "trial_memory_in_process"
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, f"{name}.json"), "w") as handle:
        json.dump({**result, "command": command.strip(), "environment": environment()}, handle, indent=1)
    text = markdown(result, command.strip())
    with open(os.path.join(args.out, f"{name}.md"), "w") as handle:
        handle.write(text)
    print(text)


if __name__ == "__main__":
    main()
