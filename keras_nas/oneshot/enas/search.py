"""ENAS (Pham et al., ICML 2018): shared weights and an LSTM controller, trained in alternation.

`ENASSearch` runs the search on arrays: every epoch is one pass of the shared
weights over the training data, a freshly sampled child at every step, then
`controller_steps` REINFORCE steps of the controller on validation batches.
`SharedWeightEvaluator` (in `evaluator`, importable from here too) scores
children with the shared weights (a cheap performance estimate, usable on its
own), and `ENASStrategy` is what `NASClassifier(strategy="enas")` runs.
TensorFlow backend (`tf.function`, `tf.GradientTape`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_nas.architecture import Architecture, Head
from keras_nas.oneshot.darts.bilevel import default_weight_optimizer
from keras_nas.oneshot.enas.child import child_model
from keras_nas.oneshot.enas.controller import ENASController
from keras_nas.oneshot.enas.evaluator import SharedWeightEvaluator, as_arrays, input_specs, objective
from keras_nas.oneshot.enas.spaces import MacroSpace, Space, make_space
from keras_nas.oneshot.strategy import OneShotStrategy, register_strategy
from keras_nas.utils.budget import TimeBudget

__all__ = ["ENASSearch", "ENASStrategy", "SharedWeightEvaluator"]


def _filled(grads, variables):
    # Ops a child did not use (an unread cell input, say) get zero gradients, not Keras's missing-gradient warning.
    return [ops.zeros_like(v) if g is None else g for g, v in zip(grads, variables, strict=True)]


class ENASSearch:
    """ENAS's alternating training of a space's shared weights and its controller.

    Every epoch of `fit`: (1) one pass of the shared weights over the
    training data, with a child sampled by the controller at every step
    (inside the compiled step, from the controller's `SeedGenerator`): SGD
    with momentum 0.9, cosine decay 0.05 → 5e-4 (ENAS's schedule, without
    restarts), gradients clipped to global norm 5, L2 `weight_decay`; (2)
    `controller_steps` REINFORCE steps, each on one sampled child and one
    validation batch: reward R = accuracy (regression: -MSE) with the shared
    weights (see `SharedWeightEvaluator`) + `entropy_weight`·entropy; baseline
    b ← b - (1 - `baseline_decay`)(b - R), starting at the first reward; loss
    -log π(arc)·(R - b) + `skip_weight`·KL(p_skip ‖ `skip_target`) (macro
    only); Adam.

    `history` holds per-epoch means: the shared weights' `loss` and
    `train_reward` (training accuracy or -MSE of the sampled children), and the controller's
    `controller_reward` (R without the entropy bonus), `baseline`, `entropy`
    and `skip_density`. `step_arcs` holds the arcs of the last epoch's weight
    steps. `best_arc(x, y, samples)` samples children and keeps the one the
    evaluator scores best.

    Args:
        space: a `MacroSpace` or `MicroSpace`.
        head: the task's head.
        seed: seeds the controller's weights and sampler.
        controller_units: the controller's LSTM units.
        controller_learning_rate: Adam's learning rate for the controller.
        entropy_weight, baseline_decay, skip_target, skip_weight: as above
            (ENAS: 1e-4, 0.99, 0.4, 0.8).
        weight_decay: L2 factor of the shared weights.
    """

    def __init__(
        self,
        space: Space,
        head: Head,
        seed: int | None = None,
        controller_units: int = 64,
        controller_learning_rate: float = 3.5e-3,
        entropy_weight: float = 1e-4,
        baseline_decay: float = 0.99,
        skip_target: float = 0.4,
        skip_weight: float = 0.8,
        weight_decay: float = 2.5e-4,
    ):
        if not 0.0 <= float(baseline_decay) < 1.0:
            raise ValueError(f"baseline_decay must be in [0, 1); received baseline_decay={baseline_decay}.")
        for name, value in (
            ("entropy_weight", entropy_weight),
            ("skip_weight", skip_weight),
            ("weight_decay", weight_decay),
            ("controller_learning_rate", controller_learning_rate),
        ):
            if not float(value) >= 0.0:
                raise ValueError(f"{name} must be >= 0; received {name}={value}.")
        self.space, self.head = space, head
        self.entropy_weight, self.baseline_decay = float(entropy_weight), float(baseline_decay)
        self.skip_weight = float(skip_weight) if isinstance(space, MacroSpace) else 0.0
        self.weight_decay = float(weight_decay)
        self.child = child_model(space, head)
        self.controller = ENASController(space, controller_units, skip_target=skip_target, seed=seed)
        self.controller_optimizer = keras.optimizers.Adam(controller_learning_rate)
        self.controller_optimizer.build(self.controller.trainable_variables)
        self.baseline = keras.Variable(0.0, dtype="float32", trainable=False, name="baseline")
        self.baseline_ready = keras.Variable(0.0, dtype="float32", trainable=False, name="baseline_ready")
        self.evaluator = SharedWeightEvaluator(self.child)
        self.optimizer: keras.optimizers.Optimizer | None = None
        self.history: dict[str, list[float]] = {}
        self.step_arcs: list[np.ndarray] = []
        self._steps: tuple | None = None

    # -- compiled steps --------------------------------------------------------
    def _weight_step(self, x, y):
        arc = self.controller.sample()["arc"]
        variables = self.child.trainable_variables
        with tf.GradientTape() as tape:
            y_pred = self.child(x, arc, training=True)
            loss, reward = objective(self.head, y, y_pred)
        grads = _filled(tape.gradient(loss, variables), variables)
        grads, _ = tf.clip_by_global_norm(grads, 5.0)
        # Coupled L2, as ENAS's l2_reg.
        grads = [g + self.weight_decay * v for g, v in zip(grads, variables, strict=True)]
        self.optimizer.apply(grads, variables)
        return loss, reward, arc

    def reinforce(self, reward_fn: Callable[[Any], Any]) -> tuple:
        """One REINFORCE update of the controller on a sampled arc; `reward_fn(arc)` gives its reward tensor.

        Returns the reward (without the entropy bonus), the updated baseline,
        the sample's entropy and skip density. Call it inside a `tf.function`
        for speed; the training loop passes the shared-weight accuracy.
        """
        variables = self.controller.trainable_variables
        with tf.GradientTape() as tape:
            sample = self.controller.sample()
            accuracy = ops.stop_gradient(ops.cast(reward_fn(sample["arc"]), "float32"))
            reward = accuracy + self.entropy_weight * ops.stop_gradient(sample["entropy"])
            baseline = ops.where(self.baseline_ready > 0.5, self.baseline, reward)
            baseline = baseline - (1.0 - self.baseline_decay) * (baseline - reward)
            advantage = ops.stop_gradient(reward - baseline)
            loss = -sample["log_prob"] * advantage + self.skip_weight * sample["skip_penalty"]
        self.baseline.assign(baseline)
        self.baseline_ready.assign(1.0)
        grads = _filled(tape.gradient(loss, variables), variables)
        self.controller_optimizer.apply(grads, variables)
        return accuracy, baseline, sample["entropy"], sample["skip_density"]

    def _controller_step(self, x, y):
        return self.reinforce(lambda arc: self.evaluator._batch_scores(x, y, arc)[1])

    def _compile(self, x_spec, y_spec, decay_steps: int) -> None:
        # Built before tracing: optimizers must not create variables inside a tf.function.
        if self.optimizer is None:
            self.optimizer = default_weight_optimizer(decay_steps, learning_rate=0.05, min_learning_rate=5e-4)
            self.optimizer.build(self.child.trainable_variables)
        if self._steps is None or self._steps[0] != (x_spec, y_spec):
            signature = [x_spec, y_spec]
            # No autograph: the steps hold no Python control flow on tensors (choices are
            # `ops.switch`es), and converting their source costs seconds per search.
            self._steps = (
                (x_spec, y_spec),
                tf.function(self._weight_step, input_signature=signature, autograph=False),
                tf.function(self._controller_step, input_signature=signature, autograph=False),
            )

    # -- the loop ----------------------------------------------------------
    def fit(
        self,
        x_train,
        y_train,
        x_val,
        y_val,
        epochs: int = 1,
        batch_size: int = 64,
        controller_steps: int = 30,
        time_budget: float | None = None,
        verbose: int = 0,
        seed: int | None = None,
    ) -> ENASSearch:
        """Alternates weight passes and controller steps for `epochs` epochs (or until `time_budget` seconds)."""
        x_train, y_train = as_arrays(x_train, y_train, self.head)
        x_val, y_val = as_arrays(x_val, y_val, self.head)
        if not len(x_train) or not len(x_val):
            raise ValueError("ENAS needs training and validation examples; received an empty split.")
        if int(controller_steps) < 0 or int(epochs) < 1 or int(batch_size) < 1:
            raise ValueError(
                f"Need epochs >= 1, batch_size >= 1 and controller_steps >= 0; received epochs={epochs}, "
                f"batch_size={batch_size}, controller_steps={controller_steps}."
            )
        steps_per_epoch = math.ceil(len(x_train) / batch_size)
        self._compile(*input_specs(x_train, y_train), decay_steps=int(epochs) * steps_per_epoch)
        assert self._steps is not None  # set by _compile
        _, weight_step, controller_step = self._steps
        train = tf.data.Dataset.from_tensor_slices((x_train, y_train))
        train = train.shuffle(len(x_train), seed=seed, reshuffle_each_iteration=True).batch(batch_size)
        val = tf.data.Dataset.from_tensor_slices((x_val, y_val)).shuffle(len(x_val), seed=seed).repeat()
        val_batches = iter(val.batch(batch_size, drop_remainder=len(x_val) >= batch_size))
        budget = TimeBudget(time_budget)
        for epoch in range(int(epochs)):
            weights, self.step_arcs = [], []
            for x, y in train:
                loss, reward, arc = weight_step(x, y)
                weights.append((float(loss), float(reward)))
                self.step_arcs.append(np.asarray(arc))
            rewards = [[float(t) for t in controller_step(*next(val_batches))] for _ in range(int(controller_steps))]
            record: dict[str, float | np.floating] = {
                "loss": np.mean([w[0] for w in weights]),
                "train_reward": np.mean([w[1] for w in weights]),
            }
            names = ("controller_reward", "baseline", "entropy", "skip_density")
            record.update(
                {name: np.mean([r[k] for r in rewards]) if rewards else float("nan") for k, name in enumerate(names)}
            )
            for name, value in record.items():
                self.history.setdefault(name, []).append(float(value))
            if verbose:
                print(f"ENAS epoch {epoch + 1}/{epochs}: " + ", ".join(f"{k} {v:.4f}" for k, v in record.items()))
            if budget.spent():
                break
        return self

    def best_arc(self, x, y, samples: int = 20) -> tuple[np.ndarray, float, list[tuple[np.ndarray, float]]]:
        """Samples `samples` children and scores each with the shared weights on `(x, y)`.

        Returns the best arc, its score and every `(arc, score)`; duplicates are scored once.
        """
        if int(samples) < 1:
            raise ValueError(f"Deriving needs samples >= 1; received samples={samples}.")
        sample = tf.function(lambda: self.controller.sample()["arc"], autograph=False)
        scored: dict[tuple[int, ...], float] = {}
        for _ in range(int(samples)):
            arc = tuple(int(v) for v in np.asarray(sample()))
            if arc not in scored:
                scored[arc] = self.evaluator.score(arc, x, y)
        results = [(np.asarray(arc, "int64"), score) for arc, score in scored.items()]
        best = max(results, key=lambda item: item[1])
        return best[0], best[1], results


class ENASStrategy(OneShotStrategy):
    """ENAS (Pham et al., ICML 2018) as a one-shot strategy: `NASClassifier(strategy="enas")`.

    Searches with `ENASSearch` for the estimator's `epochs`, then samples
    `derive_samples` children, scores each with the shared weights on the
    validation data, and derives the best as an `Architecture` of plain Keras
    layers (trained from scratch by the estimator).

    Args:
        space: `"macro"` (default: each layer picks an op and skips from
            earlier layers) or `"micro"` (cells whose nodes each pick two
            inputs and two ops); see `enas_spaces`.
        num_layers: layers (macro, default 6) or cells (micro, default 3).
        channels: channels of the layers (macro, default 16) or of the first
            cells (micro, default 8).
        nodes: intermediate nodes per cell (micro only, default 3).
        ops: candidate ops (default: ENAS's, from `keras_nas.architecture.cells.ops`).
        controller_steps: REINFORCE steps per epoch.
        derive_samples: children sampled and scored to derive the result.
        search_batch_size: batch size of the shared-weight and controller
            steps (None: the estimator's `batch_size`). Larger batches search
            faster, since on small data a step costs about the same at 32 as
            at 96, but give the shared weights fewer updates: on digits
            (seeds 0-2, 10 epochs), 96 took 24 s instead of 47 s and its
            derived networks tested at 0.9833 instead of 0.9944 (median).
        **options: `ENASSearch` settings (`controller_units`,
            `controller_learning_rate`, `entropy_weight`, `baseline_decay`,
            `skip_target`, `skip_weight`, `weight_decay`).

    After `search`: `search_` (the `ENASSearch`: `child`, `controller`,
    `evaluator`), `history_` (per-epoch means, `controller_reward` among
    them; see `plot_rewards`), `arc_`, `score_` (the derived child's
    shared-weight accuracy, or mean squared error for regression) and
    `samples_` (every scored `(arc, score)`).
    """

    name = "enas"

    def __init__(
        self,
        space: str = "macro",
        num_layers: int | None = None,
        channels: int | None = None,
        nodes: int | None = None,
        ops: Sequence[str] | None = None,
        controller_steps: int = 30,
        derive_samples: int = 20,
        search_batch_size: int | None = None,
        **options: Any,
    ):
        self.space, self.num_layers, self.channels, self.nodes = space, num_layers, channels, nodes
        self.ops = None if ops is None else tuple(ops)
        self.controller_steps, self.derive_samples, self.options = controller_steps, derive_samples, dict(options)
        self.search_batch_size = None if search_batch_size is None else int(search_batch_size)

    def make_space(self) -> Space:
        """The configured space for the configured input shape."""
        return make_space(
            self.space,
            self.input_shape,
            num_layers=self.num_layers,
            channels=self.channels,
            nodes=self.nodes,
            ops=self.ops,
        )

    def search(self, x_train, y_train, x_val, y_val):
        if int(self.derive_samples) < 1:
            raise ValueError(f"derive_samples must be >= 1; received derive_samples={self.derive_samples}.")
        if self.seed is not None:
            keras.utils.set_random_seed(int(self.seed))
        try:
            search = ENASSearch(self.make_space(), self.head, seed=self.seed, **self.options)
        except TypeError as error:
            raise TypeError(f"Unknown ENASStrategy option among {sorted(self.options)}: {error}") from None
        search.fit(
            x_train,
            y_train,
            x_val,
            y_val,
            epochs=self.epochs,
            batch_size=self.search_batch,
            controller_steps=self.controller_steps,
            time_budget=self.time_budget,
            verbose=int(self.verbose >= 2),
            seed=self.seed,
        )
        self.search_, self.history_ = search, dict(search.history)
        self.arc_, score, self.samples_ = search.best_arc(x_val, y_val, self.derive_samples)
        self.score_ = score if self.head.task == "classification" else -score
        return self

    def derive(self) -> Architecture:
        if not hasattr(self, "arc_"):
            raise ValueError("ENASStrategy.derive needs a search first: call `search`.")
        return self.search_.space.to_architecture(self.arc_)

    def describe(self) -> dict[str, Any]:
        description = {
            **super().describe(),
            "space": self.space,
            "controller_steps": self.controller_steps,
            "derive_samples": self.derive_samples,
            "search_batch_size": self.search_batch_size,
            **self.options,
        }
        if hasattr(self, "arc_"):
            description.update(self.search_.space.describe())
            description["arc"] = [int(v) for v in self.arc_]
        return description


register_strategy(ENASStrategy.name, ENASStrategy)
