"""The benchmark harness's bookkeeping (the searches themselves run in `python -m benchmarks`)."""
import copy
import dataclasses
import json
import types

import pytest

pytest.importorskip("matplotlib")

from benchmarks import report, runner  # noqa: E402
from benchmarks.splits import load_split  # noqa: E402


def _result(contender, dataset, seed, test, wall, status="ok"):
    refits = contender.startswith("keras_nas:") or contender.endswith("+refit")  # contenders that refit a trial
    return {
        "contender": contender, "dataset": dataset, "seed": seed, "status": status, "error": None,
        "budget": {"max_trials": 15, "epochs": 10, "seconds": None, "patience": 3}, "metric": "accuracy",
        "test_score": test, "best_val_score": test + 0.01, "epochs_trained": 100, "trials_completed": 15,
        "oracle_seconds": 1.5, "anytime": [[10.0, 0.5], [20.0, test + 0.01]], "params": 1000,
        "architecture": "dense64", "wall_seconds": wall, "peak_rss_mib": 900.0,
        "environment": {"cpu": "cpu", "cores": 2, "python": "3.11", "packages": {"keras": "3"}},
        **({"test_score_search": test - 0.02, "search_seconds": 0.9 * wall, "refit_seconds": 0.1 * wall}
           if refits else {}),
    }


def _anytime(contender, dataset, seed, seconds, test, search=None):
    """A hand-made result of the anytime suite at a budget of `seconds`."""
    result = {**_result(contender, dataset, seed, test, seconds + 5), "suite": "anytime", "test_examples": 360}
    result["budget"] = {**result["budget"], "seconds": float(seconds)}
    if search is not None:
        result["test_score_search"] = search
    return result


def test_splits_never_share_examples_and_are_fixed_per_seed():
    a, b = load_split("breast_cancer", 0), load_split("breast_cancer", 0)
    assert (a.x_test == b.x_test).all()
    rows = {tuple(r) for r in a.x_train} | {tuple(r) for r in a.x_val}
    assert not rows & {tuple(r) for r in a.x_test}
    assert len(a.x_train) + len(a.x_val) + len(a.x_test) == 569
    assert not (load_split("breast_cancer", 1).x_test.shape == a.x_test.shape and (load_split("breast_cancer", 1).x_test == a.x_test).all())


def test_problems_flags_incomplete_results():
    assert runner.problems(_result("keras_nas:random", "digits", 0, 0.9, 10)) == []
    broken = _result("autokeras", "digits", 0, 0.9, 10)
    broken["anytime"] = [[10.0, 0.9], [20.0, 0.5]]
    del broken["params"]
    assert runner.problems(broken) == ["missing params", "anytime curve is not monotone"]
    assert runner.problems({"status": "timeout", "error": "killed"})[0].startswith("status timeout")


def test_problems_asks_refitting_contenders_for_the_score_before_the_refit():
    refitted = _result("keras_tuner:random+refit", "digits", 0, 0.9, 10)
    del refitted["test_score_search"], refitted["refit_seconds"]
    assert runner.problems(refitted) == ["missing test_score_search", "missing refit_seconds"]
    assert runner.problems({**_result("keras_nas:bayesian", "digits", 0, 0.9, 10), "test_score_search": 1.5}) == [
        "test_score_search 1.5 outside [0, 1]"]
    assert runner.problems(_result("keras_tuner:random", "digits", 0, 0.9, 10)) == []  # scored on its checkpoint
    assert runner.problems(_anytime("fixed_keras", "digits", 0, 60, 0.9)) == []
    untimed = {**_anytime("fixed_keras", "digits", 0, 60, 0.9), "budget": {"seconds": None}}
    assert runner.problems(untimed) == ["anytime run without a wall-clock budget"]


