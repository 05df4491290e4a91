"""keras_nas contenders: `NASClassifier` with each oracle or one-shot strategy, refit on train + validation."""

from __future__ import annotations

from benchmarks.contenders.observe import Clock


def make(oracle: str):
    def run(split, budget, workdir):
        from keras_nas import NASClassifier

        clock = Clock(budget.seconds)
        clf = NASClassifier(
            oracle=oracle,
            max_trials=budget.max_trials if budget.seconds is None else None,
            time_budget=budget.seconds or budget.safety_seconds,
            epochs=budget.epochs,
            patience=budget.patience,
            validation_data=(split.x_val, split.y_val),
            directory=workdir,
            seed=split.seed,
        ).fit(split.x_train, split.y_train)
        best = None
        records = sorted(clf.tuner_.records.items(), key=lambda item: item[1]["finished_at"])
        scores = {row["trial_id"]: row["score"] for row in clf.leaderboard_}
        for trial_id, record in records:
            if scores.get(trial_id) is not None:
                best = scores[trial_id] if best is None else max(best, scores[trial_id])
                clock.record(best, at=record["finished_at"] - clock.started_wall)
        completed = [row for row in clf.leaderboard_ if row["status"] == "COMPLETED"]
        return {
            "test_score": float(clf.score(split.x_test, split.y_test)),
            "best_val_score": clf.best_score_,
            "epochs_trained": sum(row["epochs"] or 0 for row in clf.leaderboard_) + len(clf.history_["loss"]),
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
            "best_val_score": clf.best_score_,
            "epochs_trained": clf.leaderboard_[0]["epochs"] + len(clf.history_["loss"]),
            "trials_completed": 1,
            "oracle_seconds": 0.0,
            "anytime": clock.anytime,
            "params": int(clf.best_model_.count_params()),
            "architecture": clf.best_architecture_.summary(),
        }

    return run
