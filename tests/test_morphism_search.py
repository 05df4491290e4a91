"""MorphismOracle and MorphismTuner: proposals, weight inheritance, resume, drop-in use in keras-tuner."""
import json

import keras
import keras_tuner
import numpy as np
import pytest

from keras_nas.search.morphism import moves
from keras_nas.architecture import Head
from keras_nas.search.morphism.tuner import MorphismTuner
from keras_nas.search.morphism.distance import hyperparameter_distance
from keras_nas.search.morphism.oracle import MOVES, PARENT, MorphismOracle
from keras_nas.spaces import DenseSpace
from keras_nas.spaces.morphism import ARCHITECTURE, MorphismSpace


def _space(x, n=2):
    return MorphismSpace(input_shape=(x.shape[1],), head=Head("classification", n), max_width=256)


def _oracle(max_trials=6, **kwargs):
    return MorphismOracle(objective="val_accuracy", max_trials=max_trials, num_initial_points=2, seed=4, **kwargs)


@pytest.fixture(scope="module")
def grown(tmp_path_factory, tabular_small):
    """One growing search, shared: every checkpoint kept so that parents can be reloaded."""
    x, y = tabular_small
    directory = tmp_path_factory.mktemp("grown")
    tuner = MorphismTuner(_space(x), _oracle(), directory=directory, project_name="p", seed=0, keep_checkpoints=10)
    tuner.search(x, y, validation_split=0.25, epochs=2, verbose=0)
    return tuner


def test_growing_search_inherits_weights(grown):
    trials = list(grown.oracle.trials.values())
    assert [t.status for t in trials] == ["COMPLETED"] * 6
    children = [t for t in trials if PARENT in t.hyperparameters.values]
    assert children and all(ARCHITECTURE in t.hyperparameters.values for t in trials[1:])
    inherited = [t for t in children if grown.records[t.trial_id].inherited]
    assert inherited
    assert not any("fallback" in entry for entry in grown.oracle.proposal_log)
    for child in inherited:  # the refit must train as long as the whole lineage did
        parent = child.hyperparameters.values[PARENT]
        assert grown.trained_epochs(child.trial_id) == child.best_step + 1 + grown.trained_epochs(parent)


def test_first_trial_is_the_seed_with_default_hyperparameters(grown):
    first = grown.oracle.trials[min(grown.oracle.trials)].hyperparameters
    space = grown.oracle.get_space()
    assert grown.hypermodel.architecture(first) == grown.hypermodel.seed_architecture()
    assert all(first.values[name] == space.values[name] for name in ("optimizer", "learning_rate")
               if name in space.values)
    later = [t.hyperparameters.values.get("learning_rate") for t in grown.oracle.trials.values()]
    assert len(set(later)) > 1  # the other initial points draw their own


def test_a_child_starts_with_its_parents_function(grown, tabular_small):
    x, _ = tabular_small
    for child in [t for t in grown.oracle.trials.values() if PARENT in t.hyperparameters.values][:2]:
        parent = grown.oracle.get_trial(child.hyperparameters.values[PARENT])
        before_training = grown._build_hypermodel(child.hyperparameters)
        trained_parent = grown.load_model(parent)
        np.testing.assert_allclose(before_training.predict(x[:20], verbose=0),
                                   trained_parent.predict(x[:20], verbose=0), atol=1e-4)
        assert json.loads(child.hyperparameters.values[MOVES])


def test_a_child_whose_weights_cannot_be_carried_trains_from_scratch(grown, monkeypatch):
    def refuse(*args, **kwargs):
        raise ValueError("channels cannot be followed")

    monkeypatch.setattr(moves, "inherit", refuse)
    child = next(t for t in grown.oracle.trials.values() if PARENT in t.hyperparameters.values)
    with pytest.warns(UserWarning, match="trains from scratch"):
        model = grown._build_hypermodel(child.hyperparameters)
    assert isinstance(model, keras.Model)
    assert grown._inheritance.inherited is False and "channels" in grown._inheritance.error


def test_checkpoints_are_pruned_to_the_best(tmp_path, tabular_small):
    x, y = tabular_small
    tuner = MorphismTuner(_space(x), _oracle(max_trials=5), directory=tmp_path, project_name="p", keep_checkpoints=2)
    tuner.search(x, y, validation_split=0.25, epochs=1, verbose=0)
    import os
    kept = [tid for tid in tuner.oracle.trials if os.path.exists(tuner._get_checkpoint_fname(tid))]
    assert len(kept) == 2 and set(kept) == {t.trial_id for t in tuner.oracle.get_best_trials(2)}


