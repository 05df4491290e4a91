import numpy as np
import pytest

from keras_nas.architecture import Architecture, Layer, Skip
from keras_nas.search.morphism.distance import ArchitectureDistance, layer_cost, skip_cost, skip_distance

CONV16, CONV32 = Layer.of("conv", filters=16), Layer.of("conv", filters=32)
POOL, BN = Layer.of("pool"), Layer.of("batch_norm")


def _naive(a, b, skip_weight=1.0):
    table = np.zeros((len(a.layers) + 1, len(b.layers) + 1))
    table[:, 0], table[0, :] = np.arange(len(a.layers) + 1), np.arange(len(b.layers) + 1)
    for i, x in enumerate(a.layers, 1):
        for j, y in enumerate(b.layers, 1):
            table[i, j] = min(table[i, j - 1] + 1, table[i - 1, j] + 1, table[i - 1, j - 1] + layer_cost(x, y))
    return table[-1, -1] + skip_weight * skip_distance(a.skips, b.skips)


def _random_architectures(count, seed=0):
    rng = np.random.default_rng(seed)
    choices = [CONV16, CONV32, Layer.of("conv", filters=64, kernel_size=5), POOL, Layer.of("pool", pool="avg"), BN,
               Layer.of("dense", units=64), Layer.of("dense", units=128), Layer.of("activation", activation="relu")]
    result = []
    for _ in range(count):
        n = int(rng.integers(0, 10))
        skips = set()
        for _ in range(int(rng.integers(0, 3)) if n >= 2 else 0):
            s = int(rng.integers(0, n - 1))
            skips.add(Skip(s, int(rng.integers(s + 1, n + 1)), ("add", "concat")[int(rng.integers(2))]))
        result.append(Architecture([choices[int(i)] for i in rng.integers(0, len(choices), n)], skips))
    return result


def test_layer_costs():
    assert layer_cost(CONV16, Layer.of("dense", units=16)) == 1.0
    assert layer_cost(CONV16, CONV16) == 0.0
    # filters 16 vs 32 -> 0.5 over (filters, kernel, stride, dilation, separable, activation)
    assert layer_cost(CONV16, CONV32) == pytest.approx(0.5 / 6)
    # dense width counts (Auto-Keras 0.4 ignored it): 64 vs 128 -> 0.5 over (units, activation)
    assert layer_cost(Layer.of("dense", units=64), Layer.of("dense", units=128)) == pytest.approx(0.25)


def test_hand_computed_distances():
    distance = ArchitectureDistance()
    a = Architecture([CONV16, POOL, CONV32])
    assert distance(a, a) == 0.0
    assert distance(a, Architecture([CONV16, CONV32])) == 1.0  # delete the pooling
    assert distance(a, Architecture([CONV32, POOL, CONV32])) == pytest.approx(0.5 / 6)
    assert distance(Architecture([]), a) == 3.0
    with_skip = a.replace(skips=[Skip(0, 2, "add")])
    assert distance(a, with_skip) == 1.0  # one unmatched skip
    assert ArchitectureDistance(skip_weight=0.5)(a, with_skip) == 0.5


def test_hungarian_matching_of_skips():
    assert skip_cost(Skip(0, 2, "add"), Skip(0, 2, "concat")) == 1.0
    assert skip_cost(Skip(1, 3, "add"), Skip(2, 3, "add")) == pytest.approx((1 + 1) / (2 + 2))
    a = [Skip(0, 2), Skip(4, 6)]
    b = [Skip(4, 6), Skip(0, 3)]
    # the matching pairs (0,2)-(0,3) and (4,6)-(4,6), not the list order
    assert skip_distance(a, b) == pytest.approx(skip_cost(Skip(0, 2), Skip(0, 3)))
    assert skip_distance(a, b[:1]) == pytest.approx(1.0)
    assert skip_distance([], b) == 2.0


def test_batched_distances_equal_the_textbook_recurrence():
    architectures = _random_architectures(40)
    matrix = ArchitectureDistance().matrix(architectures)
    expected = np.array([[_naive(a, b) for b in architectures] for a in architectures])
    np.testing.assert_allclose(matrix, expected, atol=1e-12)


def test_metric_properties():
    architectures = _random_architectures(30, seed=1)
    matrix = ArchitectureDistance().matrix(architectures)
    assert np.all(np.diag(matrix) == 0) and np.allclose(matrix, matrix.T) and np.all(matrix >= 0)
    # the triangle inequality holds for the Levenshtein part and the matched skip part
    assert np.all(matrix[:, None, :] <= matrix[:, :, None] + matrix[None, :, :] + 1e-9)


def test_caches_are_reused():
    distance = ArchitectureDistance()
    architectures = _random_architectures(20, seed=2)
    distance.matrix(architectures)
    layers, skips = len(distance._layers), len(distance._skip_arrays)
    distance.matrix(architectures)
    assert (len(distance._layers), len(distance._skip_arrays)) == (layers, skips)