def test_table_reports_medians_and_ratios(tmp_path):
    results = [_result("keras_nas:random", "digits", s, t, 100) for s, t in enumerate([0.90, 0.96, 0.94])]
    results += [_result("keras_tuner:random", "digits", s, t, 200) for s, t in enumerate([0.80, 0.85, 0.90])]
    results += [_result("sklearn_mlp", "digits", 0, 0.5, 1, status="timeout")]
    for result in results:
        (tmp_path / f"{result['dataset']}_seed{result['seed']}_{result['contender'].replace(':', '-')}.json").write_text(
            json.dumps(result))
    text = report.markdown(report.load_results(str(tmp_path)), "cmd")
    assert "Best anchor (highest median test accuracy among non-keras_nas contenders): `keras_tuner:random`" in text
    row = next(line for line in text.splitlines() if line.startswith("| keras_nas:random"))
    assert "| 0.9400 | 0.9000–0.9600 | 1.106 |" in row and "| 0.50 |" in row
    assert "0/1 (timeout)" in text
    paths = report.plots(report.load_results(str(tmp_path)), str(tmp_path))
    assert [p.split("/")[-1] for p in paths] == ["anytime_digits.png", "accuracy_vs_params.png"]


def test_time_to_reach_the_bayesian_tuners_best():
    reference = _result("keras_tuner:bayesian", "digits", 0, 0.90, 200)  # its best val: 0.91
    fast = {**_result("keras_nas:morphism", "digits", 0, 0.95, 300), "anytime": [[10.0, 0.5], [50.0, 0.92]]}
    never = {**_result("keras_nas:random", "digits", 0, 0.85, 300), "anytime": [[10.0, 0.5], [90.0, 0.86]]}
    found = report.time_to_target([reference, fast, never])
    assert found["digits"]["keras_nas:morphism"] == [(0, 50.0, 0.25)]
    assert found["digits"]["keras_nas:random"] == [(0, None, None)]
    text = report.markdown([reference, fast, never], "cmd")
    assert "| digits | keras_nas:morphism | 0: 50 s, 0.25 | 0.25 |" in text


def test_oracle_speed_micro_benchmark_runs():
    from benchmarks import oracle_speed

    result = oracle_speed.measure(trials=20, repeats=2, trial_seconds=10.0)
    assert result["trials"] == 20 and len(result["seconds"]) == 2
    assert result["time_bound"] == 0.1  # 1 % of the recorded trial duration
    assert result["grown"] == 2  # both proposals grew a completed trial by morphisms
    assert all("fallback" not in entry for entry in result["log"])


def test_controller_reward_curves_are_tabled_and_plotted(tmp_path):
    enas = [{**_result("keras_nas:enas", "mnist1d", s, 0.9, 50),
             "search_history": {"controller_reward": [0.3, 0.5 + s / 10], "loss": [1.0, 0.5]}} for s in (0, 1)]
    plain = _result("keras_tuner:bayesian", "mnist1d", 0, 0.9, 100)
    text = report.markdown(enas + [plain], "cmd")
    assert "| mnist1d | keras_nas:enas | 1 | 2 | 0.3000 | 0.6000 | 0.6000 | 0.3000 |" in text
    paths = report.plots(enas + [plain], str(tmp_path))
    assert paths[-1].endswith("controller_reward_mnist1d.png")


def test_smoke_suite_leaves_out_supernets_and_the_random_children_baseline():
    from benchmarks.contenders import registry

    found = registry()
    heavy = {name for name, contender in found.items() if not contender.smoke}
    assert {"keras_nas:darts", "keras_nas:enas", "keras_nas:enas_random10"} <= heavy
    assert "keras_nas:morphism" not in heavy and "keras_tuner:bayesian" not in heavy


def test_supernet_memory_table_gives_each_variant_its_activation_memory():
    from benchmarks import supernet_memory

    rows = [{"dataset": "digits", "batch_size": 512, "variant": v, "peak_rss_mib": p, "small_batch_peak_rss_mib": 900.0,
             "activation_mib": p - 900.0, "vs_darts": (p - 900.0) / 300.0} for v, p in (("darts", 1200.0), ("pc_darts", 1000.0))]
    text = supernet_memory.table(rows, "cmd")
    assert "| digits | 512 | pc_darts | 1000 | 900 | 100 | 0.33 |" in text and "Command: `cmd`" in text


def test_the_memory_benchmark_reads_the_last_sample_before_each_trial_end():
    from benchmarks import trial_memory

    sampler = trial_memory.Sampler()
    sampler.samples = [(1.0, 700.0, 1000.0), (2.0, 710.0, 1010.0), (3.0, 720.0, 1030.0)]
    assert sampler.at(2.5) == (710.0, 1010.0) and sampler.at(9.0) == (720.0, 1030.0)
    assert sampler.at(0.5) == (700.0, 1000.0)  # before the first reading: the first one
    assert trial_memory.pss_mib() > 0