def test_resume_keeps_trials_and_oracle_state(tmp_path, tabular_small):
    x, y = tabular_small
    first = MorphismTuner(_space(x), _oracle(max_trials=4), directory=tmp_path, project_name="p", seed=0)
    first.search(x, y, validation_split=0.25, epochs=1, verbose=0)
    before = {tid: (t.score, dict(t.hyperparameters.values)) for tid, t in first.oracle.trials.items()}
    log, durations = list(first.oracle.proposal_log), dict(first.oracle.trial_seconds)
    assert sorted(durations) == sorted(before)  # every finished trial's duration, for the time bound
    second = MorphismTuner(_space(x), _oracle(max_trials=6), directory=tmp_path, project_name="p", seed=0)
    assert second.oracle.proposal_log == log and second.oracle.trial_seconds == durations
    assert second.oracle.get_state()["seed_state"] == first.oracle.get_state()["seed_state"]
    second.search(x, y, validation_split=0.25, epochs=1, verbose=0)
    after = {tid: (t.score, dict(t.hyperparameters.values)) for tid, t in second.oracle.trials.items()}
    assert len(after) == 6 and all(after[tid] == before[tid] for tid in before)


def test_drop_in_for_a_stock_tuner_with_a_plain_build_function(tmp_path, tabular_small):
    x, y = tabular_small

    def build(hp):
        model = keras.Sequential([keras.Input((x.shape[1],))])
        for index in range(hp.Int("layers", 1, 3)):
            with hp.conditional_scope("layers", list(range(index + 1, 4))):
                model.add(keras.layers.Dense(hp.Choice(f"units_{index}", [8, 16, 32]), activation="relu"))
        model.add(keras.layers.Dense(2, activation="softmax"))
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    pytest.importorskip("tensorboard")  # stock keras-tuner Tuners import it for every trial
    tuner = keras_tuner.Tuner(oracle=_oracle(), hypermodel=build, directory=tmp_path)
    tuner.search(x, y, validation_split=0.25, epochs=1, verbose=0)
    assert len(tuner.oracle.trials) == 6
    assert all(t.status == "COMPLETED" for t in tuner.oracle.trials.values())
    assert not any("fallback" in entry for entry in tuner.oracle.proposal_log)


def test_describable_space_is_searched_by_mutation(tmp_path, tabular_small):
    x, y = tabular_small
    space = DenseSpace(max_layers=3, input_shape=(x.shape[1],), head=Head("classification", 2))
    tuner = MorphismTuner(space, _oracle(max_trials=5), directory=tmp_path, project_name="p")
    tuner.search(x, y, validation_split=0.25, epochs=1, verbose=0)
    assert len(tuner.oracle.trials) == 5
    assert not any("fallback" in entry for entry in tuner.oracle.proposal_log)


def test_populate_space_never_raises():
    class Broken(MorphismSpace):
        def architecture(self, hp):
            raise RuntimeError("boom")

    oracle = _oracle()
    oracle.hypermodel = Broken(input_shape=(3,), head=Head("classification", 2))
    oracle.hyperparameters.Choice("optimizer", ["adam"])
    oracle._completed = lambda: [object()] * 5  # pretend the GP phase has started
    result = oracle.populate_space("0")
    assert result["status"] == "RUNNING" and "fallback" in oracle.proposal_log[-1]


def test_hyperparameter_distance_counts_subtrees_present_on_one_side():
    space = keras_tuner.HyperParameters()
    a = {"layers": 1, "units_0": 8}
    b = {"layers": 2, "units_0": 16, "units_1": 8}
    assert hyperparameter_distance(a, a, space) == 0.0
    assert hyperparameter_distance(a, b, space) == pytest.approx(0.5 + 0.5 + 1.0)


def test_time_bound_is_a_small_share_of_a_trial():
    oracle = _oracle()
    assert oracle._time_bound() == 0.05  # nothing measured yet
    oracle.trial_seconds = {"0": 10.0, "1": 30.0, "2": 20.0}
    assert oracle._time_bound() == pytest.approx(0.2)  # 1 % of the median trial
    oracle.trial_seconds = {"0": 1000.0}
    assert oracle._time_bound() == 0.8  # capped so that a proposal, GP fit included, stays under a second
    assert _oracle(proposal_seconds=0.3)._time_bound() == 0.3


def test_children_draw_each_kind_of_move(tabular_small):
    x, _ = tabular_small
    oracle = _oracle(hypermodel=_space(x))
    architecture = oracle.hypermodel.seed_architecture()
    for _ in range(3):  # a deeper seed has many more skip moves than deeper or wider ones
        architecture = moves.apply(architecture, moves.Move("deeper", node=1), (x.shape[1],))
    kinds = [path[0].kind for _ in range(20) for path, _ in oracle._children(architecture, oracle._rng(), 4)]
    counts = {kind: kinds.count(kind) for kind in moves.KINDS}
    assert counts["deeper"] >= len(kinds) // 8 and counts["wider"] >= len(kinds) // 8, counts
    assert counts["add_skip"] + counts["concat_skip"] <= 3 * len(kinds) // 4, counts
