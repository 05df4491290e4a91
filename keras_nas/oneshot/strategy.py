"""One-shot search strategies: train a supernet once, derive one architecture from it.

`NASClassifier(strategy="darts")` and `NASRegressor` run a strategy in place
of the trial search. A strategy is configured for the data, searches, and
derives an `Architecture` that the estimator builds from plain Keras layers
and trains from scratch:

    strategy = get_strategy("darts", channels=8).configure(input_shape, head, epochs=10)
    architecture = strategy.search(x_train, y_train, x_val, y_val).derive()

A new strategy subclasses `OneShotStrategy` (implementing `search` and
`derive`, setting `history_`, and optionally `score_`) and registers itself
with one line, `register_strategy("enas", ENASStrategy)`.
"""

from __future__ import annotations

import abc
import contextlib
import math
from collections.abc import Sequence
from typing import Any, ClassVar

import keras
import numpy as np
import tensorflow as tf

from keras_nas.architecture import Architecture, Head
from keras_nas.architecture.cells.ops import COMPACT_PRIMITIVES
from keras_nas.oneshot.darts.bilevel import default_weight_optimizer
from keras_nas.oneshot.darts.gdas import GDASSearchModel
from keras_nas.oneshot.darts.network import DARTSSearchModel
from keras_nas.oneshot.darts.pcdarts import PCDARTSSearchModel
from keras_nas.oneshot.data import bilevel_dataset
from keras_nas.utils.budget import TimeBudget
from keras_nas.utils.registry import Registry


class OneShotStrategy(abc.ABC):
    """Base of one-shot strategies: `configure`, then `search`, then `derive`.

    The constructor takes the strategy's own settings (the supernet's size,
    its optimisation); `configure` the ones the estimator decides (input
    shape, head, epochs, batch size, seed, verbosity, time budget). After
    `search`, `history_` holds the search's per-epoch metrics (Keras `History`
    style: name → list) and `score_` the supernet's score on the validation
    data (the head's objective: accuracy or loss), or None.
    """

    name: ClassVar[str] = ""
    history_: dict[str, list[float]]  # set by `search`
    search_batch_size: int | None = None  # the search's batch size; None: `configure`'s batch_size
    train_batch_size: int | None = None  # the derived network's batch size; None: `configure`'s batch_size

    def configure(
        self,
        input_shape: Sequence[int],
        head: Head,
        *,
        epochs: int = 10,
        batch_size: int = 64,
        seed: int | None = None,
        verbose: int = 0,
        time_budget: float | None = None,
    ) -> OneShotStrategy:
        """Sets what the estimator decides; returns self."""
        self.input_shape = tuple(int(n) for n in input_shape)
        self.head = head
        self.epochs, self.batch_size = int(epochs), int(batch_size)
        self.seed, self.verbose, self.time_budget = seed, int(verbose), time_budget
        return self

    @abc.abstractmethod
    def search(self, x_train, y_train, x_val, y_val) -> OneShotStrategy:
        """Runs the search (weights on the training data, the architecture on the validation data); returns self."""

    @abc.abstractmethod
    def derive(self) -> Architecture:
        """The architecture found, to be built with `configure`'s head and trained from scratch."""

    @property
    def search_batch(self) -> int:
        """The batch size the search runs at: `search_batch_size`, else the estimator's `batch_size`."""
        return int(self.search_batch_size or self.batch_size)

    @property
    def train_batch(self) -> int:
        """The batch size the derived network is trained at: `train_batch_size`, else the estimator's `batch_size`."""
        return int(self.train_batch_size or self.batch_size)

    def describe(self) -> dict[str, Any]:
        """The strategy's settings and findings, JSON-safe (the estimator's leaderboard row shows them)."""
        return {"strategy": self.name}

    def optimizer(self, decay_steps: int) -> keras.optimizers.Optimizer:
        """The optimizer the derived network is trained from scratch with, for `decay_steps` steps.

        Default: DARTS's evaluation optimizer, SGD with momentum 0.9 and
        cosine decay 0.025 → 0.001, gradients clipped to global norm 5.
        """
        optimizer = default_weight_optimizer(decay_steps)
        optimizer.global_clipnorm = 5.0
        return optimizer


@contextlib.contextmanager
def graph_optimizer(enabled: bool):
    """Turns TensorFlow's graph optimiser (Grappler) on or off for the functions first run inside the block.

    A function is optimised when it first runs, so a `fit` inside the block
    keeps the setting for all its steps; the previous setting is put back
    on leaving.
    """
    previous = tf.config.optimizer.get_experimental_options().get("disable_meta_optimizer", False)
    tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": not enabled})
    try:
        yield
    finally:
        tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": previous})


