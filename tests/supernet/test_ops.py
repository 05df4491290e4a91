import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_nas.architecture import Architecture
from keras_nas.architecture.cells import (
    SPATIAL_OPS,
    TABULAR_PRIMITIVES,
    FactorizedReduce,
    SearchBatchNorm,
    Zero,
    build_op,
    describe_op,
)

SHAPES = {1: (9, 4), 2: (7, 7, 4)}  # odd sizes: the "same" padding and the FactorizedReduce shift must agree


def _strided(shape, strides):
    return tuple(math.ceil(n / strides) for n in shape[:-1]) + (shape[-1],)


@pytest.mark.parametrize("rank", [1, 2])
@pytest.mark.parametrize("strides", [1, 2])
@pytest.mark.parametrize("name", SPATIAL_OPS)
def test_spatial_op_shapes_match_their_description(name, strides, rank):
    shape = SHAPES[rank]
    x = np.random.default_rng(0).normal(size=(2, *shape)).astype("float32")
    for search in (True, False):
        out = build_op(name, 4, strides, rank, search=search)(x, training=True)
        assert tuple(out.shape) == (2, *_strided(shape, strides))
    description = Architecture(describe_op(name, 4, strides, rank))
    assert description.output_shape(shape) == _strided(shape, strides)
    assert tuple(description.build(shape)(x).shape) == (2, *_strided(shape, strides))


@pytest.mark.parametrize("name", TABULAR_PRIMITIVES + ("dense",))
def test_tabular_op_shapes(name):
    x = np.ones((3, 6), "float32")
    assert tuple(build_op(name, 6, rank=0)(x, training=True).shape) == (3, 6)
    assert Architecture(describe_op(name, 6, rank=0)).output_shape((6,)) == (6,)


def test_descriptions_follow_darts():
    kinds = [layer.describe() for layer in describe_op("sep_conv_5x5", 8, strides=2)]
    assert kinds == ["relu", "sepconv8k5s2", "bn", "relu", "sepconv8k5", "bn"]
    assert [layer.describe() for layer in describe_op("skip_connect", 8)] == ["identity"]
    assert describe_op("skip_connect", 8, strides=2)[0]["class_name"] == "FactorizedReduce"
    assert [layer.describe() for layer in describe_op("avg_pool_3x3", 8, strides=2)] == ["avgpool3"]


def test_search_variant_is_affine_free_and_normalises_pooling():
    pool = build_op("max_pool_3x3", 4, search=True)
    assert isinstance(pool.layers[-1], SearchBatchNorm)
    pool.build((None, 6, 6, 4))
    assert not pool.trainable_weights  # no scale, no offset
    conv = build_op("conv_3x3", 4, search=False)
    assert conv.layers[-1].scale and conv.layers[-1].center


@pytest.mark.parametrize("shape", [(64, 6), (64, 7, 3), (64, 5, 5, 3)])
def test_search_batch_norm_computes_keras_affine_free_batch_norm(shape):
    x = np.random.default_rng(0).normal(2.0, 3.0, size=shape).astype("float32")
    ours, theirs = SearchBatchNorm(momentum=0.9), keras.layers.BatchNormalization(momentum=0.9, center=False, scale=False)
    np.testing.assert_allclose(ours(x, training=True), theirs(x, training=True), atol=1e-3, rtol=1e-3)
    # Then the moving statistics after one update; they differ by the n / (n - 1) of the variance.
    np.testing.assert_allclose(ours(x, training=False), theirs(x, training=False), atol=1e-3, rtol=1e-2)
    # The moving variance takes the unbiased batch variance (Keras's the biased one).
    n = np.prod(shape[:-1])
    variance = x.reshape(-1, shape[-1]).var(axis=0) * n / (n - 1)
    np.testing.assert_allclose(ours.moving_variance, 0.9 + 0.1 * variance, rtol=1e-4)
    np.testing.assert_allclose(ours.moving_mean, 0.1 * x.reshape(-1, shape[-1]).mean(axis=0), rtol=1e-4, atol=1e-6)


def test_search_batch_norm_float64_and_gradients_match_keras():
    x = np.random.default_rng(1).normal(size=(16, 4, 3))
    ours, theirs = SearchBatchNorm(), keras.layers.BatchNormalization(center=False, scale=False)
    for dtype in ("float32", "float64"):
        inputs = tf.constant(x, dtype)
        grads = []
        for layer in (ours, theirs):
            with tf.GradientTape() as tape:
                tape.watch(inputs)
                loss = tf.reduce_sum(tf.cast(layer(inputs, training=True), "float64") ** 3)
            grads.append(tape.gradient(loss, inputs))
        np.testing.assert_allclose(grads[0], grads[1], rtol=1e-2, atol=1e-3)


def test_zero_outputs_zeros_of_the_strided_shape():
    x = np.ones((2, 5, 3), "float32")
    out = Zero(strides=2)(x)
    assert tuple(out.shape) == (2, 3, 3) and float(np.abs(out).max()) == 0.0


def test_unknown_ops_and_strides_are_rejected():
    with pytest.raises(ValueError, match="Unknown op"):
        build_op("sep_conv_7x7", 4)
    with pytest.raises(ValueError, match="Unknown op"):
        build_op("sep_conv_3x3", 4, rank=0)
    with pytest.raises(ValueError, match="strides"):
        build_op("dense_8", 4, strides=2, rank=0)


@pytest.mark.parametrize("rank,strides", [(1, 1), (2, 2)])
def test_ops_survive_a_keras_save_and_load(tmp_path, rank, strides):
    shape = SHAPES[rank]
    inputs = keras.Input(shape)
    outputs = [build_op(name, 4, strides, rank)(inputs) for name in SPATIAL_OPS]
    model = keras.Model(inputs, outputs)
    x = np.random.default_rng(1).normal(size=(2, *shape)).astype("float32")
    path = str(tmp_path / "ops.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)  # registered layers: no custom_objects needed
    for expected, actual in zip(model(x), loaded(x)):
        np.testing.assert_allclose(expected, actual, atol=1e-5)


def test_factorized_reduce_config_round_trip():
    layer = FactorizedReduce(6, rank=1, affine=False)
    clone = FactorizedReduce.from_config(layer.get_config())
    assert (clone.channels, clone.rank, clone.affine) == (6, 1, False)
    assert tuple(clone(np.ones((2, 9, 3), "float32")).shape) == (2, 5, 6)
