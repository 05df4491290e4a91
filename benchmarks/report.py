"""Turning run results into a Markdown table and PNG plots."""

from __future__ import annotations

import glob
import json
import math
import os
import statistics

from benchmarks.contenders import registry
from benchmarks.environment import describe


def load_results(out: str) -> list[dict]:
    results = []
    for path in sorted(glob.glob(os.path.join(out, "*_seed*_*.json"))):
        with open(path) as handle:
            results.append(json.load(handle))
    return results


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _fmt(value, digits=4):
    if value is None:
        return "–"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def summarise(results: list[dict]) -> dict[str, dict[str, dict]]:
    """Per dataset, per contender: medians and spreads over seeds of every measured field."""
    summary: dict[str, dict[str, dict]] = {}
    for result in results:
        summary.setdefault(result["dataset"], {}).setdefault(result["contender"], {"runs": []})["runs"].append(result)
    for by_contender in summary.values():
        for row in by_contender.values():
            ok = [r for r in row["runs"] if r.get("status") == "ok"]
            row["ok"], row["total"] = len(ok), len(row["runs"])
            scores = [r["test_score"] for r in ok]
            row["test"] = _median(scores)
            row["test_min"] = min(scores) if scores else None
            row["test_max"] = max(scores) if scores else None
            for field in ("best_val_score", "wall_seconds", "epochs_trained", "trials_completed", "peak_rss_mib",
                          "oracle_seconds", "params"):
                row[field] = _median([r.get(field) for r in ok])
            row["statuses"] = sorted({r.get("status") for r in row["runs"]} - {"ok"})
    return summary


TARGET = "keras_tuner:bayesian"


def time_to_target(results: list[dict], target: str = TARGET) -> dict[str, dict[str, list]]:
    """Per dataset and keras_nas contender: for each seed, the seconds its anytime curve took to reach
    `target`'s final best validation score on the same split, divided by `target`'s wall seconds
    (None where it never got there)."""
    ok = [r for r in results if r.get("status") == "ok"]
    references = {(r["dataset"], r["seed"]): r for r in ok if r["contender"] == target}
    found: dict[str, dict[str, list]] = {}
    for run in ok:
        reference = references.get((run["dataset"], run["seed"]))
        if run["contender"] == target or not run["contender"].startswith("keras_nas") or reference is None:
            continue
        reached = next((t for t, value in run.get("anytime") or [] if value >= reference["best_val_score"]), None)
        ratio = None if reached is None else reached / reference["wall_seconds"]
        found.setdefault(run["dataset"], {}).setdefault(run["contender"], []).append((run["seed"], reached, ratio))
    return found


def _time_to_target_lines(results: list[dict]) -> list[str]:
    found = time_to_target(results)
    if not found:
        return []
    lines = [f"## Time to reach `{TARGET}`'s best validation score", "",
             f"Seconds until a keras_nas run's best validation accuracy first reached the final best validation "
             f"accuracy of `{TARGET}` on the same split and seed, as a fraction of `{TARGET}`'s wall time "
             "(– : never reached).", "",
             "| dataset | contender | per seed (seed: s, fraction) | median fraction |", "|---|---|---|---|"]
    for dataset, rows in found.items():
        for name, runs in sorted(rows.items()):
            cells = ", ".join(f"{seed}: {_fmt(reached, 0)} s, {_fmt(ratio, 2)}" for seed, reached, ratio in sorted(runs))
            ratios = [ratio if ratio is not None else float("inf") for _, _, ratio in runs]
            median = statistics.median(ratios)
            lines.append(f"| {dataset} | {name} | {cells} | {_fmt(median, 2) if median != float('inf') else '–'} |")
    return lines + [""]


def _search_curve_lines(results: list[dict], key: str = "controller_reward") -> list[str]:
    """Per one-shot run that logged `key` per search epoch (ENAS's mean controller reward): first, last, best."""
    runs = [r for r in results if r.get("status") == "ok" and (r.get("search_history") or {}).get(key)]
    if not runs:
        return []
    lines = [f"## Search curves: `{key}` per search epoch", "",
             "| dataset | contender | seed | epochs | first | last | max | last − first |", "|---|---|---|---|---|---|---|---|"]
    for run in sorted(runs, key=lambda r: (r["dataset"], r["contender"], r["seed"])):
        values = run["search_history"][key]
        lines.append(f"| {run['dataset']} | {run['contender']} | {run['seed']} | {len(values)} | {_fmt(values[0])} | "
                     f"{_fmt(values[-1])} | {_fmt(max(values))} | {_fmt(values[-1] - values[0])} |")
    return lines + [""]


