"""The layer-kind contract: every registered kind, built-in or added with `register_kind`, passes these."""

import keras
import numpy as np
import pytest

from keras_nas.architecture import Architecture, Head, Layer, LayerKind, building, kinds, register_kind
from keras_nas.search.morphism.distance import layer_cost

EXAMPLES = [
    pytest.param(name, layers, shape, id=f"{name}-{index}")
    for name in kinds.names()
    for index, (layers, shape) in enumerate(kinds.get(name).examples())
]


@pytest.mark.parametrize("name", kinds.names())
def test_every_kind_shows_an_example_that_uses_it(name):
    examples = kinds.get(name).examples()
    assert examples, f"{name!r} gives no examples(); the contract tests cannot build it."
    for layers, _ in examples:
        assert name in {layer.kind for layer in layers}


@pytest.mark.parametrize("name,layers,shape", EXAMPLES)
def test_an_example_round_trips_through_json(name, layers, shape):
    arch = Architecture(layers)
    assert Architecture.from_json(arch.to_json()) == arch
    for layer in layers:
        assert Layer.from_dict(layer.to_dict()) == layer
        assert layer.describe() and kinds.get(layer.kind).name == layer.kind
        assert layer_cost(layer, layer) == 0.0


@pytest.mark.parametrize("head", [None, Head("classification", 3)], ids=["body", "head"])
@pytest.mark.parametrize("name,layers,shape", EXAMPLES)
def test_an_example_builds_with_the_shape_and_parameter_count_it_predicts(name, layers, shape, head):
    arch = Architecture(layers)
    model = arch.build(shape, head=head)
    assert arch.num_params(shape, head) == model.count_params()
    expected = (3,) if head is not None else arch.output_shape(shape)
    assert tuple(model.output.shape[1:]) == expected
    x = np.random.default_rng(0).normal(size=(2, *shape)).astype("float32")
    y = np.asarray(model(x, training=False))
    assert y.shape == (2, *expected) and np.isfinite(y).all()


@pytest.mark.parametrize("name,layers,shape", EXAMPLES)
def test_reading_a_built_example_back_is_exact_or_refused(name, layers, shape):
    model = Architecture(layers).build(shape)
    try:
        read = Architecture.from_keras_model(model)
    except ValueError:
        return  # refused, with a message: never a different network
    rebuilt = read.build(shape)
    assert read.num_params(shape) == model.count_params() == rebuilt.count_params()
    rebuilt.set_weights(model.get_weights())
    x = np.random.default_rng(1).normal(size=(2, *shape)).astype("float32")
    np.testing.assert_allclose(rebuilt(x, training=False), model(x, training=False), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,layers,shape", EXAMPLES)
def test_a_kind_claims_its_own_keras_layers_and_no_other_kind_does(name, layers, shape):
    model = Architecture(layers).build(shape)
    for index, layer in enumerate(layers):
        if layer.kind == "cell":  # expands into several Keras layers, read back never
            continue
        built = model.get_layer(building.layer_name(index, layer))
        claims = {other: kinds.get(other).from_keras(built) for other in kinds.names()}
        claimed = {other for other, read in claims.items() if read is not None}
        assert claimed <= {layer.kind}, f"{sorted(claimed)} all claim a {type(built).__name__}"
        if claimed:
            assert claims[layer.kind] == layer  # what the kind reads back is the layer it built


@pytest.mark.parametrize("name", kinds.names())
def test_morphism_traits_are_consistent(name):
    kind = kinds.get(name)
    # A layer a morphism widens has a width; one it looks through has none (and does not change the channel count).
    assert not (kind.width_key and kind.channel_wise)
    for layers, shape in kind.examples():
        layer = layers[0]
        if kind.width_key:
            assert kind.output_shape(layer, shape)[-1] == layer[kind.width_key]
        if kind.channel_wise and len(kind.output_shape(layer, shape)) > 1:
            assert kind.output_shape(layer, shape)[-1] == shape[-1]
        if kind.channel_wise and not kind.num_params(layer, shape):
            assert kind.select_channels(layer, [], np.array([0, -1])) == []


def test_a_user_kind_claims_keras_layers_before_the_built_in_ones(scale_kind):
    class _Relu6(LayerKind):
        name = "test_relu6"

        def to_keras(self, layer, shape, name):
            return keras.layers.ReLU(max_value=6.0, name=name)

        def from_keras(self, layer):
            return Layer.of("test_relu6") if isinstance(layer, keras.layers.ReLU) else None

    register_kind(_Relu6)
    try:
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), keras.layers.ReLU(max_value=6.0)])
        assert Architecture.from_keras_model(model).layers[-1] == Layer.of("test_relu6")
    finally:
        kinds.KINDS.unregister("test_relu6")


class _Scale(LayerKind):
    """A user's kind: multiplies by a constant."""

    name = "test_scale"
    numeric = ("factor",)

    def to_keras(self, layer, shape, name):
        return keras.layers.Rescaling(float(layer["factor"]), name=name)

    def examples(self):
        return [([Layer.of("test_scale", factor=2.0)], (3,))]


@pytest.fixture
def scale_kind():
    register_kind(_Scale)
    yield
    kinds.KINDS.unregister("test_scale")


def test_a_registered_kind_builds_counts_and_is_compared(scale_kind):
    arch = Architecture([Layer.of("dense", units=4), Layer.of("test_scale", factor=2.0)])
    model = arch.build((3,))
    x = np.ones((1, 3), "float32")
    np.testing.assert_allclose(model(x), 2.0 * model.layers[1](x))
    assert arch.num_params((3,)) == model.count_params() and "test_scale" in kinds.names()
    assert layer_cost(Layer.of("test_scale", factor=2.0), Layer.of("test_scale", factor=4.0)) == pytest.approx(0.5)


def test_register_kind_refuses_what_is_not_a_kind_and_a_taken_name(scale_kind):
    with pytest.raises(TypeError, match="LayerKind subclass"):
        register_kind(_Scale())
    with pytest.raises(ValueError, match="non-empty string"):
        register_kind(type("Nameless", (_Scale,), {"name": ""}))
    with pytest.raises(ValueError, match="'dense' is already registered"):
        register_kind(type("MyDense", (_Scale,), {"name": "dense"}))


def test_an_unknown_kind_names_the_known_ones_and_how_to_add_one():
    with pytest.raises(ValueError, match=r"Unknown layer kind 'nope'.*'cell'.*register_kind"):
        kinds.get("nope")
