"""keras_nas contenders: `NASClassifier` with each oracle or one-shot strategy, refit on train + validation.

Under a time budget `time_budget` covers the whole `fit`, search and refit. The trial contenders also
score the best trial's search checkpoint, before the refit, as the keras-tuner contenders are scored
(`test_score_search`): the trials were trained on inputs standardised with the training split's
statistics, and their models hold no normalisation (`best_model_` wraps one around the refitted network).
"""

from __future__ import annotations

import numpy as np

from benchmarks.contenders.common import standardize
from benchmarks.contenders.observe import Clock


def _search_score(clf, split) -> float:
    """Test accuracy of the best trial's search checkpoint, on test inputs standardised as the trials saw theirs."""
    model = clf.tuner_.load_model(clf.tuner_.oracle.get_trial(clf.best_trial_id_))
    predicted = clf.classes_[np.argmax(model.predict(standardize(split)[2], verbose=0), axis=1)]
    return float(np.mean(predicted == split.y_test))


def _refit_epochs(clf) -> int:
    """Epochs of the final training (none where the search spent the whole time budget: `history_` is None)."""
    return len((clf.history_ or {}).get("loss", []))


def make(oracle):
    """`oracle`: a registered name, or a function of the split's seed that returns an Oracle instance."""

    def run(split, budget, workdir):
        from keras_nas import NASClassifier

        clock = Clock(budget.seconds)
        clf = NASClassifier(
            oracle=oracle(split.seed) if callable(oracle) else oracle,
            max_trials=budget.max_trials if budget.seconds is None else None,
            time_budget=budget.seconds or budget.safety_seconds,
            epochs=budget.epochs,
            patience=budget.patience,
            validation_data=(split.x_val, split.y_val),
            directory=workdir,
            seed=split.seed,
        ).fit(split.x_train, split.y_train)
        best = None
        records = sorted(clf.tuner_.records.items(), key=lambda item: item[1].finished_at)
        scores = {row["trial_id"]: row["score"] for row in clf.leaderboard_}
        for trial_id, record in records:
            if scores.get(trial_id) is not None:
                best = scores[trial_id] if best is None else max(best, scores[trial_id])
                clock.record(best, at=record.finished_at - clock.started_wall)
        completed = [row for row in clf.leaderboard_ if row["status"] == "COMPLETED"]
        return {
            "test_score": float(clf.score(split.x_test, split.y_test)),
            "test_score_search": _search_score(clf, split),
            "search_seconds": clf.search_seconds_,
            "refit_seconds": clf.refit_seconds_,
            "best_val_score": clf.best_score_,
            "epochs_trained": sum(row["epochs"] or 0 for row in clf.leaderboard_) + _refit_epochs(clf),
            "trials_completed": len(completed),
            "trials_not_completed": [{"trial_id": row["trial_id"], "status": row["status"],
                                      "message": (row.get("message") or "")[-500:]}
                                     for row in clf.leaderboard_ if row["status"] != "COMPLETED"],
            "oracle_seconds": clf.oracle_seconds_,
            "anytime": clock.anytime,
            "params": int(clf.best_model_.count_params()),
            "architecture": clf.leaderboard_[0]["architecture"],
        }

    return run


def cost_aware_morphism(seed: int):
    """The default morphism oracle with cost-aware acquisition (expected improvement per predicted second)."""
    from keras_nas import MorphismOracle

    return MorphismOracle(objective="val_accuracy", max_trials=None, seed=seed + 1, acquisition="ei_per_second")


def make_one_shot(strategy: str):
    """`NASClassifier(strategy=...)`: supernet search for `budget.epochs`, then the derived network from scratch."""

    def run(split, budget, workdir):
        from keras_nas import NASClassifier

        clock = Clock(budget.seconds)
        clf = NASClassifier(
            strategy=strategy,
            max_trials=None,
            time_budget=budget.seconds,
            epochs=budget.epochs,
            validation_data=(split.x_val, split.y_val),
            seed=split.seed,
        ).fit(split.x_train, split.y_train)
        if clf.best_score_ is not None:  # the supernet's validation score, known when the search ends
            clock.record(clf.best_score_, at=clf.search_seconds_)
        return {
            "test_score": float(clf.score(split.x_test, split.y_test)),
            "search_seconds": clf.search_seconds_,
            "refit_seconds": clf.refit_seconds_,  # the derived network, trained from scratch
            "best_val_score": clf.best_score_,
            "epochs_trained": clf.leaderboard_[0]["epochs"] + _refit_epochs(clf),
            "trials_completed": 1,
            "oracle_seconds": 0.0,
            "anytime": clock.anytime,
            "params": int(clf.best_model_.count_params()),
            "architecture": clf.best_architecture_.summary(),
            # per search epoch (ENAS's controller_reward among them), for the report's curves
            "search_history": {k: [float(v) for v in values] for k, values in clf.strategy_.history_.items()},
        }

    return run


def make_random_architectures(count: int = 10):
    """ENAS's random baseline: `count` children drawn uniformly from the default ENAS space, each trained from
    scratch exactly as `NASClassifier(strategy="enas")` trains its derived child; test_score is their median."""

    def run(split, budget, workdir):
        import numpy as np
        from keras_nas import NASClassifier
        from keras_nas.oneshot.enas.search import ENASStrategy

        class RandomChild(ENASStrategy):
            """No search: a child drawn uniformly from the space."""

            name = "enas_random"

            def __init__(self, draw: int):
                super().__init__()
                self.draw = draw

            def search(self, x_train, y_train, x_val, y_val):
                self.space_ = self.make_space()
                self.arc_ = self.space_.random_arc([split.seed, self.draw])
                self.history_, self.score_ = {}, None
                return self

            def derive(self):
                return self.space_.to_architecture(self.arc_)

            def describe(self):
                return {"strategy": self.name, **self.space_.describe(), "arc": [int(v) for v in self.arc_]}

        clock = Clock(budget.seconds)
        scores, params, architectures, epochs = [], [], [], 0
        for draw in range(count):
            clf = NASClassifier(strategy=RandomChild(draw), max_trials=None, epochs=budget.epochs,
                                validation_data=(split.x_val, split.y_val), seed=split.seed)
            clf.fit(split.x_train, split.y_train)
            scores.append(float(clf.score(split.x_test, split.y_test)))
            params.append(int(clf.best_model_.count_params()))
            architectures.append(clf.best_architecture_.summary())
            epochs += len(clf.history_["loss"])
        middle = int(np.argsort(scores)[len(scores) // 2])
        clock.record(0.0, at=0.0)  # nothing is validated: the curve only marks that the run produced a result
        return {
            "test_score": float(np.median(scores)),
            "test_scores": scores,
            "best_val_score": 0.0,
            "epochs_trained": epochs,
            "trials_completed": count,
            "oracle_seconds": 0.0,
            "anytime": clock.anytime,
            "params": params[middle],
            "architecture": architectures[middle],
        }

    return run