def anytime_auc(accuracy_at: dict[float, float | None]) -> float | None:
    """Area under the anytime curve: the trapezoidal area under accuracy against log(budget seconds), divided by
    log(largest budget / smallest), so that it lies in [0, 1] (the accuracy itself for one budget); None where
    an accuracy is missing."""
    budgets = sorted(accuracy_at)
    values = [accuracy_at[b] for b in budgets]
    if not budgets or any(v is None for v in values):
        return None
    if len(budgets) == 1:
        return values[0]
    logs = [math.log(b) for b in budgets]
    area = sum((logs[i + 1] - logs[i]) * (values[i] + values[i + 1]) / 2 for i in range(len(budgets) - 1))
    return area / (logs[-1] - logs[0])


def anytime_summary(results: list[dict]) -> dict[str, dict[str, dict]]:
    """Per dataset and contender: per budget (seconds), medians over the seeds' complete runs of test accuracy
    (`test`), test accuracy without refit (`search`), best validation accuracy and wall seconds, and runs
    complete / all; then the areas under the anytime curves of `test` and `search` (`auc`, `auc_search`)."""
    summary: dict[str, dict[str, dict]] = {}
    budgets: dict[str, set[float]] = {}
    for result in results:
        seconds = (result.get("budget") or {}).get("seconds")
        if seconds is None:
            continue
        budgets.setdefault(result["dataset"], set()).add(float(seconds))
        row = summary.setdefault(result["dataset"], {}).setdefault(result["contender"], {"runs": {}})
        row["runs"].setdefault(float(seconds), []).append(result)
    for dataset, rows in summary.items():
        for row in rows.values():
            row["budgets"] = {}
            for seconds in sorted(budgets[dataset]):
                runs = row["runs"].get(seconds, [])
                ok = [r for r in runs if r.get("status") == "ok"]
                row["budgets"][seconds] = {
                    "test": _median([r.get("test_score") for r in ok]),
                    "search": _median([r.get("test_score_search") for r in ok]),
                    "val": _median([r.get("best_val_score") for r in ok]),
                    "wall": _median([r.get("wall_seconds") for r in ok]),
                    "ok": len(ok), "total": len(runs), "statuses": sorted({r.get("status") for r in runs} - {"ok"}),
                }
            row["auc"] = anytime_auc({b: cell["test"] for b, cell in row["budgets"].items()})
            row["auc_search"] = anytime_auc({b: cell["search"] for b, cell in row["budgets"].items()})
    return summary


def anytime_markdown(results: list[dict], command: str) -> str:
    """The anytime suite's report: per dataset, test accuracy (with and without refit), validation accuracy and
    wall seconds at each budget, and the area under the anytime curve."""
    contenders = registry()
    summary = anytime_summary(results)
    lines = ["# keras_nas anytime benchmark", "", f"Command: `{command}`", ""]
    if results:
        budget = next((r["budget"] for r in results if r.get("budget")), {})
        seconds = sorted({b for rows in summary.values() for row in rows.values() for b in row["budgets"]})
        lines += [f"Environment: {describe(results[0]['environment'])}.", "",
                  f"Budgets: {', '.join(f'{b:g}' for b in seconds)} s of wall clock per run, everything the "
                  "contender does inside (its refit too); trials unbounded, "
                  f"≤ {budget.get('epochs')} epochs each (early stopping, patience {budget.get('patience')}); "
                  f"seeds {sorted({r['seed'] for r in results})}; test splits never seen by any search; "
                  "each run killed after 1.5 × budget + 180 s (by default).", "",
                  "Per budget: **test** the median over seeds of the test accuracy the user gets (after the refit "
                  "where there is one); **no refit** that of the best trial's search checkpoint, for the contenders "
                  "that refit one (keras_nas's trial searches, `keras_tuner:random+refit`; the other keras-tuner "
                  "rows, AutoKeras and fixed_keras are scored on their search checkpoint, so their **test** is "
                  "already that); **val** the median best validation accuracy; **wall** the median wall seconds of "
                  "the whole run (above the budget: overshoot). **AUC**: the trapezoidal area under median test "
                  "accuracy against log(budget seconds), divided by the log-range of the budgets (in [0, 1]); "
                  "**AUC no refit** the same of **no refit**; **AUC ratio to best anchor** AUC / that of the "
                  "anchor with the highest AUC. Medians over the runs that completed (**runs ok**, all budgets).",
                  ""]
    for dataset, rows in summary.items():
        budgets = sorted(next(iter(rows.values()))["budgets"])
        examples = _median([r.get("test_examples") for r in results if r["dataset"] == dataset])
        anchors = {name: row for name, row in rows.items()
                   if name in contenders and contenders[name].anchor and row["auc"] is not None}
        best_anchor = max(anchors, key=lambda name: anchors[name]["auc"]) if anchors else None
        reference = rows[best_anchor]["auc"] if best_anchor else None
        header = [f"{label} {b:g} s" for b in budgets for label in ("test", "no refit", "val", "wall")]
        header += ["AUC", "AUC no refit", "AUC ratio to best anchor", "runs ok"]
        lines += [f"## {dataset}", "",
                  (f"One point of accuracy is {examples / 100:g} test examples ({examples:g} in the test split). "
                   if examples else "")
                  + f"Best anchor (highest AUC among non-keras_nas contenders): `{best_anchor}`.", "",
                  "| contender | " + " | ".join(header) + " |", "|---" * (len(header) + 1) + "|"]
        for name, row in sorted(rows.items(), key=lambda item: (1 if item[1]["auc"] is None else -item[1]["auc"],
                                                                item[0])):
            cells = []
            for b in budgets:
                cell = row["budgets"][b]
                cells += [_fmt(cell["test"]), _fmt(cell["search"]), _fmt(cell["val"]), _fmt(cell["wall"], 0)]
            ratio = row["auc"] / reference if reference and row["auc"] is not None else None
            done = list(row["budgets"].values())
            statuses = sorted({s for cell in done for s in cell["statuses"]})
            status = (f"{sum(c['ok'] for c in done)}/{sum(c['total'] for c in done)}"
                      + (f" ({', '.join(statuses)})" if statuses else ""))
            lines.append(f"| {name} | " + " | ".join(cells) + f" | {_fmt(row['auc'])} | {_fmt(row['auc_search'])} | "
                         f"{_fmt(ratio, 3)} | {status} |")
        lines.append("")
    lines += _search_curve_lines(results)
    lines += ["## Contenders", ""] + [f"- `{c.name}`: {c.description}" for c in contenders.values()]
    return "\n".join(lines) + "\n"


