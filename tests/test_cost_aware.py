"""Cost-aware acquisition: the predicted training seconds of a child, and the expected improvement per second."""
import numpy as np
import pytest

from keras_nas.architecture import Architecture, Head, Layer
from keras_nas.search.morphism.cost import TrainingCost
from keras_nas.search.morphism.gp import expected_improvement
from keras_nas.search.morphism.oracle import MorphismOracle
from keras_nas.search.morphism.tuner import MorphismTuner
from keras_nas.spaces.morphism import MorphismSpace


def test_cost_exponent_is_fitted_from_the_trials_and_clipped():
    assert TrainingCost([1e6, 4e6], [10.0, 80.0]).exponent == 1.0  # too few trials: proportional to flops
    fitted = TrainingCost([1e6, 2e6, 4e6, 8e6], [10.0, 14.1, 20.0, 28.3])
    assert fitted.exponent == pytest.approx(0.5, abs=0.01)  # fixed costs make time grow slower than flops
    assert TrainingCost([1e6, 2e6, 4e6], [10.0, 40.0, 160.0]).exponent == 1.5
    assert TrainingCost([1e6, 1e6, 1e6], [10.0, 12.0, 11.0]).exponent == 1.0  # no spread of sizes: nothing to fit


def test_cost_is_anchored_on_the_parent_or_else_the_median_trial():
    cost = TrainingCost([1e6, 2e6, 4e6], [10.0, 20.0, 40.0])
    assert float(cost.predict(2e6, parent_flops=1e6, parent_seconds=7.0)) == pytest.approx(14.0)
    assert float(cost.predict(4e6)) == pytest.approx(40.0)  # relative to the median trial (2e6 flops, 20 s)
    np.testing.assert_allclose(cost.predict(np.array([1e6, 8e6])), [10.0, 80.0])


def test_expected_improvement_matches_its_closed_form_in_both_directions():
    from scipy.stats import norm

    mean, std = np.array([0.9, 0.8, 0.95]), np.array([0.05, 0.01, 1e-15])
    z = (mean - 0.9) / np.maximum(std, 1e-12)
    expected = (mean - 0.9) * norm.cdf(z) + np.maximum(std, 1e-12) * norm.pdf(z)
    np.testing.assert_allclose(expected_improvement(mean, std, 0.9), expected)
    assert expected_improvement(np.array([0.8]), np.array([0.01]), 0.9)[0] < 1e-12  # hopeless: no gain
    # minimising a loss: a lower mean is the improvement
    np.testing.assert_allclose(expected_improvement(1 - mean, std, 0.1, "min"), expected)


def _oracle(**kwargs):
    space = MorphismSpace(input_shape=(16, 16, 1), head=Head("classification", 10))
    return MorphismOracle(objective="val_accuracy", max_trials=10, hypermodel=space, seed=1, **kwargs)


class _Trial:
    def __init__(self, trial_id, architecture, oracle):
        self.trial_id = trial_id
        oracle._described[trial_id] = architecture


def test_the_winner_is_the_largest_gain_per_predicted_second():
    oracle = _oracle(acquisition="ei_per_second")
    seed = oracle.hypermodel.seed_architecture()
    parent = _Trial("0", seed, oracle)
    oracle.trial_seconds = {"0": 20.0}
    wide = seed.replace(layers=[layer.replace(filters=256) if layer.kind == "conv" else layer for layer in seed.layers])
    deep = Architecture(list(seed.layers[:4]) + [Layer.of("conv", filters=32)] + list(seed.layers[4:]))
    assert wide.flops((16, 16, 1)) > 10 * deep.flops((16, 16, 1))
    scores = np.array([0.9])
    # equal promise: the cheaper child wins
    entry = {}
    best = oracle._per_second([(0.92, 0.02, "0", [], wide, None), (0.92, 0.02, "0", [], deep, None)],
                              [parent], scores, entry)
    assert best[3] == deep and entry["predicted_seconds"] < 20.0 * 2
    # a child that is far more promising is worth its cost
    best = oracle._per_second([(0.99, 0.02, "0", [], wide, None), (0.90, 0.001, "0", [], deep, None)],
                              [parent], scores, {})
    assert best[3] == wide


def test_an_unknown_acquisition_is_refused_by_name():
    with pytest.raises(ValueError, match="acquisition must be one of \\['ucb', 'ei_per_second'\\]; received 'ei'"):
        _oracle(acquisition="ei")


def test_a_cost_aware_search_runs_and_logs_its_predictions(tmp_path, tabular_small):
    x, y = tabular_small
    space = MorphismSpace(input_shape=(x.shape[1],), head=Head("classification", 2))
    oracle = MorphismOracle(objective="val_accuracy", max_trials=5, num_initial_points=2, seed=3,
                            acquisition="ei_per_second")
    tuner = MorphismTuner(space, oracle, directory=tmp_path, project_name="p", seed=0)
    tuner.search(x, y, validation_split=0.25, epochs=1, verbose=0)
    assert [t.status for t in oracle.trials.values()] == ["COMPLETED"] * 5
    predicted = [e for e in oracle.proposal_log if "predicted_seconds" in e]
    assert predicted and all(e["predicted_seconds"] > 0 and e["expected_improvement"] >= 0 for e in predicted)