def test_the_memory_benchmark_finds_this_process_s_children():
    import os
    import subprocess
    import sys

    from benchmarks import trial_memory

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert child.pid in trial_memory.children(os.getpid())
    finally:
        child.kill()
        child.wait()


def test_the_anytime_suite_s_command_line_and_defaults(monkeypatch, tmp_path):
    from benchmarks import __main__ as cli

    calls = []
    monkeypatch.setattr(runner, "run_anytime", lambda *args, **kwargs: calls.append((args, kwargs)) or [])
    monkeypatch.setattr(cli, "_write_report", lambda out, command: command)
    assert cli.main(["run", "--suite", "anytime"]) == 0
    (datasets, seeds, budgets, contenders, out), kwargs = calls[-1]
    assert (datasets, seeds, budgets) == (["mnist5k", "mnist1d"], [0, 1, 2], [60.0, 180.0, 600.0])
    assert out.endswith("benchmarks/results/anytime")
    assert kwargs["epochs"] == 10 and kwargs["timeout"] is None and kwargs["isolated"] and not kwargs["fresh"]
    assert {"keras_tuner:random+refit", "keras_tuner:bayesian", "keras_tuner:hyperband", "autokeras", "fixed_keras",
            "keras_nas:morphism", "keras_nas:darts"} <= set(contenders)
    assert not {"sklearn_logreg", "sklearn_mlp", "keras_nas:enas_random10"} & set(contenders)
    assert cli.main(["run", "--suite", "anytime", "--datasets", "mnist1d", "--seeds", "1", "--budgets", "30", "90",
                     "--contenders", "fixed_keras", "--out", str(tmp_path)]) == 0
    assert calls[-1][0] == (["mnist1d"], [1], [30.0, 90.0], ["fixed_keras"], str(tmp_path))
    with pytest.raises(SystemExit):  # budgets belong to the anytime suite
        cli.main(["run", "--suite", "full", "--budgets", "60"])


def test_anytime_runs_cheapest_budget_first_one_file_per_budget_and_resume(monkeypatch, tmp_path):
    calls = []

    def fake_run(contender, dataset, seed, budget, smoke, timeout, suite):
        calls.append((budget.seconds, seed, contender, timeout, suite))
        return {**_anytime(contender, dataset, seed, budget.seconds, 0.9), "budget": dataclasses.asdict(budget)}

    monkeypatch.setattr(runner, "run_isolated", fake_run)
    out = str(tmp_path)
    runner.run_anytime(["digits"], [0, 1], [180, 60], ["fixed_keras", "keras_tuner:random"], out, log=lambda _: None)
    assert [c[0] for c in calls] == [60.0] * 4 + [180.0] * 4  # every 60 s run before any 180 s run
    assert calls[0] == (60.0, 0, "fixed_keras", 270.0, "anytime")  # hard limit 1.5 x 60 + 180 s
    assert len(set(tmp_path.iterdir())) == 8 and len(report.load_results(out)) == 8
    assert runner.result_path(out, "digits", 0, "keras_tuner:random+refit", 60.0).endswith(
        "digits_seed0_60s_keras_tuner-random+refit.json")
    calls.clear()
    runner.run_anytime(["digits"], [0, 1], [60, 180, 600], ["fixed_keras", "keras_tuner:random"], out,
                       log=lambda _: None)
    assert [c[0] for c in calls] == [600.0] * 4  # finished budgets are kept; only the new one runs
    path = tmp_path / "digits_seed1_180s_fixed_keras.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "status": "timeout"}))
    calls.clear()
    runner.run_anytime(["digits"], [0, 1], [60, 180, 600], ["fixed_keras", "keras_tuner:random"], out,
                       log=lambda _: None)
    assert calls == [(180.0, 1, "fixed_keras", 450.0, "anytime")]  # an incomplete run is run again


