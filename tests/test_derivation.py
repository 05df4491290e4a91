import keras
import numpy as np
import pytest

from keras_nas.architecture import Architecture, Head, Layer, Skip
from keras_nas.architecture.reading import layer_from_keras


def test_round_trip_of_built_architecture():
    arch = Architecture(
        [Layer.of("conv", filters=8, kernel_size=3, activation="relu"), Layer.of("pool", pool="max"),
         Layer.of("conv", filters=8, kernel_size=3), Layer.of("batch_norm"), Layer.of("global_pool")],
        [Skip(2, 4, "add"), Skip(0, 3, "concat")],
    )
    derived = Architecture.from_keras_model(arch.build((8, 8, 1)))
    assert derived == arch


def test_head_is_part_of_a_derived_architecture():
    arch = Architecture([Layer.of("dense", units=8, activation="relu")])
    derived = Architecture.from_keras_model(arch.build((4,), head=Head("classification", 3)))
    assert derived.layers[:1] == arch.layers
    assert derived.layers[-1] == Layer.of("dense", units=3, activation="softmax")


def test_user_functional_model_with_residual_block():
    inputs = keras.Input((16,))
    x = keras.layers.Dense(32, activation="relu")(inputs)
    y = keras.layers.Dense(32, activation="relu")(x)
    y = keras.layers.Dense(32)(y)
    x = keras.layers.Add()([x, y])
    outputs = keras.layers.Dense(2, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    arch = Architecture.from_keras_model(model)
    assert [layer["units"] for layer in arch.layers] == [32, 32, 32, 2]
    # The shortcut has no projection, so it is read as one that adds unprojected (an `add` would rebuild a 1x1 one).
    assert arch.skips == (Skip(1, 3, "add_identity"),)
    rebuilt = arch.build((16,))
    assert rebuilt.count_params() == model.count_params() == arch.num_params((16,))
    rebuilt.set_weights(model.get_weights())
    x = np.random.default_rng(0).normal(size=(3, 16)).astype("float32")
    np.testing.assert_allclose(rebuilt(x), model(x), atol=1e-6)


def test_a_projected_shortcut_is_read_as_add_and_other_side_branches_are_refused():
    inputs = keras.Input((16,))
    x = keras.layers.Dense(8)(inputs)
    y = keras.layers.Dense(4)(x)
    projection = keras.layers.Dense(4, use_bias=False)(x)
    model = keras.Model(inputs, keras.layers.Add()([y, projection]))
    assert Architecture.from_keras_model(model).skips == (Skip(1, 2, "add"),)

    branch = keras.layers.Dense(4, activation="relu")(keras.layers.Dense(6)(x))  # two layers: no skip is that
    with pytest.raises(ValueError, match="cannot be described exactly"):
        Architecture.from_keras_model(keras.Model(inputs, keras.layers.Add()([y, branch])))


def test_an_add_identity_skip_needs_equal_widths():
    arch = Architecture([Layer.of("dense", units=4), Layer.of("dense", units=5)], [Skip(1, 2, "add_identity")])
    with pytest.raises(ValueError, match="needs equal widths"):
        arch.build((3,))


def test_sequential_model_and_unknown_layers_rebuild_the_same_network():
    model = keras.Sequential([
        keras.Input((10, 3)),
        keras.layers.LSTM(4, return_sequences=True),
        keras.layers.Conv1D(5, 3, padding="valid"),
        keras.layers.GlobalMaxPooling1D(),
        keras.layers.Dense(2),
    ])
    arch = Architecture.from_keras_model(model)
    assert [layer.kind for layer in arch.layers] == ["keras", "keras", "global_pool", "dense"]
    rebuilt = arch.build((10, 3))
    assert rebuilt.count_params() == model.count_params() == arch.num_params((10, 3))
    rebuilt.set_weights(model.get_weights())
    x = np.random.default_rng(0).normal(size=(3, 10, 3)).astype("float32")
    np.testing.assert_allclose(rebuilt.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


def test_defaults_are_canonical():
    assert Layer.of("conv", filters=4, kernel_size=3, strides=1) == Layer.of("conv", filters=4)
    assert Layer.of("pool", size=2, strides=2) == Layer.of("pool") != Layer.of("pool", strides=1)


def test_layer_from_keras_maps_known_layers():
    assert layer_from_keras(keras.layers.SeparableConv2D(4, 5, padding="same", strides=2)) == Layer.of(
        "conv", filters=4, kernel_size=5, strides=2, separable=True)
    assert layer_from_keras(keras.layers.AveragePooling1D(3, padding="same")) == Layer.of("pool", pool="avg", size=3)
    assert layer_from_keras(keras.layers.ReLU()) == Layer.of("activation", activation="relu")
    assert layer_from_keras(keras.layers.Dropout(0.3)) == Layer.of("dropout", rate=0.3)


@pytest.mark.parametrize("merge", [keras.layers.Average, keras.layers.Maximum, keras.layers.Multiply,
                                   keras.layers.Subtract])
def test_a_merge_that_no_skip_expresses_is_refused_not_read_as_add(merge):
    inputs = keras.Input((16,))
    x = keras.layers.Dense(32, activation="relu")(inputs)
    y = keras.layers.Dense(32)(x)
    outputs = keras.layers.Dense(2, activation="softmax")(merge(name="the_merge")([x, y]))
    with pytest.raises(ValueError, match=rf"merges branches with {merge.__name__} \(layer 'the_merge'\).*Add or "
                                         "Concatenate"):
        Architecture.from_keras_model(keras.Model(inputs, outputs))
