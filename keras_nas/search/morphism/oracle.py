"""`MorphismOracle`: Bayesian optimisation over architectures with network-morphism proposals.

The search of the original Auto-Keras (KDD 2019), rebuilt on keras-tuner:

1. A small random initial design (seed architecture plus random morphisms, or
   keras-tuner's random values for spaces that cannot be grown).
2. A Gaussian process over architectures (`keras_nas.search.morphism.gp`, edit-distance
   kernel) fitted on the completed trials.
3. Tree-structured acquisition optimisation: completed trials (best first) are
   expanded by morphism moves; simulated annealing (T from 1 down to 1e-4,
   x 0.9 per pop) decides whether a popped node is expanded (the code's rule,
   not the paper's); each expansion draws `children` valid moves under the
   space's bounds and `max_params`; architectures met before are skipped;
   the child with the best UCB (beta = 2.5) wins; with `acquisition="ei_per_second"`
   the tree is explored the same way but the winner, among every child scored, is the
   one with the largest expected improvement per predicted second of training
   (Snoek et al., 2012; `keras_nas.search.morphism.cost` predicts the seconds from
   its multiply-adds and its parent's measured seconds). A proposal stops after
   `proposal_seconds`, by default 1 % of the median trial's duration (between
   0.05 and 1 s), so that choosing costs little next to training.
4. The winner's values carry its parent trial and the moves that lead to it
   (`nas/parent_trial_id`, `nas/moves`), so a `MorphismTuner` can start it
   from the parent's trained weights.

With a space that cannot describe its architectures (a plain build function)
the oracle fits the same GP (`DistanceGP`) under a distance over the active
hyperparameters (`HyperparameterDistance`: values present in one set and not
the other cost 1, others their normalised difference) and proposes
one-hyperparameter mutations. It never raises inside keras-tuner's
locked methods: any failure falls back to random values.
"""

from __future__ import annotations

import heapq
import json
import math
import time
from typing import Any

import keras_tuner
import numpy as np

from keras_nas.architecture import Architecture
from keras_nas.search.morphism import moves
from keras_nas.search.morphism.cost import TrainingCost
from keras_nas.search.morphism.distance import ArchitectureDistance, HyperparameterDistance
from keras_nas.search.morphism.gp import ArchitectureGP, DistanceGP, expected_improvement, upper_confidence_bound

PARENT = "nas/parent_trial_id"
MOVES = "nas/moves"
_LINEAGE = (PARENT, MOVES)
ACQUISITIONS = ("ucb", "ei_per_second")