def _anytime_suite(results: list[dict]) -> bool:
    return any(r.get("suite") == "anytime" for r in results)


def markdown(results: list[dict], command: str) -> str:
    if _anytime_suite(results):
        return anytime_markdown(results, command)
    contenders = registry()
    summary = summarise(results)
    lines = ["# keras_nas benchmark", "", f"Command: `{command}`", ""]
    if results:
        env = results[0]["environment"]
        budget = results[0].get("budget", {})
        lines += [f"Environment: {describe(env)}.", "",
                  f"Budget: {budget.get('max_trials')} trials × ≤ {budget.get('epochs')} epochs "
                  f"(early stopping, patience {budget.get('patience')})"
                  + (f", {budget['seconds']:.0f} s wall clock" if budget.get("seconds") else "")
                  + f"; seeds {sorted({r['seed'] for r in results})}; test splits never seen by any search.", ""]
    for dataset, rows in summary.items():
        anchors = {name: row for name, row in rows.items()
                   if name in contenders and contenders[name].anchor and row["test"] is not None}
        best_anchor = max(anchors, key=lambda name: anchors[name]["test"]) if anchors else None
        lines += [f"## {dataset}", "",
                  f"Best anchor (highest median test accuracy among non-keras_nas contenders): `{best_anchor}`.", "",
                  "| contender | test acc. median | min–max | ratio to best anchor | val acc. | wall s | wall ratio | "
                  "epochs | trials | peak RSS MiB | oracle s | runs ok |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        reference = rows[best_anchor] if best_anchor else None
        for name, row in sorted(rows.items(), key=lambda item: -(item[1]["test"] or -1)):
            ratio = row["test"] / reference["test"] if reference and row["test"] else None
            wall_ratio = (row["wall_seconds"] / reference["wall_seconds"]
                          if reference and row["wall_seconds"] and reference["wall_seconds"] else None)
            spread = f"{_fmt(row['test_min'])}–{_fmt(row['test_max'])}" if row["test"] is not None else "–"
            status = f"{row['ok']}/{row['total']}" + (f" ({', '.join(row['statuses'])})" if row["statuses"] else "")
            lines.append(
                f"| {name} | {_fmt(row['test'])} | {spread} | {_fmt(ratio, 3)} | {_fmt(row['best_val_score'])} | "
                f"{_fmt(row['wall_seconds'], 0)} | {_fmt(wall_ratio, 2)} | {_fmt(row['epochs_trained'], 0)} | "
                f"{_fmt(row['trials_completed'], 0)} | {_fmt(row['peak_rss_mib'], 0)} | "
                f"{_fmt(row['oracle_seconds'], 1)} | {status} |"
            )
        lines.append("")
    lines += _time_to_target_lines(results)
    lines += _search_curve_lines(results)
    lines += ["## Contenders", ""] + [f"- `{c.name}`: {c.description}" for c in contenders.values()]
    return "\n".join(lines) + "\n"


def _save(figure, axis, path: str) -> str:
    """Legend, grid, PNG at `path`; closes the figure and returns the path."""
    import matplotlib.pyplot as plt

    axis.legend(fontsize=8)
    axis.grid(alpha=0.3)
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)
    return path