class SupernetStrategy(OneShotStrategy):
    """A DARTS-family search: train a `model_class` supernet bi-level, derive its genotype.

    The defaults are sized for small data on a CPU: a supernet's first epoch
    traces its whole bi-level step (every op of every edge, forward and
    backward), so its cost grows with cells × edges × ops. Three cells of two
    nodes over five ops (`COMPACT_PRIMITIVES`: none, max pool, skip, separable
    and dilated convolution 3) trace and first run in about 5 s (DARTS) to
    9 s (GDAS, whose per-edge switch traces every branch and its gradient) on
    two cores, where DARTS's CIFAR-10 supernet (8 cells, 4 nodes, 8 ops)
    would take many minutes. As in DARTS,
    the derived network is then built wider than the supernet searched
    (`derive_channels`).

    Args:
        channels, num_cells, nodes, primitives: the supernet's size and
            candidate ops (see `DARTSSearchModel`); primitives default to
            `COMPACT_PRIMITIVES` for images and sequences and to the tabular
            ops for rows; pass `PRIMITIVES` for DARTS's eight.
        derive_channels: C of the derived network (None: the supernet's);
            it has the supernet's stem, cells and reductions.
        search_batch_size: batch size of the search's training and
            validation batches (None: the estimator's `batch_size`). The
            default 96 takes a third of the steps of a batch of 32, and a
            supernet step on small data costs about the same at either size.
        search_epochs: epochs of the supernet search (None: half the
            estimator's `epochs`, rounded up; the derived network always
            trains for all of them). DARTS too searched for fewer epochs (50)
            than it retrained (600): α settle long before the weights of a
            network trained from scratch do.
        train_batch_size: batch size the derived network is trained at
            (None: the estimator's `batch_size`); DARTS retrained at 96.
            These two defaults are what makes a one-shot search cheap on a
            CPU: on digits and mnist1d (DARTS, seed 0, `epochs=10`, one run
            each), `search_epochs=10, train_batch_size=None` (the estimator's
            10 and 32) took 36 s and 72 s where the defaults took 23 s and
            38 s, for test accuracy 0.989 and 0.985 against the defaults'
            0.981 and 0.977.
        graph_rewrites: whether TensorFlow's graph optimiser (Grappler)
            rewrites the supernet's train step. Off by default, for the
            search only: on a CPU it spends seconds on the default
            supernet's first step and saves less than that over a short
            search (DARTS, `epochs=10`, one run each: 26 s with it and 23 s
            without on digits, 43 s and 38 s on mnist1d). The setting is
            process-wide while the search runs and is put back afterwards.
        order: 1 or 2, the order of the α gradient (GDAS: 1 only).
        max_skip_connects: the collapse guard (`CollapseGuard`); None disables it.
        callbacks: Keras callbacks for the supernet's `fit`.
        **options: further arguments of the model class (`partial_channels`
            for PC-DARTS, `temperature_range` for GDAS).

    After `search`: `supernet_` (the trained search model), `history_`,
    `alpha_history_` (α after every epoch, see `plot_alphas`), `collapse_epoch_`
    and `score_`.
    """

    model_class: ClassVar[type[DARTSSearchModel]] = DARTSSearchModel

    def __init__(
        self,
        channels: int = 8,
        num_cells: int = 3,
        nodes: int = 2,
        primitives: Sequence[str] | None = None,
        derive_channels: int | None = 16,
        search_batch_size: int | None = 96,
        search_epochs: int | None = None,
        train_batch_size: int | None = 96,
        graph_rewrites: bool = False,
        order: int = 1,
        max_skip_connects: int | None = 2,
        callbacks: Sequence[keras.callbacks.Callback] = (),
        **options: Any,
    ):
        self.channels, self.num_cells, self.nodes = int(channels), int(num_cells), int(nodes)
        self.primitives = None if primitives is None else tuple(primitives)
        self.derive_channels = None if derive_channels is None else int(derive_channels)
        self.search_batch_size = None if search_batch_size is None else int(search_batch_size)
        self.search_epochs = None if search_epochs is None else int(search_epochs)
        self.train_batch_size = None if train_batch_size is None else int(train_batch_size)
        for name in ("search_batch_size", "search_epochs", "train_batch_size"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"`{name}` must be a positive integer or None; received {name}={getattr(self, name)}.")
        self.graph_rewrites = bool(graph_rewrites)
        self.order, self.max_skip_connects, self.options = int(order), max_skip_connects, dict(options)
        self.callbacks = list(callbacks)

    def build_supernet(self) -> DARTSSearchModel:
        """The supernet for the configured input shape and head, compiled for `epochs`."""
        model = self.model_class(
            self.input_shape,
            self.head.units,
            channels=self.channels,
            num_cells=self.num_cells,
            nodes=self.nodes,
            primitives=self.primitives or (COMPACT_PRIMITIVES if len(self.input_shape) > 1 else None),
            seed=self.seed,
            task=self.head.task,
            max_skip_connects=self.max_skip_connects,
            **self.options,
        )
        return model

    @property
    def searched_epochs(self) -> int:
        """The epochs the search runs for: `search_epochs`, else half the estimator's `epochs`, rounded up."""
        return int(self.search_epochs or math.ceil(self.epochs / 2))

    def search(self, x_train, y_train, x_val, y_val):
        if self.seed is not None:
            keras.utils.set_random_seed(int(self.seed))
        model = self.build_supernet()
        batch_size, epochs = self.search_batch, self.searched_epochs
        steps = math.ceil(len(x_train) / batch_size)
        model.compile(order=self.order, decay_steps=epochs * steps)
        dataset = bilevel_dataset((x_train, y_train), (x_val, y_val), batch_size, self.seed)
        callbacks = [*self.callbacks, TimeBudget(self.time_budget).callback()]
        with graph_optimizer(self.graph_rewrites):
            history = model.fit(dataset, epochs=epochs, callbacks=callbacks, verbose=1 if self.verbose >= 2 else 0)
        self.supernet_ = model
        self.history_ = {name: [float(v) for v in values] for name, values in history.history.items()}
        self.alpha_history_ = list(model.alpha_history)
        self.collapse_epoch_ = model.collapse_epoch
        self.score_ = self._score(model, x_val, y_val)
        return self

    def _score(self, model, x, y) -> float:
        # Eager batches: a compiled `evaluate` would trace the supernet once more for one number.
        predictions = np.concatenate([np.asarray(model(x[i : i + 256], training=False)) for i in range(0, len(x), 256)])
        if self.head.task == "classification":
            return float(np.mean(np.argmax(predictions, axis=-1) == np.asarray(y).reshape(-1)))
        return float(np.mean((predictions - np.asarray(y).reshape(predictions.shape)) ** 2))

    def derive(self) -> Architecture:
        return self.supernet_.derive(channels=self.derive_channels)

    def describe(self):
        description = {
            **super().describe(),
            "channels": self.channels,
            "num_cells": self.num_cells,
            "nodes": self.nodes,
            "derive_channels": self.derive_channels,
            "search_batch_size": self.search_batch_size,
            "search_epochs": self.search_epochs,
            "train_batch_size": self.train_batch_size,
            "graph_rewrites": self.graph_rewrites,
            "order": self.order,
            "max_skip_connects": self.max_skip_connects,
            **{k: list(v) if isinstance(v, tuple) else v for k, v in self.options.items()},
        }
        if hasattr(self, "supernet_"):
            description["primitives"] = list(self.supernet_.primitives)
            description["genotype"] = self.supernet_.genotype().to_dict()
            description["collapse_epoch"] = self.collapse_epoch_
        return description


