"""The `keras-nas` command line.

    keras-nas search digits --max-trials 10 --epochs 10 --export digits_model
    keras-nas search data.csv --target label --time-budget 300
    keras-nas search arrays.npz            # arrays named x and y

A bundled dataset (see `keras_nas.datasets`) or a CSV/NPZ file is split into
training and test data (unless it has its own test split), searched, and the
best model is scored on the test data and optionally exported.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from collections.abc import Sequence

import numpy as np

from keras_nas import datasets


def _read_csv(path: str, target: str):
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    if len(rows) < 2:
        raise ValueError(f"{path} needs a header row and at least one data row.")
    header, body = rows[0], rows[1:]
    if target not in header:
        raise ValueError(f"--target {target!r} is not a column of {path}; columns: {header}.")
    column = header.index(target)
    try:
        x = np.array([[float(v) for i, v in enumerate(row) if i != column] for row in body], dtype=np.float32)
    except ValueError as error:
        raise ValueError(f"{path}: every column but the target must be numeric ({error}).") from None
    return x, np.array([row[column] for row in body])


def _read_npz(path: str, target: str):
    with np.load(path, allow_pickle=False) as arrays:
        if "x" not in arrays or target not in arrays:
            raise ValueError(f"{path} must hold an array 'x' and a target array {target!r}; it holds {list(arrays)}.")
        return arrays["x"], arrays[target]


def _guess_task(y: np.ndarray) -> str:
    try:
        values = y.astype(np.float64)
    except ValueError:
        return "classification"
    integral = np.all(values == np.round(values))
    return "classification" if integral and len(np.unique(values)) <= 20 else "regression"


def load_data(source: str, target: str | None, task: str) -> datasets.Dataset:
    """A bundled dataset by name, or a CSV/NPZ file with its target column or array."""
    if source in datasets.NAMES:
        return datasets.load(source)
    if not os.path.exists(source):
        raise ValueError(f"{source!r} is neither a bundled dataset {list(datasets.NAMES)} nor an existing file.")
    if source.endswith(".npz"):
        x, y = _read_npz(source, target or "y")
    elif source.endswith(".csv"):
        if target is None:
            raise ValueError("A CSV file needs --target COLUMN.")
        x, y = _read_csv(source, target)
    else:
        raise ValueError(f"Unsupported file {source!r}: use a .csv or .npz file.")
    if task == "auto":
        task = _guess_task(y)
    if task == "regression":
        y = y.astype(np.float32)
    elif np.issubdtype(y.dtype, np.floating) and np.all(y == np.round(y)):
        y = y.astype(np.int64)
    return datasets.Dataset(os.path.basename(source), task, x, y)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="keras-nas", description="Neural architecture search for Keras.")
    commands = parser.add_subparsers(dest="command", required=True)
    search = commands.add_parser("search", help="search architectures on a dataset and report the best")
    search.add_argument("data", help=f"a bundled dataset ({', '.join(datasets.NAMES)}) or a .csv/.npz file")
    search.add_argument("--target", help="target column (CSV) or array name (NPZ, default 'y')")
    search.add_argument("--task", choices=["auto", "classification", "regression"], default="auto")
    search.add_argument("--max-trials", type=int, default=10)
    search.add_argument("--epochs", type=int, default=10)
    search.add_argument("--batch-size", type=int, default=32)
    search.add_argument("--time-budget", type=float, default=None, help="seconds; no new trial starts after it")
    search.add_argument("--oracle", default="morphism", help="morphism, bayesian, random or hyperband")
    search.add_argument("--search-space", default="auto", help="auto, morphism, dense or conv")
    search.add_argument(
        "--test-size", type=float, default=0.2, help="held-out fraction when the data has no test split"
    )
    search.add_argument("--seed", type=int, default=0)
    search.add_argument("--directory", default=None, help="where trials are stored (a temporary folder by default)")
    search.add_argument("--overwrite", action="store_true", help="replace an existing search in --directory")
    search.add_argument("--export", default=None, help="write the best model here")
    search.add_argument("--format", choices=["saved_model", "keras"], default="saved_model")
    search.add_argument("--quiet", action="store_true", help="no per-trial lines")
    search.add_argument(
        "--trials-per-process",
        type=_trials_per_process,
        default="auto",
        help="auto (default), none, or a number: trials per child process",
    )
    return parser


def _leaderboard(rows, limit: int = 10) -> str:
    lines = [f"{'rank':>4}  {'trial':>5}  {'score':>8}  {'params':>9}  {'epochs':>6}  {'seconds':>7}  architecture"]
    for rank, row in enumerate(rows[:limit], start=1):
        score = "-" if row["score"] is None else f"{row['score']:.4f}"
        params = "-" if row["params"] is None else f"{row['params']:,}"
        seconds = "-" if row["seconds"] is None else f"{row['seconds']:.1f}"
        lines.append(
            f"{rank:>4}  {row['trial_id']:>5}  {score:>8}  {params:>9}  {row['epochs'] or '-'!s:>6}  "
            f"{seconds:>7}  {row['architecture'] or row['status']}"
        )
    return "\n".join(lines)


def search(args: argparse.Namespace) -> int:
    from sklearn.model_selection import train_test_split

    from keras_nas.estimators import NASClassifier, NASRegressor

    dataset = load_data(args.data, args.target, args.task)
    x, y = dataset.x, dataset.y
    if dataset.x_test is not None:
        x_test, y_test = dataset.x_test, dataset.y_test
    else:
        stratify = y if dataset.task == "classification" else None
        x, x_test, y, y_test = train_test_split(
            x, y, test_size=args.test_size, random_state=args.seed, stratify=stratify
        )
    estimator_class = NASClassifier if dataset.task == "classification" else NASRegressor
    estimator = estimator_class(
        search_space=args.search_space,
        oracle=args.oracle,
        max_trials=args.max_trials,
        epochs=args.epochs,
        batch_size=args.batch_size,
        time_budget=args.time_budget,
        directory=args.directory,
        overwrite=args.overwrite,
        seed=args.seed,
        verbose=0 if args.quiet else 1,
        trials_per_process=args.trials_per_process,
    )
    print(
        f"[keras_nas] {dataset.name}: {dataset.task}, {len(x)} training and {len(x_test)} test examples "
        f"of shape {tuple(x.shape[1:])}",
        flush=True,
    )
    estimator.fit(x, y)
    print("\nLeaderboard (validation score):")
    print(_leaderboard(estimator.leaderboard_))
    metric = "accuracy" if dataset.task == "classification" else "R^2"
    architecture = estimator.best_architecture_.summary() if estimator.best_architecture_ else ""
    print(f"\nBest trial {estimator.best_trial_id_}: {architecture}")
    print(
        f"Test {metric} of the refitted best model: {estimator.score(x_test, y_test):.4f} "
        f"(search {estimator.search_seconds_:.1f}s, refit {estimator.refit_seconds_:.1f}s on {estimator.device_})"
    )
    if args.export:
        path = estimator.export(args.export, format=args.format)
        print(f"Exported the best model to {path} ({args.format})")
    return 0


def _trials_per_process(text: str):
    if text in ("auto", "none"):
        return None if text == "none" else text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected auto, none or a positive integer; received {text!r}") from None


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return search(args)
    except ValueError as error:
        print(f"keras-nas: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
