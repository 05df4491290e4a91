"""Benchmarks: keras_nas side by side with keras-tuner, AutoKeras and plain baselines.

    python -m benchmarks run --suite full                 # seeds 0 1 2 on digits, mnist1d, breast_cancer
    python -m benchmarks run --suite full --budget time   # 300 s wall clock per run instead of 15 trials
    python -m benchmarks run --suite smoke                # 1 seed, 2 trials, 1 epoch, small data, in one process
    python -m benchmarks run --suite anytime              # 60, 180 and 600 s per run (refit inside) on mnist5k, mnist1d
    python -m benchmarks report --out benchmarks/results/full
    python -m benchmarks list

Runs go one after another, each in its own process with a hard timeout; a
stopped suite continues where it stopped (finished runs are kept) unless
--fresh. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from benchmarks import report, runner
from benchmarks.contenders import Budget, registry
from benchmarks.splits import DATASETS

HERE = os.path.dirname(os.path.abspath(__file__))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run a suite and write results, table and plots")
    run.add_argument("--suite", choices=["full", "smoke", "anytime"], default="full")
    run.add_argument("--datasets", nargs="+", choices=DATASETS, default=None,
                     help="default: all (full); mnist1d and breast_cancer (smoke); mnist5k and mnist1d (anytime)")
    run.add_argument("--seeds", nargs="+", type=int, default=None, help="default: 0 1 2 (full, anytime), 0 (smoke)")
    run.add_argument("--contenders", nargs="+", default=None,
                     help="default: all (see `list`); anytime: all but sklearn_* and keras_nas:enas_random10")
    run.add_argument("--budgets", nargs="+", type=float, default=None,
                     help="anytime suite: wall-clock budgets per run, seconds, refit included (default 60 180 600)")
    run.add_argument("--budget", choices=["trials", "time"], default="trials")
    run.add_argument("--max-trials", type=int, default=None, help="default 15 (full), 2 (smoke)")
    run.add_argument("--epochs", type=int, default=None, help="default 10 (full), 1 (smoke)")
    run.add_argument("--seconds", type=float, default=300.0, help="wall-clock budget with --budget time")
    run.add_argument("--timeout", type=float, default=None,
                     help="hard limit per run, seconds (default 2400; anytime: 1.5 x budget + 180)")
    run.add_argument("--out", default=None, help="default benchmarks/results/<suite>[_time]")
    run.add_argument("--fresh", action="store_true", help="rerun runs that already have results")
    run.add_argument("--in-process", action="store_true",
                     help="no child processes (faster, less isolated); always on for the smoke suite")
    rep = commands.add_parser("report", help="rebuild the table and plots from results")
    rep.add_argument("--out", required=True)
    child = commands.add_parser("child")  # internal: one run in this process
    child.add_argument("contender")
    child.add_argument("dataset")
    child.add_argument("seed", type=int)
    child.add_argument("path")
    child.add_argument("--budget", required=True)
    child.add_argument("--smoke", action="store_true")
    child.add_argument("--suite", default=None)
    commands.add_parser("list", help="list the contenders")
    return parser


def _write_report(out: str, command: str) -> str:
    results = report.load_results(out)
    text = report.markdown(results, command)
    with open(os.path.join(out, "results.md"), "w") as handle:
        handle.write(text)
    report.plots(results, out)
    return text


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    if args.command == "list":
        for contender in registry().values():
            print(f"{contender.name:24} {'anchor' if contender.anchor else 'keras_nas':9} {contender.description}")
        return 0
    if args.command == "child":
        result = runner.run_here(args.contender, args.dataset, args.seed, Budget(**json.loads(args.budget)), args.smoke,
                                 args.suite)
        with open(args.path, "w") as handle:
            json.dump(result, handle)
        return 0
    if args.command == "report":
        print(_write_report(args.out, "python -m benchmarks report --out " + args.out))
        return 0

    smoke, anytime = args.suite == "smoke", args.suite == "anytime"
    if args.budgets and not anytime:
        _parser().error("--budgets belongs to the anytime suite; the others take --budget time --seconds S")
    contenders = args.contenders or (runner.anytime_contenders() if anytime else list(registry()))
    if smoke and not args.contenders:
        # A supernet search took ~4.5 min per run even at smoke size (tracing dominates), which
        # CI cannot afford; tests/supernet runs each strategy end to end on tiny data instead.
        contenders = [c for c in contenders if registry()[c].smoke]
    unknown = set(contenders) - set(registry())
    if unknown:
        print(f"Unknown contenders {sorted(unknown)}; see `python -m benchmarks list`.", file=sys.stderr)
        return 2
    timed = args.budget == "time" and not anytime  # the anytime suite's budgets are always wall clock
    out = args.out or os.path.join(HERE, "results", args.suite + ("_time" if timed else ""))
    if anytime:
        results = runner.run_anytime(
            args.datasets or list(runner.ANYTIME_DATASETS), args.seeds or [0, 1, 2],
            args.budgets or list(runner.ANYTIME_BUDGETS), contenders, out, max_trials=args.max_trials or 15,
            epochs=args.epochs or 10, timeout=args.timeout, isolated=not args.in_process, fresh=args.fresh)
    else:
        budget = Budget(
            max_trials=args.max_trials or (2 if smoke else 15),
            epochs=args.epochs or (1 if smoke else 10),
            seconds=args.seconds if timed else None,
        )
        datasets = args.datasets or (["mnist1d", "breast_cancer"] if smoke else list(DATASETS))
        results = runner.run_suite(datasets, args.seeds or ([0] if smoke else [0, 1, 2]), contenders, budget, out,
                                   smoke=smoke, timeout=args.timeout or 2400.0,
                                   isolated=not (args.in_process or smoke), fresh=args.fresh or smoke)
    print(_write_report(out, "python -m benchmarks " + " ".join(argv)))
    if smoke or anytime:  # every contender must produce a complete, well-formed result
        bad = {f"{r['dataset']} seed {r['seed']} {r['contender']}"
               + (f" {r['budget']['seconds']:g} s" if anytime else ""): found
               for r in results if (found := runner.problems(r))}
        for name, found in bad.items():
            print(f"MALFORMED {name}: {'; '.join(found)}", file=sys.stderr)
        print(f"{args.suite}: {len(results) - len(bad)} of {len(results)} runs complete and well formed")
        return 1 if bad and smoke else 0  # in the long anytime suite a timeout is a result, not a failure
    return 0


if __name__ == "__main__":
    sys.exit(main())