class DARTSStrategy(SupernetStrategy):
    """DARTS (Liu et al., ICLR 2019): every edge a softmax-weighted sum of all ops (`DARTSSearchModel`)."""

    name = "darts"
    model_class = DARTSSearchModel


class PCDARTSStrategy(SupernetStrategy):
    """PC-DARTS (Xu et al., ICLR 2020): partial-channel edges and edge normalisation (`PCDARTSSearchModel`).

    `partial_channels` (K, default 4) must divide the supernet's channels.
    """

    name = "pc_darts"
    model_class = PCDARTSSearchModel


class GDASStrategy(SupernetStrategy):
    """GDAS (Dong & Yang, CVPR 2019): one Gumbel-sampled op per edge (`GDASSearchModel`), first order."""

    name = "gdas"
    model_class = GDASSearchModel


STRATEGIES: Registry[type[OneShotStrategy]] = Registry("one-shot strategy")


def register_strategy(name: str, strategy: type[OneShotStrategy]) -> type[OneShotStrategy]:
    """Makes `strategy` available as `get_strategy(name)` and `NASClassifier(strategy=name)`; returns it."""
    if not (isinstance(strategy, type) and issubclass(strategy, OneShotStrategy)):
        raise TypeError(f"A strategy must be a OneShotStrategy subclass; received {strategy!r}.")
    return STRATEGIES.register(name, strategy)


def get_strategy(name: str, **options: Any) -> OneShotStrategy:
    """A new, unconfigured strategy by name, with `options` passed to its constructor.

    Example:

    >>> get_strategy("pc_darts", channels=4, partial_channels=2).describe()["partial_channels"]
    2
    """
    return STRATEGIES.get(name)(**options)


for _strategy in (DARTSStrategy, PCDARTSStrategy, GDASStrategy):
    register_strategy(_strategy.name, _strategy)
