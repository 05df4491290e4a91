"""Memory of the DARTS family's search step: DARTS, PC-DARTS and GDAS at the same batch size.

A CPU has no allocator statistics to read (`tf.config.experimental.get_memory_info`
covers GPUs and TPUs only), so memory is read as peak RSS, each measurement in
a fresh process: the strategy's default supernet (as `NASClassifier(strategy=...)`
builds it) is trained bi-level for a few steps at a batch size. Peak RSS also
holds TensorFlow itself and the traced step; what a batch adds is the step's
activation memory, so the table gives it as the difference between the batch
asked for and a batch of 8, with both peaks.

    python -m benchmarks.supernet_memory                      # digits and mnist1d, batch 512
    python -m benchmarks.supernet_memory --batch-size 96 --datasets digits

Writes benchmarks/results/supernet_memory.json and .md (or --out).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys

from benchmarks.environment import describe, environment

VARIANTS = ("darts", "pc_darts", "gdas")
DATASETS = ("digits", "mnist1d")
SMALL_BATCH = 8
RESULTS = os.path.join(os.path.dirname(__file__), "results")


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_one(variant: str, dataset: str, batch_size: int, steps: int = 3) -> dict:
    """Peak RSS of this process after `steps` bi-level steps of `variant`'s default supernet."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import numpy as np

    from benchmarks.splits import load_split
    from keras_nas.architecture import Head
    from keras_nas.oneshot.data import bilevel_dataset
    from keras_nas.oneshot.strategy import get_strategy, graph_optimizer

    split = load_split(dataset, 0)
    x, y = split.x_train.astype("float32"), split.y_train
    repeats = -(-batch_size * steps // len(x))  # enough examples for `steps` full batches
    x, y = np.concatenate([x] * repeats)[: batch_size * steps], np.concatenate([y] * repeats)[: batch_size * steps]
    strategy = get_strategy(variant).configure(x.shape[1:], Head("classification", split.num_classes), seed=0)
    model = strategy.build_supernet()
    model.compile(order=1, decay_steps=steps)
    before = peak_rss_mib()
    with graph_optimizer(strategy.graph_rewrites):  # as the search runs it
        model.fit(bilevel_dataset((x, y), (x, y), batch_size, seed=0), epochs=1, verbose=0)
    return {"variant": variant, "dataset": dataset, "batch_size": batch_size, "steps": steps,
            "peak_rss_mib": round(peak_rss_mib(), 1), "peak_before_fit_mib": round(before, 1)}


def _in_child(variant: str, dataset: str, batch_size: int) -> dict:
    command = [sys.executable, "-m", "benchmarks.supernet_memory", "--one", variant, dataset, str(batch_size)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=1200)
    if done.returncode != 0:
        raise RuntimeError(f"{variant} on {dataset} at batch {batch_size} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def table(rows: list[dict], command: str) -> str:
    lines = [
        "# Supernet step memory (DARTS family)",
        "",
        f"Command: `{command}`",
        "",
        describe(environment()),
        "",
        "Each cell is one fresh process: the strategy's default supernet, trained bi-level for 3 steps. "
        f"'activations' is the peak RSS at the batch size minus the peak RSS at batch {SMALL_BATCH}: "
        "what the batch adds, which is what partial channels (PC-DARTS) and one op per edge (GDAS) cut.",
        "",
        "| dataset | batch | variant | peak RSS MiB | peak RSS at batch 8 MiB | activations MiB | vs DARTS |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['dataset']} | {row['batch_size']} | {row['variant']} | {row['peak_rss_mib']:.0f} | "
            f"{row['small_batch_peak_rss_mib']:.0f} | {row['activation_mib']:.0f} | {row['vs_darts']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--out", default=RESULTS)
    parser.add_argument("--one", nargs=3, metavar=("VARIANT", "DATASET", "BATCH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(measure_one(args.one[0], args.one[1], int(args.one[2]))))
        return 0

    rows = []
    for dataset in args.datasets:
        darts = None
        for variant in args.variants:
            large, small = _in_child(variant, dataset, args.batch_size), _in_child(variant, dataset, SMALL_BATCH)
            row = {**large, "small_batch_peak_rss_mib": small["peak_rss_mib"],
                   "activation_mib": round(large["peak_rss_mib"] - small["peak_rss_mib"], 1)}
            darts = row["activation_mib"] if variant == "darts" else darts
            row["vs_darts"] = row["activation_mib"] / darts if darts else float("nan")
            rows.append(row)
            print(f"{dataset} {variant}: {row['peak_rss_mib']:.0f} MiB at batch {args.batch_size}, "
                  f"{row['activation_mib']:.0f} MiB over batch {SMALL_BATCH}", flush=True)
    command = "python -m benchmarks.supernet_memory " + " ".join(argv if argv is not None else sys.argv[1:])
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "supernet_memory.json"), "w") as handle:
        json.dump({"rows": rows, "command": command.strip(), "environment": environment()}, handle, indent=1)
    report = table(rows, command.strip())
    with open(os.path.join(args.out, "supernet_memory.md"), "w") as handle:
        handle.write(report)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