class MorphismOracle(keras_tuner.Oracle):
    """A keras-tuner Oracle that proposes architectures by GP-guided network morphism.

    Args:
        objective: As for any keras-tuner Oracle.
        max_trials: Number of trials.
        hypermodel: The space; a `SearchSpace` with `values_for` (such as
            `MorphismSpace`) is grown by morphisms; one with only
            `architecture(hp)` is searched by mutation with the edit-distance
            kernel; anything else with the hyperparameter distance.
            `MorphismTuner` sets it for you.
        num_initial_points: Random trials before the GP is used (default max(3, max_trials // 5)).
        beta: UCB exploration weight.
        acquisition: `"ucb"` (Auto-Keras's: the child with the best upper confidence
            bound) or `"ei_per_second"` (cost-aware: the child with the largest expected
            improvement over the best score per predicted training second).
        skip_weight: λ of the edit distance.
        max_params: Largest parameter count a proposal may have.
        children: Children drawn per expansion.
        proposal_seconds: Time bound of one proposal; None (default) adapts it
            to 1 % of the median duration of the trials so far, within [0.05, 0.8] s
            (GP fit included, so that a proposal stays under a second).
            The first `min_expansions` expansions always run.
        min_expansions: Expansions made even past the time bound.
        seed: Seed of every random choice.
        **kwargs: Passed to `keras_tuner.Oracle`.
    """

    def __init__(
        self,
        objective=None,
        max_trials=10,
        hypermodel=None,
        num_initial_points=None,
        beta=2.5,
        acquisition="ucb",
        skip_weight=1.0,
        max_params=None,
        children=8,
        proposal_seconds=None,
        min_expansions=2,
        seed=None,
        **kwargs,
    ) -> None:
        super().__init__(objective=objective, max_trials=max_trials, seed=seed, **kwargs)
        self.hypermodel = hypermodel
        self.num_initial_points = num_initial_points
        self.beta = float(beta)
        if acquisition not in ACQUISITIONS:
            raise ValueError(f"acquisition must be one of {list(ACQUISITIONS)}; received {acquisition!r}.")
        self.acquisition = acquisition
        self.skip_weight = float(skip_weight)
        self.max_params = max_params
        self.children = int(children)
        self.proposal_seconds = None if proposal_seconds is None else float(proposal_seconds)
        self.min_expansions = int(min_expansions)
        self.trial_seconds: dict[str, float] = {}  # measured from proposal to end, for the adaptive bound
        self._proposed_at: dict[str, float] = {}
        self._described: dict[str, Architecture] = {}
        self.distance = ArchitectureDistance(skip_weight)
        self.proposal_log: list[dict[str, Any]] = []

    # -- what the space offers ---------------------------------------------
    def _grows(self) -> bool:
        return callable(getattr(self.hypermodel, "values_for", None))

    def _describes(self) -> bool:
        return callable(getattr(self.hypermodel, "architecture", None))

    def _architecture(self, values: dict[str, Any]) -> Architecture:
        hp = self.get_space()
        hp.values.update(values)
        return self.hypermodel.architecture(hp)

    def _trial_architecture(self, trial) -> Architecture:
        """The architecture of a completed trial, described once."""
        found = self._described.get(trial.trial_id)
        if found is None:
            found = self._described[trial.trial_id] = self._architecture(trial.hyperparameters.values)
        return found

    def _initial_points(self) -> int:
        if self.num_initial_points is not None:
            return int(self.num_initial_points)
        return max(3, (self.max_trials or 15) // 5)

    def _rng(self) -> np.random.Generator:
        self._seed_state += 1
        return np.random.default_rng([self.seed or 0, self._seed_state])

    def _time_bound(self) -> float:
        if self.proposal_seconds is not None:
            return self.proposal_seconds
        if not self.trial_seconds:
            return 0.05
        return float(np.clip(0.01 * np.median(list(self.trial_seconds.values())), 0.05, 0.8))

    # -- proposals -----------------------------------------------------------
    def populate_space(self, trial_id):
        self._proposed_at[trial_id] = time.time()
        try:
            values = self._propose()
        except Exception as error:  # never raise under keras-tuner's lock
            self.proposal_log.append({"trial_id": trial_id, "fallback": f"{type(error).__name__}: {error}"})
            values = self._random_values()
        if values is None:
            return {"status": keras_tuner.engine.trial.TrialStatus.STOPPED, "values": None}
        return {"status": keras_tuner.engine.trial.TrialStatus.RUNNING, "values": values}

    def _completed(self):
        return [
            t for t in self.trials.values() if t.status == "COMPLETED" and t.score is not None and np.isfinite(t.score)
        ]

    def _propose(self) -> dict[str, Any] | None:
        completed = self._completed()
        if len(completed) < self._initial_points():
            return self._initial_values()
        if self._grows() or self._describes():
            return self._tree_search(completed)
        return self._mutation_search(completed)

    def _initial_values(self) -> dict[str, Any] | None:
        if self._grows() and not self.trials:
            # The very first trial is the seed network with the space's default optimizer and learning rate:
            # a known-good start (a random learning rate can leave the seed, and all its children, untrained).
            space = self.get_space()
            values = {h.name: space.values[h.name] for h in space.space if space.is_active(h)}
        else:
            values = self._random_values()
        if values is None or not self._grows():
            return values
        rng = self._rng()
        space = self.hypermodel
        architecture = space.seed_architecture()
        for _ in range(int(rng.integers(0, 4)) if self.trials else 0):  # the very first trial is the seed
            options = self._children(architecture, rng, count=1)
            if options:
                architecture = options[0][1]
        return {**{k: v for k, v in values.items() if k not in _LINEAGE}, **space.values_for(architecture)}

    def _children(self, architecture: Architecture, rng: np.random.Generator, count: int):
        """Up to `count` (moves, child) pairs one valid move away, inside bounds and the parameter cap.

        The kind of move is drawn first, uniformly (as Auto-Keras does), then
        the move: skips outnumber the other moves quadratically otherwise.
        """
        space = self.hypermodel
        by_kind: dict[str, list] = {}
        for move in moves.candidates(
            architecture, space.input_shape, getattr(space, "max_width", 1024), validate=False
        ):
            by_kind.setdefault(move.kind, []).append(move)
        found: list[tuple[list[moves.Move], Architecture]] = []
        while by_kind and len(found) < count:
            kind = sorted(by_kind)[int(rng.integers(len(by_kind)))]
            options = by_kind[kind]
            move = options.pop(int(rng.integers(len(options))))
            if not options:
                del by_kind[kind]
            try:
                child = moves.apply(architecture, move, space.input_shape)
            except ValueError:
                continue
            if space.values_for(child) is None:
                continue
            if self.max_params and child.num_params(space.input_shape, space.head) > self.max_params:
                continue
            found.append(([move], child))
        return found

    def _direction(self) -> str:
        return self.objective.direction

    def _tree_search(self, completed) -> dict[str, Any] | None:
        started = time.monotonic()
        rng = self._rng()
        architectures = [self._trial_architecture(t) for t in completed]
        scores = np.array([t.score for t in completed], dtype=float)
        gp = ArchitectureGP(self.distance).fit(architectures, scores)
        sign = 1.0 if self._direction() == "max" else -1.0
        seen = set(architectures)
        bound = self._time_bound()
        expansions = 0
        queue: list[tuple[float, int, str, list[moves.Move], Architecture]] = [
            (-sign * score, index, trial.trial_id, [], arch)
            for index, (trial, arch, score) in enumerate(zip(completed, architectures, scores, strict=True))
        ]
        heapq.heapify(queue)
        counter = len(queue)
        best = None  # (acquisition, parent trial id, moves, architecture, mutant values)
        scored: list[tuple[float, float, str, list[moves.Move], Architecture, Any]] = []  # for ei_per_second
        temperature, pops = 1.0, 0
        while queue and temperature > 1e-4 and (expansions < self.min_expansions or time.monotonic() - started < bound):
            key, _, parent_id, path, architecture = heapq.heappop(queue)
            pops += 1
            value = -key
            incumbent = best[0] if best else -math.inf
            accept = math.exp(min((value - incumbent) / temperature, 1.0)) if best else 1.0
            temperature *= 0.9
            if accept < rng.uniform():
                continue
            children = self._expand(architecture, path, rng) if self._grows() else self._mutants(parent_id, rng)
            if not children:
                continue
            expansions += 1
            candidates = [c for c in children if c[1] not in seen]
            if not candidates:
                continue
            mean, std = gp.predict([c[1] for c in candidates])
            acquisition = upper_confidence_bound(mean, std, self.beta, self._direction())
            for (child_moves, child, *rest), score, m, s in zip(candidates, acquisition, mean, std, strict=True):
                scored.append((float(m), float(s), parent_id, child_moves, child, rest[0] if rest else None))
                seen.add(child)
                counter += 1
                heapq.heappush(queue, (-score, counter, parent_id, child_moves, child))
                if best is None or score > best[0]:
                    best = (float(score), parent_id, child_moves, child, rest[0] if rest else None)
        entry: dict[str, Any] = {"pops": pops}
        if self.acquisition == "ei_per_second" and scored:
            best = self._per_second(scored, completed, scores, entry)
        entry["seconds"] = round(time.monotonic() - started, 4)
        entry["acquisition"] = None if best is None else best[0]
        self.proposal_log.append(entry)
        if best is None:
            return self._random_values()
        _, parent_id, path, child, mutant_values = best
        parent_values = {k: v for k, v in self.trials[parent_id].hyperparameters.values.items() if k not in _LINEAGE}
        if mutant_values is not None:
            return mutant_values
        values = {**parent_values, **self.hypermodel.values_for(child)}
        if self._duplicate(values):
            return self._random_values()
        return {**values, PARENT: parent_id, MOVES: json.dumps([m.to_dict() for m in path])}

    def _flops(self, architecture: Architecture) -> float | None:
        space = self.hypermodel
        try:
            return float(architecture.flops(space.input_shape, space.head))
        except (AttributeError, TypeError, ValueError):  # a space without shapes, or a network it cannot size
            return None

    def _per_second(self, scored, completed, scores: np.ndarray, entry: dict[str, Any]):
        """The scored child with the largest expected improvement per predicted second, as `best` is kept."""
        sizes = {t.trial_id: self._flops(self._trial_architecture(t)) for t in completed}
        measured = [(sizes[t.trial_id] or 0.0, self.trial_seconds.get(t.trial_id, 0.0)) for t in completed]
        cost = TrainingCost([f for f, _ in measured], [s for _, s in measured])
        incumbent = float(np.max(scores) if self._direction() == "max" else np.min(scores))
        mean, std = (np.array([row[i] for row in scored]) for i in (0, 1))
        gain = expected_improvement(mean, std, incumbent, self._direction())
        seconds = np.array(
            [
                cost.median_seconds
                if (flops := self._flops(child)) is None
                else float(cost.predict(flops, sizes.get(parent_id), self.trial_seconds.get(parent_id)))
                for _, _, parent_id, _, child, _ in scored
            ]
        )
        index = int(np.argmax(gain / np.maximum(seconds, 1e-3)))
        entry.update(expected_improvement=float(gain[index]), predicted_seconds=round(float(seconds[index]), 3))
        _, _, parent_id, path, child, values = scored[index]
        return (float(gain[index] / max(seconds[index], 1e-3)), parent_id, path, child, values)

    def _expand(self, architecture, path, rng):
        return [(path + extra, child) for extra, child in self._children(architecture, rng, self.children)]

    def _mutants(self, parent_id: str, rng: np.random.Generator):
        """Children by changing one hyperparameter of a trial (for spaces that only describe)."""
        parent = self.trials[parent_id].hyperparameters.values if parent_id in self.trials else {}
        found: list[tuple[list[moves.Move], Architecture, dict[str, Any]]] = []
        for _ in range(self.children * 3):
            values = self._mutate(parent, rng)
            if values is None:
                continue
            try:
                found.append(([], self._architecture(values), values))
            except (ValueError, KeyError, TypeError):
                continue
            if len(found) == self.children:
                break
        return found

    def _mutate(self, values: dict[str, Any], rng: np.random.Generator) -> dict[str, Any] | None:
        hp = self.get_space()
        hp.values.update({k: v for k, v in values.items() if k not in _LINEAGE})
        tunable = [
            h for h in hp.space if hp.is_active(h) and not isinstance(h, keras_tuner.engine.hyperparameters.Fixed)
        ]
        if not tunable:
            return None
        chosen = tunable[int(rng.integers(len(tunable)))]
        hp.values[chosen.name] = chosen.random_sample(int(rng.integers(1 << 30)))
        fresh = keras_tuner.HyperParameters()
        for h in hp.space:  # keep only values active under the new ones, sampling newly active ones
            fresh.merge([h])
            if fresh.is_active(h):
                fresh.values[h.name] = hp.values.get(h.name, h.random_sample(int(rng.integers(1 << 30))))
        return None if self._duplicate(fresh.values) else dict(fresh.values)

    def _mutation_search(self, completed) -> dict[str, Any] | None:
        """The GP over the hyperparameter distance, for spaces that cannot describe architectures."""
        rng = self._rng()
        values = [{k: v for k, v in t.hyperparameters.values.items() if k not in _LINEAGE} for t in completed]
        scores = np.array([t.score for t in completed], dtype=float)
        order = np.argsort(-scores if self._direction() == "max" else scores)
        candidates = []
        for index in order[: max(1, len(order) // 2)]:
            for _ in range(self.children):
                mutant = self._mutate(values[index], rng)
                if mutant is not None:
                    candidates.append(mutant)
        if not candidates:
            return self._random_values()
        gp = DistanceGP(HyperparameterDistance(self.get_space())).fit(values, scores)
        mean, std = gp.predict(candidates)
        return candidates[int(np.argmax(upper_confidence_bound(mean, std, self.beta, self._direction())))]

    @keras_tuner.synchronized
    def end_trial(self, trial):
        started = self._proposed_at.pop(trial.trial_id, None)
        if started is not None:  # recorded first: the base class saves the state
            self.trial_seconds[trial.trial_id] = round(time.time() - started, 3)
        super().end_trial(trial)

    # -- state ---------------------------------------------------------------
    def get_state(self):
        return {
            **super().get_state(),
            "proposal_log": self.proposal_log[-200:],
            "trial_seconds": self.trial_seconds,
            "proposed_at": self._proposed_at,
        }

    def set_state(self, state):
        super().set_state(state)
        self.proposal_log = list(state.get("proposal_log", []))
        self.trial_seconds = dict(state.get("trial_seconds", {}))
        self._proposed_at = dict(state.get("proposed_at", {}))

    def _compute_values_hash(self, values):
        # Lineage does not make a different network: keep it out of the duplicate check.
        return super()._compute_values_hash({k: v for k, v in values.items() if k not in _LINEAGE})


__all__ = ["MOVES", "PARENT", "MorphismOracle"]
