import warnings

import numpy as np
import pytest

from keras_nas.architecture.cells import num_edges

from keras_nas.oneshot.darts import MixedOp, PCDARTSSearchModel, channel_shuffle, node_softmax

OPS = ("none", "max_pool_3x3", "skip_connect", "sep_conv_3x3")


def test_channel_shuffle_interleaves_groups_like_pc_darts():
    x = np.arange(8, dtype="float32").reshape(1, 1, 8)
    np.testing.assert_array_equal(np.asarray(channel_shuffle(x, 4))[0, 0], [0, 2, 4, 6, 1, 3, 5, 7])


@pytest.mark.parametrize("strides", [1, 2])
def test_partial_edge_mixes_a_quarter_of_the_channels(strides):
    edge = MixedOp(8, strides, OPS, partial=4)
    x = np.random.default_rng(0).normal(size=(2, 6, 6, 8)).astype("float32")
    only_none = np.eye(len(OPS), dtype="float32")[0]
    out = np.asarray(edge(x, only_none, training=False))
    assert out.shape == (2, 6 // strides, 6 // strides, 8)
    # With all weight on `none` the mixed quarter is zero and the rest passes (max-pooled when strided).
    bypass = x[..., 2:] if strides == 1 else np.asarray(edge.bypass_pool(x[..., 2:]))
    expected = channel_shuffle(np.concatenate([np.zeros_like(bypass[..., :2]), bypass], axis=-1), 4)
    np.testing.assert_allclose(out, expected, atol=1e-6)
    sep_conv = edge.candidates[OPS.index("sep_conv_3x3")].layers[1]
    assert tuple(sep_conv.depthwise_kernel.shape)[-2] == 2  # the ops are built for 8 / 4 channels


def test_partial_edge_config_round_trip_and_validation():
    clone = MixedOp.from_config(MixedOp(8, 2, OPS, partial=4).get_config())
    assert clone.partial == 4 and clone.width == 2
    with pytest.raises(ValueError, match="partial"):
        MixedOp(6, 1, OPS, partial=4)


def test_node_softmax_normalises_each_node_separately():
    weights = np.asarray(node_softmax(np.arange(num_edges(3), dtype="float32"), 3))
    np.testing.assert_allclose([weights[0:2].sum(), weights[2:5].sum(), weights[5:9].sum()], 1.0, rtol=1e-6)


def _model():
    return PCDARTSSearchModel(
        (8, 8, 1), 3, partial_channels=2, channels=4, num_cells=3, nodes=2, primitives=OPS, seed=0
    )


def test_betas_are_architecture_variables_and_shape_the_genotype():
    model = _model()
    betas = [model.betas_normal, model.betas_reduce]
    assert all(any(b is a for a in model.arch_variables) for b in betas)
    assert not any(b is w for b in betas for w in model.weight_variables)
    # Node 3's edge from input 0 is made the strongest by β alone.
    alphas = np.zeros(model.alphas_normal.shape, "float32")
    alphas[:, OPS.index("sep_conv_3x3")] = 1.0
    model.alphas_normal.assign(alphas)
    model.betas_normal.assign(np.array([0, 0, 5, 0, 0], "float32"))
    assert model.genotype().normal[2] == ("sep_conv_3x3", 0)


def test_pc_darts_second_order_step_moves_the_betas():
    # One eager step; the compiled first-order search runs end to end in test_strategy.py.
    model = PCDARTSSearchModel((8, 8, 1), 3, partial_channels=2, channels=4, num_cells=3, nodes=1, primitives=OPS[:3])
    model.compile(order=2, decay_steps=10)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 8, 8, 1)).astype("float32"), rng.integers(0, 3, 8)
    before = [np.array(model.betas_normal), np.array(model.betas_reduce)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.train_step(((x, y), (x, y)))
    assert not [w for w in caught if "Gradients do not exist" in str(w.message)]
    assert not any(np.array_equal(b, np.array(a)) for b, a in zip(before, [model.betas_normal, model.betas_reduce]))
