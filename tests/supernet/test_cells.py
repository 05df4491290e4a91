import numpy as np
import pytest

from keras_nas.architecture.cells import Genotype, edge_inputs, num_edges, parse_cell

from keras_nas.oneshot.darts import DARTSCell, MixedOp

OPS = ("none", "max_pool_3x3", "skip_connect", "sep_conv_3x3", "dil_conv_3x3")


@pytest.mark.parametrize("strides", [1, 2])
@pytest.mark.parametrize("primitives", [OPS, ("max_pool_3x3", "none", "skip_connect", "sep_conv_3x3"), ("none",)])
def test_mixed_op_is_the_weighted_sum_of_its_ops(strides, primitives):
    # `none` is left out of the computed sum wherever it stands; the result must not change.
    edge = MixedOp(4, strides, primitives)
    x = np.random.default_rng(0).normal(size=(2, 6, 6, 4)).astype("float32")
    weights = np.array([0.1, 0.3, 0.2, 0.25, 0.15][: len(primitives)], "float32")
    out = np.asarray(edge(x, weights, training=False))
    expected = sum(w * np.asarray(op(x, training=False)) for w, op in zip(weights, edge.candidates))
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, atol=1e-5)
    index = len(primitives) - 1
    one_hot = np.eye(len(primitives), dtype="float32")[index]
    np.testing.assert_allclose(edge(x, one_hot, training=False), edge.candidates[index](x, training=False), atol=1e-6)


def test_mixed_op_config_round_trip():
    edge = MixedOp(4, 2, OPS, rank=1, name="edge")
    clone = MixedOp.from_config(edge.get_config())
    assert (clone.channels, clone.strides, clone.primitives, clone.rank) == (4, 2, OPS, 1)


def test_edges_are_numbered_as_in_darts():
    assert num_edges(4) == 14
    assert edge_inputs(2) == [(2, 0), (2, 1), (3, 0), (3, 1), (3, 2)]


@pytest.mark.parametrize(
    "reduction,reduction_prev,rank,shape,expected",
    [
        (False, False, 2, (8, 8, 6), (8, 8, 8)),
        (True, False, 2, (8, 8, 6), (4, 4, 8)),
        (False, True, 1, (10, 6), (10, 8)),
        (False, False, 0, (6,), (8,)),
    ],
)
def test_cell_output_shapes(reduction, reduction_prev, rank, shape, expected):
    ops = OPS if rank else ("none", "skip_connect", "dense_8")
    cell = DARTSCell(4, reduction, reduction_prev, nodes=2, primitives=ops, rank=rank)
    s1 = np.ones((2, *shape), "float32")
    # After a reduction, s0 comes from the cell before it, at twice the spatial size.
    s0 = np.ones((2, *[2 * n for n in shape[:-1]], shape[-1]), "float32") if reduction_prev else s1
    weights = np.full((num_edges(2), len(ops)), 1.0 / len(ops), "float32")
    assert tuple(cell(s0, s1, weights, training=True).shape) == (2, *expected)


def test_cell_config_round_trip_gives_the_same_function():
    cell = DARTSCell(4, reduction=True, nodes=2, primitives=OPS, name="cell")
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 3)).astype("float32")
    weights = np.random.default_rng(1).dirichlet(np.ones(len(OPS)), size=num_edges(2)).astype("float32")
    expected = cell(x, x, weights, training=False)
    clone = DARTSCell.from_config(cell.get_config())
    clone(x, x, weights, training=False)
    clone.set_weights(cell.get_weights())
    np.testing.assert_allclose(clone(x, x, weights, training=False), expected, atol=1e-5)


def test_tabular_cells_do_not_reduce():
    with pytest.raises(ValueError, match="cannot reduce"):
        DARTSCell(4, reduction=True, primitives=("none", "dense"), rank=0)


def test_parse_cell_keeps_the_two_strongest_edges_ignoring_none():
    primitives = ("none", "skip_connect", "sep_conv_3x3")
    weights = np.full((num_edges(2), 3), 0.1)
    weights[0] = [0.9, 0.05, 0.05]  # node 2 <- 0: strong only in `none`
    weights[1, 2] = 0.5  # node 2 <- 1: sep_conv
    weights[2, 1] = 0.6  # node 3 <- 0: skip
    weights[4, 2] = 0.7  # node 3 <- 2: sep_conv
    gene = parse_cell(weights, primitives, nodes=2)
    assert gene == (("sep_conv_3x3", 1), ("skip_connect", 0), ("sep_conv_3x3", 2), ("skip_connect", 0))
    with pytest.raises(ValueError, match="shape"):
        parse_cell(weights[:3], primitives, nodes=2)


def test_genotype_round_trips_through_a_dict():
    genotype = Genotype((("skip_connect", 0), ("sep_conv_3x3", 1)), (2,), (("max_pool_3x3", 1),), (2,))
    assert Genotype.from_dict(genotype.to_dict()) == genotype
