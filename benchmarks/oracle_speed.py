"""How long one `MorphismOracle` proposal takes with a long history (issue 4's micro-benchmark).

A history of `--trials` completed trials is made without training anything:
architectures are random walks of morphisms from the seed network of an 8x8x1
image space (as for digits), scored by a smooth function of their depth, width
and skips plus noise. Then the oracle proposes `--repeats` times and each
proposal is timed (GP fit, tree-structured acquisition search and keras-tuner's
bookkeeping together).

    python -m benchmarks.oracle_speed                 # 200 completed trials, 5 proposals
    python -m benchmarks.oracle_speed --trials 50 --repeats 3

Writes benchmarks/results/oracle_speed.md (or --out) with the environment.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time

import numpy as np

from benchmarks.environment import describe, environment

RESULTS = os.path.join(os.path.dirname(__file__), "results")


def _history(space, oracle, trials: int, seed: int) -> list[tuple[dict, float]]:
    """`trials` (values, score) pairs: random morphism walks from the seed, scored smoothly."""
    from keras_nas.search.morphism import moves

    rng = np.random.default_rng(seed)
    found, seen = [], set()
    while len(found) < trials:
        architecture = space.seed_architecture()
        for _ in range(int(rng.integers(0, 8))):
            options = moves.candidates(architecture, space.input_shape, max_width=space.max_width)
            move = options[int(rng.integers(len(options)))]
            child = moves.apply(architecture, move, space.input_shape)
            if space.values_for(child) is not None:
                architecture = child
        key = architecture.to_json()
        if key in seen:
            continue
        seen.add(key)
        widths = [layer.get("filters", layer.get("units", 0)) for layer in architecture.layers]
        score = (0.9 + 0.01 * len(architecture.layers) + 0.02 * np.log2(max(widths) / 32)
                 + 0.005 * len(architecture.skips) + rng.normal(0, 0.01))
        learning_rate = float(10 ** rng.uniform(-4, -2))
        found.append(({"optimizer": "adam", "learning_rate": learning_rate, **space.values_for(architecture)},
                      float(min(score, 1.0))))
    return found


def make_oracle(trials: int, seed: int = 0, directory: str | None = None, trial_seconds: float = 100.0):
    """A `MorphismOracle` over an 8x8x1 image space holding `trials` completed trials.

    Each trial is recorded as lasting `trial_seconds`; at 100 s or more the
    adaptive time bound sits at its cap, the worst case for proposal time.
    """
    import keras_tuner

    from keras_nas.architecture import Head
    from keras_nas.search.morphism.oracle import MorphismOracle
    from keras_nas.spaces.morphism import MorphismSpace

    space = MorphismSpace(input_shape=(8, 8, 1), head=Head("classification", 10), max_width=256)
    oracle = MorphismOracle(objective=keras_tuner.Objective("val_accuracy", "max"), max_trials=trials + 100,
                            hypermodel=space, num_initial_points=3, seed=seed)  # a history past the random design
    oracle._set_project_dir(directory or tempfile.mkdtemp(prefix="oracle_speed_"), "speed")
    hp = keras_tuner.HyperParameters()
    space.optimizer(hp)  # declares the optimizer and learning-rate hyperparameters
    oracle.update_space(hp)
    for index, (values, score) in enumerate(_history(space, oracle, trials, seed)):
        trial_hp = oracle.get_space()
        trial_hp.values.update(values)
        trial = keras_tuner.engine.trial.Trial(trial_hp, trial_id=f"{index:04d}", status="COMPLETED")
        trial.score, trial.best_step = score, 0
        oracle.trials[trial.trial_id] = trial
        oracle._tried_so_far.add(oracle._compute_values_hash(values))
        oracle.trial_seconds[trial.trial_id] = float(trial_seconds)
    return oracle


def measure(trials: int = 200, repeats: int = 5, seed: int = 0, trial_seconds: float = 100.0) -> dict:
    """Times `repeats` proposals of an oracle holding `trials` completed trials."""
    oracle = make_oracle(trials, seed, trial_seconds=trial_seconds)
    seconds, proposals = [], []
    for repeat in range(repeats):
        started = time.perf_counter()
        proposal = oracle.populate_space(f"new{repeat}")
        seconds.append(time.perf_counter() - started)
        proposals.append(proposal)
    return {
        "trials": trials,
        "repeats": repeats,
        "trial_seconds": trial_seconds,
        "time_bound": oracle._time_bound(),
        "seconds": [round(s, 4) for s in seconds],
        "median_seconds": round(statistics.median(seconds), 4),
        "cold_seconds": round(seconds[0], 4),
        "warm_median_seconds": round(statistics.median(seconds[1:] or seconds), 4),
        "max_seconds": round(max(seconds), 4),
        "grown": sum("nas/parent_trial_id" in (p["values"] or {}) for p in proposals),
        "log": oracle.proposal_log[-repeats:],
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--trial-seconds", type=float, default=100.0,
                        help="recorded duration of each past trial; >= 100 puts the time bound at its cap")
    parser.add_argument("--out", default=RESULTS)
    args = parser.parse_args(argv)
    result = measure(args.trials, args.repeats, args.seed, args.trial_seconds)
    env = environment()
    command = (f"python -m benchmarks.oracle_speed --trials {args.trials} --repeats {args.repeats} --seed {args.seed}"
               f" --trial-seconds {args.trial_seconds:g}")
    text = (
        "# MorphismOracle proposal time\n\n"
        f"Command: `{command}`\n\nEnvironment: {describe(env)}.\n\n"
        f"With {result['trials']} completed trials in the history, each recorded as lasting "
        f"{result['trial_seconds']:g} s (adaptive time bound {result['time_bound']:.2f} s, GP fit included), "
        f"{result['repeats']} proposals took "
        f"median {result['median_seconds']:.3f} s, max {result['max_seconds']:.3f} s "
        f"({result['grown']} of them grown from a completed trial by morphisms).\n\n"
        f"Each: {', '.join(f'{s:.3f}' for s in result['seconds'])} s. The first computes the whole "
        f"{result['trials']} x {result['trials']} distance matrix (cold caches, as right after a resume): "
        f"{result['cold_seconds']:.3f} s; the others reuse it, as a running search does: median "
        f"{result['warm_median_seconds']:.3f} s.\n"
    )
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "oracle_speed.md"), "w") as handle:
        handle.write(text)
    with open(os.path.join(args.out, "oracle_speed.json"), "w") as handle:
        json.dump({**result, "command": command, "environment": env}, handle, indent=1)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
