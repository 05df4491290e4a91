"""`plot_alphas`: how the architecture weights moved during a search (needs matplotlib)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def plot_alphas(
    history: Sequence[Mapping[str, np.ndarray]], path: str | os.PathLike, primitives: Sequence[str] | None = None
) -> str:
    """Draws one panel per 2-D architecture variable: each op's softmax weight, averaged over edges, per epoch.

    `history` is a search model's `alpha_history` (or a strategy's
    `alpha_history_`): one `{variable name: value}` per epoch. 1-D variables
    (PC-DARTS's β) are left out. Writes an image to `path` (any format
    matplotlib knows) and returns the path. matplotlib is optional for
    keras_nas (the `bench` and `dev` extras install it).
    """
    try:
        # A bare Figure draws to files without pyplot, leaving the user's backend and figures alone.
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(
            "plot_alphas needs matplotlib, which keras_nas does not install by default: "
            "`pip install matplotlib` (or keras-nas[bench])."
        ) from None
    if not history:
        raise ValueError("The α history is empty: nothing was searched yet.")
    names = [name for name, value in history[0].items() if np.ndim(value) == 2]
    figure = Figure(figsize=(5 * max(len(names), 1), 3.5))
    axes = figure.subplots(1, max(len(names), 1), squeeze=False)
    epochs = np.arange(1, len(history) + 1)
    for axis, name in zip(axes[0], names, strict=False):  # one blank axis when there is nothing to plot
        weights = np.stack([_softmax(np.asarray(record[name], "float64")).mean(axis=0) for record in history])
        for column in range(weights.shape[1]):
            label = primitives[column] if primitives is not None else f"op {column}"
            axis.plot(epochs, weights[:, column], marker="o", label=label)
        axis.set(title=name, xlabel="epoch", ylabel="mean softmax(α) over edges")
    axes[0][0].legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path)
    return os.fspath(path)


def plot_rewards(history: Mapping[str, Sequence[float]], path: str | os.PathLike) -> str:
    """Draws the ENAS controller's mean reward per epoch (and its baseline) from a search's `history_`.

    `history` is `ENASStrategy.history_` (or `ENASSearch.history`); the
    shared weights' training reward is drawn too. Writes an image to `path`
    and returns the path (needs matplotlib, as `plot_alphas`).
    """
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(
            "plot_rewards needs matplotlib, which keras_nas does not install by default: "
            "`pip install matplotlib` (or keras-nas[bench])."
        ) from None
    if not history.get("controller_reward"):
        raise ValueError("The history has no controller rewards: pass an ENAS search's history_ after `search`.")
    figure = Figure(figsize=(5, 3.5))
    axis = figure.subplots()
    epochs = np.arange(1, len(history["controller_reward"]) + 1)
    labels = {
        "controller_reward": "controller reward (validation)",
        "baseline": "baseline",
        "train_reward": "sampled children (training)",
    }
    for name, label in labels.items():
        if history.get(name):
            axis.plot(epochs, history[name], marker="o", label=label)
    axis.set(xlabel="epoch", ylabel="mean reward", title="ENAS controller reward")
    axis.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path)
    return os.fspath(path)
