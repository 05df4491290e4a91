"""The benchmark harness's bookkeeping (the searches themselves run in `python -m benchmarks`)."""
import json

import pytest

pytest.importorskip("matplotlib")

from benchmarks import report, runner  # noqa: E402
from benchmarks.splits import load_split  # noqa: E402


def _result(contender, dataset, seed, test, wall, status="ok"):
    return {
        "contender": contender, "dataset": dataset, "seed": seed, "status": status, "error": None,
        "budget": {"max_trials": 15, "epochs": 10, "seconds": None, "patience": 3}, "metric": "accuracy",
        "test_score": test, "best_val_score": test + 0.01, "epochs_trained": 100, "trials_completed": 15,
        "oracle_seconds": 1.5, "anytime": [[10.0, 0.5], [20.0, test + 0.01]], "params": 1000,
        "architecture": "dense64", "wall_seconds": wall, "peak_rss_mib": 900.0,
        "environment": {"cpu": "cpu", "cores": 2, "python": "3.11", "packages": {"keras": "3"}},
    }


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
