import numpy as np
import pytest

from keras_nas.architecture import Architecture, Head, Layer, Skip

CONV_CASES = [
    ((8, 8, 1), Architecture(
        [Layer.of("conv", filters=8, kernel_size=3), Layer.of("batch_norm"), Layer.of("activation", activation="relu"),
         Layer.of("pool", pool="max"), Layer.of("conv", filters=16, kernel_size=3, activation="relu"),
         Layer.of("conv", filters=16, kernel_size=5, separable=True), Layer.of("global_pool")],
        [Skip(0, 4, "add"), Skip(1, 5, "add"), Skip(4, 6, "concat")])),
    ((40, 1), Architecture(
        [Layer.of("conv", filters=8, kernel_size=5, strides=2), Layer.of("conv", filters=8, dilation_rate=2),
         Layer.of("pool", pool="avg", size=3), Layer.of("flatten"), Layer.of("dense", units=16)],
        [Skip(0, 3, "concat"), Skip(1, 2, "add")])),
    ((7, 7, 3), Architecture(
        [Layer.of("pool", size=2), Layer.of("pool", size=2), Layer.of("conv", filters=4)],
        [Skip(0, 3, "add")])),
    ((12,), Architecture(
        [Layer.of("dense", units=32, activation="relu"), Layer.of("dropout", rate=0.2),
         Layer.of("dense", units=16, use_bias=False), Layer.of("identity")],
        [Skip(0, 3, "add"), Skip(1, 4, "concat")])),
]


@pytest.mark.parametrize("shape,arch", CONV_CASES)
def test_num_params_matches_keras(shape, arch):
    head = Head("classification", 5)
    model = arch.build(shape, head=head)
    assert arch.num_params(shape, head) == model.count_params()
    assert arch.num_params(shape) == arch.build(shape).count_params()


@pytest.mark.parametrize("shape,arch", CONV_CASES)
def test_output_shape_matches_keras(shape, arch):
    model = arch.build(shape)
    assert tuple(model.output_shape[1:]) == arch.output_shape(shape)
    out = model(np.zeros((2, *shape), "float32"))
    assert tuple(out.shape) == (2, *arch.output_shape(shape))


def test_layer_names_are_deterministic():
    arch = CONV_CASES[0][1]
    names = [layer.name for layer in arch.build((8, 8, 1), head=Head("classification", 2)).layers]
    assert "conv_0" in names and "skip_0_4_add" in names and "skip_4_6_concat" in names and names[-1] == "head"


def test_skip_alignment_pools_and_projects():
    names = [layer.name for layer in CONV_CASES[0][1].build((8, 8, 1)).layers]
    assert "skip_0_4_pool" in names and "skip_0_4_proj" in names


def test_head_reduce_avg():
    arch = Architecture([Layer.of("conv", filters=6)])
    head = Head("regression", 2, reduce="avg")
    model = arch.build((5, 5, 2), head=head)
    assert model.output_shape == (None, 2)
    assert arch.num_params((5, 5, 2), head) == model.count_params()


@pytest.mark.parametrize("shape,layers,message", [
    ((10,), [Layer.of("conv", filters=4)], "Layer 0 .conv4k3. cannot take an input of shape"),
    ((4, 4, 1), [Layer.of("flatten"), Layer.of("global_pool")], "Layer 1"),
    ((4, 4, 1), [Layer.of("magic")], "Unknown layer kind 'magic'"),
])
def test_invalid_architectures_name_the_layer(shape, layers, message):
    with pytest.raises(ValueError, match=message):
        Architecture(layers).num_params(shape)


def test_skip_across_rank_change_is_rejected():
    arch = Architecture([Layer.of("conv", filters=4), Layer.of("flatten")], [Skip(0, 2, "add")])
    with pytest.raises(ValueError, match="different ranks"):
        arch.build((4, 4, 1))


def test_bad_input_shape():
    with pytest.raises(ValueError, match="positive sizes"):
        Architecture([Layer.of("dense", units=2)]).build((0,))


def test_batch_norm_uses_short_training_momentum():
    model = Architecture([Layer.of("batch_norm")]).build((3,))
    assert model.layers[-1].momentum == pytest.approx(0.9)


def test_flops_are_hand_counted_multiply_adds():
    # conv 3x3, 1 -> 4 channels on 6x6 (same padding): (9*1*4 + 4) per position x 36 positions
    conv = (9 * 4 + 4) * 36
    # stride-2 conv 4 -> 8 channels, output 3x3: (9*4*8 + 8) x 9
    strided = (9 * 4 * 8 + 8) * 9
    # an add skip from the input (1 channel, pooled 2x) projected 1 -> 8 bias-free at the 3x3 target
    projection = 1 * 8 * 9
    head = (8 + 1) * 10  # global average pooling, then dense 10
    arch = Architecture(
        [Layer.of("conv", filters=4), Layer.of("conv", filters=8, strides=2), Layer.of("global_pool")],
        [Skip(0, 2, "add")],
    )
    assert arch.flops((6, 6, 1), Head("classification", 10, reduce="avg")) == conv + strided + projection + head
    dense = Architecture([Layer.of("dense", units=5, activation="relu"), Layer.of("dropout", rate=0.5)])
    assert dense.flops((3,)) == 3 * 5 + 5


def test_separable_conv_flops_count_depthwise_and_pointwise():
    arch = Architecture([Layer.of("conv", filters=6, kernel_size=5, separable=True)])
    assert arch.flops((10, 3)) == (5 * 3 + 3 * 6 + 6) * 10
