"""The contenders: every keras_nas strategy, keras-tuner's tuners, AutoKeras and plain baselines.

A contender is a function `run(split, budget, workdir) -> dict` that trains on
`split.x_train`, chooses with `split.x_val`, scores once on `split.x_test` and
returns the measured fields (see `benchmarks.runner.RESULT_FIELDS`). keras_nas
contenders are listed from `keras_nas.search.oracles.ORACLES` and
`keras_nas.oneshot.STRATEGIES`, so a new oracle or one-shot strategy joins
the benchmark as soon as it lands.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

from keras_nas.search import oracles


@dataclasses.dataclass(frozen=True)
class Budget:
    """What every contender may spend: trials of at most `epochs` epochs, and optionally wall seconds."""

    max_trials: int = 15
    epochs: int = 10
    seconds: float | None = None
    patience: int = 3
    safety_seconds: float = 1500.0  # under a trial budget, searches stop cleanly after this (the hard timeout is later)


@dataclasses.dataclass(frozen=True)
class Contender:
    name: str
    run: Callable
    anchor: bool  # a reference point (not keras_nas) that ratios are taken against
    description: str
    smoke: bool = True  # in the smoke suite by default (supernets trace for minutes even at smoke size)
    refits: bool = False  # refits its search's best trial: reports test_score_search, search_seconds, refit_seconds


def registry() -> dict[str, Contender]:
    from benchmarks.contenders import autokeras_runs, baselines, keras_nas_runs, keras_tuner_runs

    found = {}
    for oracle in oracles.ORACLES:
        found[f"keras_nas:{oracle}"] = Contender(
            f"keras_nas:{oracle}", keras_nas_runs.make(oracle), False,
            f"NASClassifier(oracle={oracle!r}), refit on train+val", refits=True)
    found["keras_nas:morphism_ei_per_second"] = Contender(
        "keras_nas:morphism_ei_per_second", keras_nas_runs.make(keras_nas_runs.cost_aware_morphism), False,
        "NASClassifier(oracle=MorphismOracle(acquisition='ei_per_second')): cost-aware morphism search, refit on "
        "train+val", refits=True, smoke=False)
    from keras_nas.oneshot import STRATEGIES

    for strategy in STRATEGIES:
        found[f"keras_nas:{strategy}"] = Contender(
            f"keras_nas:{strategy}", keras_nas_runs.make_one_shot(strategy), False,
            f"NASClassifier(strategy={strategy!r}): one supernet search of the budget's epochs, "
            "then the derived network trained from scratch on train+val", smoke=False)
    found["keras_nas:enas_random10"] = Contender(
        "keras_nas:enas_random10", keras_nas_runs.make_random_architectures(10), False,
        "10 children drawn uniformly from the default ENAS space, each trained from scratch as "
        "strategy='enas' trains its derived child; test score = their median (each one in test_scores)", smoke=False)
    for tuner in keras_tuner_runs.TUNERS:
        found[f"keras_tuner:{tuner}"] = Contender(
            f"keras_tuner:{tuner}", keras_tuner_runs.make(tuner), True,
            f"stock keras_tuner {keras_tuner_runs.TUNERS[tuner].__name__} over the same space, best search checkpoint")
    found["keras_tuner:random+refit"] = Contender(
        "keras_tuner:random+refit", keras_tuner_runs.random_with_refit, True, keras_tuner_runs.REFIT_DESCRIPTION,
        refits=True)
    found["autokeras"] = Contender("autokeras", autokeras_runs.run, True, autokeras_runs.DESCRIPTION)
    found["fixed_keras"] = Contender("fixed_keras", baselines.fixed_keras, True, baselines.FIXED_DESCRIPTION)
    found["sklearn_logreg"] = Contender("sklearn_logreg", baselines.logistic_regression, True,
                                        "scikit-learn LogisticRegression on standardised, flattened inputs")
    found["sklearn_mlp"] = Contender("sklearn_mlp", baselines.mlp, True,
                                     "scikit-learn MLPClassifier (early stopping) on standardised, flattened inputs")
    return found