def _budget_plots(results: list[dict], out: str, colors: dict) -> list[str]:
    """The anytime suite: median test accuracy against the budget per contender (dashed: without refit)."""
    import matplotlib.pyplot as plt

    written = []
    for dataset, rows in anytime_summary(results).items():
        figure, axis = plt.subplots(figsize=(8, 5))
        for name, row in sorted(rows.items()):
            for key, style in (("test", "-"), ("search", "--")):
                points = [(b, cell[key]) for b, cell in row["budgets"].items() if cell[key] is not None]
                if points:
                    axis.plot(*zip(*points, strict=True), style, marker="o", color=colors.get(name),
                              label=name if key == "test" else f"{name}, no refit")
        axis.set(xscale="log", xlabel="wall-clock budget, seconds (refit included)",
                 ylabel="median test accuracy over seeds", title=f"Accuracy per budget on {dataset}")
        written.append(_save(figure, axis, os.path.join(out, f"anytime_budgets_{dataset}.png")))
    return written


def plots(results: list[dict], out: str) -> list[str]:
    """Anytime curves per dataset and test accuracy against parameter count (of the anytime suite: its
    largest budget's runs, then accuracy against the budget); returns the PNG paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in results if r.get("status") == "ok"]
    names = sorted({r["contender"] for r in ok})
    palette = plt.cm.tab10 if len(names) <= 10 else plt.cm.tab20  # the anytime suite has more than 10 contenders
    colors = {name: palette(i % palette.N) for i, name in enumerate(names)}
    written = []
    if _anytime_suite(results):
        written += _budget_plots(results, out, colors)
        largest = max([r["budget"]["seconds"] for r in ok if r.get("budget")], default=None)
        ok = [r for r in ok if r.get("budget") and r["budget"]["seconds"] == largest]
    for dataset in sorted({r["dataset"] for r in ok}):
        figure, axis = plt.subplots(figsize=(8, 5))
        for name in names:
            for index, run in enumerate(r for r in ok if r["dataset"] == dataset and r["contender"] == name):
                if run.get("anytime"):
                    xs, ys = zip(*run["anytime"])
                    axis.step(xs, ys, where="post", color=colors[name], alpha=0.8,
                              label=name if index == 0 else None)
        axis.set(xlabel="seconds since the run started", ylabel="best validation accuracy so far",
                 title=f"Anytime performance on {dataset}")
        written.append(_save(figure, axis, os.path.join(out, f"anytime_{dataset}.png")))
    datasets = sorted({r["dataset"] for r in ok})
    if datasets:
        figure, axes = plt.subplots(1, len(datasets), figsize=(5 * len(datasets), 4.5), squeeze=False)
        for axis, dataset in zip(axes[0], datasets):
            for name in names:
                runs = [r for r in ok if r["dataset"] == dataset and r["contender"] == name and r.get("params")]
                axis.scatter([r["params"] for r in runs], [r["test_score"] for r in runs], color=colors[name],
                             label=name, s=25)
            axis.set(xscale="log", xlabel="parameters of the final model", ylabel="test accuracy", title=dataset)
            axis.grid(alpha=0.3)
        axes[0][0].legend(fontsize=7)
        path = os.path.join(out, "accuracy_vs_params.png")
        figure.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(figure)
        written.append(path)
    for dataset in datasets:  # one-shot search curves (ENAS's mean controller reward per epoch)
        curves = [r for r in ok if r["dataset"] == dataset and (r.get("search_history") or {}).get("controller_reward")]
        if not curves:
            continue
        figure, axis = plt.subplots(figsize=(7, 4.5))
        for run in sorted(curves, key=lambda r: (r["contender"], r["seed"])):
            values = run["search_history"]["controller_reward"]
            axis.plot(range(1, len(values) + 1), values, marker="o", color=colors[run["contender"]],
                      alpha=0.5 + 0.15 * (run["seed"] % 3), label=f"{run['contender']} seed {run['seed']}")
        axis.set(xlabel="search epoch", ylabel="mean controller reward (validation accuracy of sampled children)",
                 title=f"ENAS controller reward on {dataset}")
        written.append(_save(figure, axis, os.path.join(out, f"controller_reward_{dataset}.png")))
    return written
