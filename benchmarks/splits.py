"""Datasets and their fixed train / validation / test splits, one per seed.

The test split is never shown to a search: contenders get `x_train`/`y_train`
to train on and `x_val`/`y_val` to choose with, and are scored once on the test
split. digits, mnist5k and breast_cancer hold out a stratified 20 % test split, then 20 %
of the rest for validation; mnist1d keeps its generator's own test split and
holds out 20 % of its training set for validation.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from sklearn.model_selection import train_test_split

from keras_nas import datasets

DATASETS = ("digits", "mnist1d", "mnist5k", "breast_cancer")


@dataclasses.dataclass(frozen=True)
class Split:
    dataset: str
    seed: int
    task: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def kind(self) -> str:
        """"image", "sequence" or "tabular", from the rank of one example."""
        return {3: "image", 2: "sequence", 1: "tabular"}[self.x_train.ndim - 1]

    @property
    def num_classes(self) -> int:
        return int(len(np.unique(self.y_train)))


def _shrink(x, y, size, seed):
    if size is None or len(x) <= size:
        return x, y
    x, _, y, _ = train_test_split(x, y, train_size=size, random_state=seed, stratify=y)
    return x, y


def load_split(dataset: str, seed: int, max_train: int | None = None, max_test: int | None = None) -> Split:
    """The split of `dataset` for `seed`; `max_train`/`max_test` shrink it (stratified) for smoke runs."""
    data = datasets.load(dataset)
    if data.x_test is not None:
        x_rest, y_rest, x_test, y_test = data.x, data.y, data.x_test, data.y_test
    else:
        x_rest, x_test, y_rest, y_test = train_test_split(
            data.x, data.y, test_size=0.2, random_state=seed, stratify=data.y
        )
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=0.2, random_state=seed, stratify=y_rest
    )
    x_train, y_train = _shrink(x_train, y_train, max_train, seed)
    x_val, y_val = _shrink(x_val, y_val, None if max_train is None else max(max_train // 4, 40), seed)
    x_test, y_test = _shrink(x_test, y_test, max_test, seed)
    return Split(dataset, seed, data.task, x_train, y_train, x_val, y_val, x_test, y_test)
