"""Derived networks: `cell` layers expand into plain Keras layers that compute the discretised search cell."""
import keras
import numpy as np
import pytest

from keras_nas.architecture import Architecture, Head, Layer
from keras_nas.architecture.cells import FactorizedReduce, Genotype, SearchBatchNorm, edge_inputs, genotype_architecture
from keras_nas.oneshot.darts import DARTSCell
from keras_nas.architecture.cells.derived import apply_cell

SPATIAL = Genotype(
    normal=(("sep_conv_3x3", 0), ("dil_conv_5x5", 1), ("avg_pool_3x3", 2), ("skip_connect", 0)),
    normal_concat=(2, 3),
    reduce=(("skip_connect", 0), ("max_pool_3x3", 1), ("sep_conv_5x5", 2), ("dil_conv_3x3", 1)),
    reduce_concat=(2, 3),
)
TABULAR = Genotype((("dense_8", 0), ("skip_connect", 1), ("dense", 2), ("skip_connect", 0)), (2, 3))


@pytest.mark.parametrize(
    "genotype,shape,reductions", [(SPATIAL, (9, 9, 3), (1, 2)), (SPATIAL, (11, 2), (1,)), (TABULAR, (6,), ())]
)
def test_cell_architectures_count_and_build_plain_models(genotype, shape, reductions):
    # Odd sizes and a reduction after a reduction: both input-0 preprocessings and every padding rule are exercised.
    arch = genotype_architecture(genotype, shape, channels=4, num_cells=3, reductions=reductions)
    assert Architecture.from_json(arch.to_json()) == arch
    head = Head("classification", 3)
    model = arch.build(shape, head=head)
    assert arch.num_params(shape, head) == model.count_params()
    assert all(type(layer).__module__.startswith("keras.src.") for layer in model.layers)
    x = np.random.default_rng(0).normal(size=(2, *shape)).astype("float32")
    assert tuple(model(x).shape) == (2, 3)
    cells = [layer for layer in arch.layers if layer.kind == "cell"]
    assert [c.get("input0", 2) for c in cells] == [1, 2, 2] and [c["input0_channels"] for c in cells] == [12, 12, 8]


def _one_hot_weights(gene, primitives, nodes):
    """Op weights that make a search cell compute the gene: kept edges their op, the others `none`."""
    kept = {(2 + index // 2, j): op for index, (op, j) in enumerate(gene)}
    rows = [primitives.index(kept.get(edge, "none")) for edge in edge_inputs(nodes)]
    return np.eye(len(primitives), dtype="float32")[rows]


def test_derived_cell_computes_the_search_cell_at_one_hot_weights():
    primitives = ("none", "skip_connect", "sep_conv_3x3", "dil_conv_3x3")
    gene = (("sep_conv_3x3", 0), ("skip_connect", 1), ("dil_conv_3x3", 2), ("sep_conv_3x3", 0))
    search = DARTSCell(4, reduction=True, reduction_prev=True, nodes=2, primitives=primitives)
    rng = np.random.default_rng(0)
    s0, s1 = (rng.normal(size=(2, *shape)).astype("float32") for shape in [(10, 10, 6), (5, 5, 3)])
    weights = _one_hot_weights(gene, primitives, 2)
    expected = search(s0, s1, weights, training=False)

    layer = Layer.of("cell", gene=gene, concat=(2, 3), filters=4, reduction=True, input0_channels=6)
    inputs = [keras.Input(s0.shape[1:]), keras.Input(s1.shape[1:])]
    derived = keras.Model(inputs, apply_cell(layer, *inputs, name="c"))

    def copy(source, prefix):  # search layer -> derived layers named prefix…, convolutions only (BN is fresh in both)
        if isinstance(source, FactorizedReduce):
            derived.get_layer(f"{prefix}_conv1").set_weights(source.conv_1.get_weights())
            derived.get_layer(f"{prefix}_conv2").set_weights(source.conv_2.get_weights())
            return
        for index, sub in enumerate(source.layers):
            if sub.weights and not isinstance(sub, (keras.layers.BatchNormalization, SearchBatchNorm)):
                name = f"{prefix}_conv" if prefix.endswith(("pre0", "pre1")) else f"{prefix}_{index}_conv"
                derived.get_layer(name).set_weights(sub.get_weights())

    copy(search.preprocess0, "c_pre0")
    copy(search.preprocess1, "c_pre1")
    for index, (op, j) in enumerate(gene):
        edge = search.edges[edge_inputs(2).index((2 + index // 2, j))]
        copy(edge.candidates[primitives.index(op)], f"c_n{2 + index // 2}_{index % 2}")
    np.testing.assert_allclose(derived([s0, s1], training=False), expected, atol=1e-5)


def test_cell_layers_are_checked():
    def cell(**changes):
        params = dict(gene=(("skip_connect", 0), ("sep_conv_3x3", 1)), concat=(2,), filters=4, input0_channels=4)
        params["input0"] = 1  # the conv before the cell is both of its inputs
        return Architecture([Layer.of("conv", filters=4), Layer.of("cell", **{**params, **changes})])

    assert cell().output_shape((6, 6, 1)) == (6, 6, 4)
    for changes, message in [
        ({"gene": (("none", 0), ("skip_connect", 1))}, "none"),
        ({"gene": (("skip_connect", 0), ("skip_connect", 2))}, "reads node 2"),
        ({"concat": (3,)}, "concatenates"),
        ({"input0_channels": 8}, "input0_channels=8"),
        ({"input0": 3}, "1 or 2 nodes back"),
    ]:
        with pytest.raises(ValueError, match=message):
            cell(**changes).output_shape((6, 6, 1))
    with pytest.raises(ValueError, match="cannot reduce"):
        Architecture([Layer.of("cell", **{**dict(gene=(("dense", 0),), concat=(2,), filters=4), "input0_channels": 5,
                                          "input0": 1, "keep": 1, "reduction": True})]).output_shape((5,))