def test_anytime_report_gives_the_area_under_the_median_accuracy_against_log_budget(tmp_path):
    import math

    budgets, tests, searches = (60, 180, 600), (0.80, 0.86, 0.90), (0.78, 0.85, 0.88)
    results = [_anytime("keras_nas:random", "digits", seed, b, t + d, s + d)
               for b, t, s in zip(budgets, tests, searches, strict=True) for seed, d in enumerate((-0.02, 0.0, 0.03))]
    results += [_anytime("keras_tuner:random", "digits", seed, b, t)
                for b, t in zip(budgets, (0.70, 0.80, 0.85), strict=True) for seed in range(3)]
    results += [_anytime("fixed_keras", "digits", 0, 60, 0.75)]  # no 180 or 600 s run yet: no area
    def by_hand(a, b, c):
        return (math.log(3) * (a + b) / 2 + math.log(600 / 180) * (b + c) / 2) / math.log(10)
    summary = report.anytime_summary(results)["digits"]
    assert summary["keras_nas:random"]["auc"] == pytest.approx(by_hand(*tests))
    assert summary["keras_nas:random"]["auc_search"] == pytest.approx(by_hand(*searches))
    assert summary["keras_tuner:random"]["auc_search"] is None and summary["fixed_keras"]["auc"] is None
    assert report.anytime_auc({60.0: 0.5}) == 0.5 and report.anytime_auc({60.0: 0.5, 180.0: None}) is None
    text = report.markdown(results, "python -m benchmarks run --suite anytime")
    assert "Command: `python -m benchmarks run --suite anytime`" in text
    assert "One point of accuracy is 3.6 test examples (360 in the test split)." in text
    assert "Best anchor (highest AUC among non-keras_nas contenders): `keras_tuner:random`." in text
    row = next(line for line in text.splitlines() if line.startswith("| keras_nas:random "))
    ratio = by_hand(*tests) / by_hand(0.70, 0.80, 0.85)
    assert row.startswith("| keras_nas:random | 0.8000 | 0.7800 | 0.8100 | 65 | 0.8600 | 0.8500 |")
    assert f"| {by_hand(*tests):.4f} | {by_hand(*searches):.4f} | {ratio:.3f} | 9/9 |" in row
    fixed = next(line for line in text.splitlines() if line.startswith("| fixed_keras "))
    assert fixed.endswith("| – | – | – | 1/1 |") and text.index("| keras_nas:random ") < text.index("| fixed_keras ")
    paths = report.plots(results, str(tmp_path))
    assert [p.split("/")[-1] for p in paths] == ["anytime_budgets_digits.png", "anytime_digits.png",
                                                   "accuracy_vs_params.png"]


def test_the_refit_anchor_is_registered_and_reserves_its_refit_s_time(monkeypatch):
    from benchmarks.contenders import keras_tuner_runs, registry
    from benchmarks.contenders.observe import Clock

    found = registry()
    anchor = found["keras_tuner:random+refit"]
    assert anchor.anchor and anchor.refits and anchor.smoke  # seconds at smoke size
    assert found["keras_nas:bayesian"].refits and not found["keras_nas:darts"].refits
    assert not found["keras_tuner:random"].refits
    now = [0.0]
    monkeypatch.setattr(keras_tuner_runs.time, "monotonic", lambda: now[0])
    trials = {"a": types.SimpleNamespace(trial_id="a"), "b": types.SimpleNamespace(trial_id="b")}
    best = []
    tuner = types.SimpleNamespace(on_trial_begin=lambda trial: None, on_trial_end=lambda trial: None,
                                  oracle=types.SimpleNamespace(get_best_trials=lambda n: [trials[t] for t in best]))
    clock = Clock(100.0)
    reserve = keras_tuner_runs.RefitReserve(clock, refit_epochs=3, scale=1.25)
    reserve.watch(tuner)
    assert copy.deepcopy([reserve])[0] is reserve  # keras-tuner copies each trial's callbacks
    for trial_id, pace, epochs in (("a", 2.0, 4), ("b", 5.0, 2)):
        tuner.on_trial_begin(trials[trial_id])
        for _ in range(epochs):
            now[0] += pace
            reserve.on_epoch_end(0)
        if trial_id == "a":
            assert clock.reserve == pytest.approx(2.0 * 3 * 1.25)  # no trial has ended: the running one's pace
        best[:] = ["a"]
        tuner.on_trial_end(trials[trial_id])
    assert clock.reserve == pytest.approx(2.0 * 3 * 1.25)  # a, the best trial, took 2 s an epoch; b 5 s
    now[0] = 92.4
    assert not clock.expired()
    now[0] = 92.6
    assert clock.expired()  # the search stops 7.5 s before the deadline, which the refit needs
