"""`MorphismTuner`: a `NASTuner` whose children start from their parent's trained weights."""

from __future__ import annotations

import dataclasses
import json
import os
import warnings

from keras_nas.search import checkpoints
from keras_nas.search.morphism import moves
from keras_nas.search.morphism.oracle import MOVES, PARENT, MorphismOracle
from keras_nas.search.records import TrialRecord
from keras_nas.search.tuner import NASTuner


class MorphismTuner(NASTuner):
    """Runs a `MorphismOracle` search with weight inheritance.

    A trial whose values name a parent (`nas/parent_trial_id`) and the moves
    from it (`nas/moves`) is initialised from the parent's best checkpoint
    carried through those function-preserving moves
    (`keras_nas.search.morphism.moves.inherit`): before any training it computes the
    parent's function. Only the checkpoints of the `keep_checkpoints` best
    trials are kept on disk; a child of a pruned parent trains from scratch, and so
    does, with a warning, a child whose parent's checkpoint fails its checksum
    (`keras_nas.search.checkpoints`).

    Args:
        hypermodel: A `SearchSpace` (a `MorphismSpace` to grow architectures).
        oracle: A `MorphismOracle`; None makes one with `max_trials` and `seed`.
        keep_checkpoints: How many of the best trials keep their weights.
        **kwargs: Passed to `NASTuner` (time_budget, patience, seed, directory, ...).
    """

    def __init__(self, hypermodel, oracle=None, max_trials=10, objective=None, keep_checkpoints=8, **kwargs):
        if oracle is None:
            oracle = MorphismOracle(objective=objective, max_trials=max_trials, seed=kwargs.get("seed"))
        self.keep_checkpoints = int(keep_checkpoints)
        self._inheritance = None
        super().__init__(hypermodel, oracle, **kwargs)
        if isinstance(self.oracle, MorphismOracle) and self.oracle.hypermodel is None:
            self.oracle.hypermodel = self.hypermodel

    def _build_hypermodel(self, hp):
        model = super()._build_hypermodel(hp)
        parent_id, path = hp.values.get(PARENT), hp.values.get(MOVES)
        self._inheritance = None
        if parent_id is None or path is None:
            return model
        checkpoint = self._get_checkpoint_fname(parent_id)
        if not os.path.exists(checkpoint):  # pruned (`keep_checkpoints`): the child trains from scratch
            self._inheritance = TrialRecord(parent=parent_id, inherited=False)
            return model
        problem = checkpoints.problem(checkpoint)
        if problem is not None:
            # Unverified weights would start the child from an unknown function: no inheritance instead.
            warnings.warn(
                f"Trial trains from scratch: the checkpoint {checkpoint} of its parent trial {parent_id} {problem}.",
                stacklevel=2,
            )
            error = f"parent checkpoint {problem}"[:300]
            self._inheritance = TrialRecord(parent=parent_id, inherited=False, error=error)
            return model
        space = self.hypermodel
        parent_hp = self.oracle.get_trial(parent_id).hyperparameters
        parent_architecture = space.architecture(parent_hp)
        parent_model = parent_architecture.build(space.input_shape, head=space.head)
        with warnings.catch_warnings():  # the checkpoint also holds optimizer variables
            warnings.simplefilter("ignore")
            parent_model.load_weights(checkpoint)
        chain = [moves.Move.from_dict(m) for m in json.loads(path)]
        try:
            moves.inherit(
                parent_model, parent_architecture, chain, model, space.input_shape, space.head, seed=self.seed
            )
        except ValueError as error:
            # A move the weights cannot follow costs the head start, not the trial: rebuild from scratch.
            warnings.warn(
                f"Trial trains from scratch: its parent's weights could not be carried over ({error}).", stacklevel=2
            )
            self._inheritance = TrialRecord(parent=parent_id, inherited=False, error=str(error)[:300])
            return super()._build_hypermodel(hp)
        self._inheritance = TrialRecord(parent=parent_id, inherited=True, moves=len(chain))
        return model

    def _describe(self, trial, results, seconds):
        record = super()._describe(trial, results, seconds)
        if self._inheritance is not None:
            inheritance = self._inheritance
            record = dataclasses.replace(
                record,
                parent=inheritance.parent,
                inherited=inheritance.inherited,
                moves=inheritance.moves,
                error=inheritance.error,
            )
        return record

    def trained_epochs(self, trial_id: str) -> int:
        """Epochs behind the trial's best checkpoint, its ancestors' included when it inherited their weights."""
        own = super().trained_epochs(trial_id)
        record = self.records.get(trial_id)
        if record is not None and record.inherited and record.parent is not None:
            return own + self.trained_epochs(record.parent)
        return own

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        self._prune_checkpoints()

    def _prune_checkpoints(self) -> None:
        """Deletes the weights of this tuner's completed trials outside the best `keep_checkpoints`.

        Only the trials this tuner ran are looked at (`records`): in keras-tuner's
        distributed mode a worker talks to the chief's oracle through a client
        that knows no trial list, and each worker prunes its own trials.
        """
        keep = {t.trial_id for t in self.oracle.get_best_trials(self.keep_checkpoints)}
        for trial_id in list(self.records):
            path = self._get_checkpoint_fname(trial_id)
            if trial_id in keep or not os.path.exists(path):
                continue
            if self.oracle.get_trial(trial_id).status == "COMPLETED":
                checkpoints.remove(path)
