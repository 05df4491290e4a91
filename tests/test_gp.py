import numpy as np
import pytest

from keras_nas.architecture import Architecture, Layer
from keras_nas.search.morphism.gp import ArchitectureGP, stable_cholesky, upper_confidence_bound
from tests.test_distance import _random_architectures


def _mlps(count, seed):
    rng = np.random.default_rng(seed)
    return [Architecture([Layer.of("dense", units=int(rng.choice([16, 32, 64, 128])))
                          for _ in range(int(rng.integers(1, 7)))]) for _ in range(count)]


def _score(arch):  # a known function of the architecture: wide but shallow is best
    return sum(np.log2(layer["units"]) for layer in arch.layers) / 10 - 0.05 * len(arch) ** 2


def test_kernel_is_positive_semidefinite_on_random_architectures():
    train, new = _random_architectures(40, seed=3), _random_architectures(40, seed=4)
    gp = ArchitectureGP().fit(train, np.random.default_rng(0).normal(size=40))
    eigenvalues = np.linalg.eigvalsh(gp.kernel(train + new))  # fitted and proposed points together
    assert eigenvalues.min() > -1e-8 * eigenvalues.max()


def test_gp_predicts_a_known_function_better_than_the_mean():
    train, test = _mlps(60, 0), _mlps(100, 1)
    scores = np.array([_score(a) for a in train]) + np.random.default_rng(2).normal(0, 0.02, 60)
    truth = np.array([_score(a) for a in test])
    mean, std = ArchitectureGP().fit(train, scores).predict(test)
    assert np.mean((mean - truth) ** 2) < 0.1 * np.mean((scores.mean() - truth) ** 2)
    assert np.all(std > 0)


def test_posterior_is_certain_at_observations_and_uncertain_far_away():
    train = _mlps(10, 5)
    scores = [_score(a) for a in train]
    gp = ArchitectureGP().fit(train, scores)
    mean, std = gp.predict(train)
    np.testing.assert_allclose(mean, scores, atol=0.05)
    far = [Architecture([Layer.of("conv", filters=8)] * 12)]
    assert gp.predict(far)[1][0] > 5 * std.max()


def test_one_observation_is_a_sensible_prior():
    one = _mlps(1, 7)
    gp = ArchitectureGP().fit(one, [0.8])
    mean, std = gp.predict(one + _mlps(3, 8))
    assert np.allclose(mean, 0.8) and std[0] < 0.05 and std[1:].max() > std[0]


def test_escalating_jitter_keeps_every_point():
    indefinite = np.array([[1.0, 1.0], [1.0, 1.0 - 1e-9]])  # a tiny negative eigenvalue: plain Cholesky fails
    factor, jitter = stable_cholesky(indefinite, jitter=1e-14)
    assert jitter > 1e-14 and factor.shape == (2, 2)
    np.testing.assert_allclose(factor @ factor.T, indefinite + jitter * np.eye(2), atol=1e-12)


def test_fit_validates_its_input():
    with pytest.raises(ValueError, match="as many scores as architectures"):
        ArchitectureGP().fit(_mlps(2, 0), [1.0])
    with pytest.raises(ValueError, match="finite"):
        ArchitectureGP().fit(_mlps(2, 0), [1.0, float("nan")])


def test_upper_confidence_bound_follows_the_direction():
    mean, std = np.array([0.2, 0.5]), np.array([0.0, 0.1])
    assert upper_confidence_bound(mean, std, beta=2.5).argmax() == 1  # 0.75 beats 0.2
    assert upper_confidence_bound(mean, std, beta=2.5, direction="min").argmax() == 0  # 0.2 beats 0.25


def test_gp_runs_blas_on_one_thread():
    from threadpoolctl import threadpool_info

    from keras_nas.search.morphism.gp import one_blas_thread

    seen = []

    @one_blas_thread
    def probe():
        seen.extend(info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas")

    probe()
    assert seen and set(seen) == {1}
    assert ArchitectureGP.fit.__wrapped__ and ArchitectureGP.predict.__wrapped__  # both run under the limit


def _hyperparameter_sets(count, seed):
    """Active values of a conditional space: units_1 exists only with two layers."""
    rng = np.random.default_rng(seed)
    sets = []
    for _ in range(count):
        values = {"layers": int(rng.integers(1, 3)), "units_0": int(rng.choice([8, 16, 32, 64])),
                  "learning_rate": float(rng.choice([1e-3, 3e-3, 1e-2])), "optimizer": str(rng.choice(["adam", "sgd"]))}
        if values["layers"] == 2:
            values["units_1"] = int(rng.choice([8, 16, 32, 64]))
        sets.append(values)
    return sets


def _hyperparameter_gp(points, scores):
    import keras_tuner

    from keras_nas.search.morphism.gp import DistanceGP
    from keras_nas.search.morphism.distance import HyperparameterDistance

    return DistanceGP(HyperparameterDistance(keras_tuner.HyperParameters())).fit(points, scores)


def test_hyperparameter_gp_interpolates_its_observations():
    train = _hyperparameter_sets(12, 0)
    scores = [np.log2(v["units_0"]) / 6 + (v["optimizer"] == "adam") * 0.2 - 0.1 * v["layers"] for v in train]
    gp = _hyperparameter_gp(train, scores)
    mean, std = gp.predict(train)
    np.testing.assert_allclose(mean, scores, atol=0.05)
    far = [{"dropout": 0.5, "activation": "tanh", "batch_norm": True, "width": 512, "depth": 9}]  # no name shared
    assert gp.predict(far)[1][0] > 5 * std.max()


def test_hyperparameter_kernel_is_positive_semidefinite():
    train, new = _hyperparameter_sets(30, 1), _hyperparameter_sets(30, 2)
    gp = _hyperparameter_gp(train, np.random.default_rng(3).normal(size=30))
    eigenvalues = np.linalg.eigvalsh(gp.kernel(train + new))  # fitted and proposed points together
    assert eigenvalues.min() > -1e-8 * eigenvalues.max()
    np.testing.assert_allclose(gp.distance.matrix(train), gp.distance.matrix(train).T)
