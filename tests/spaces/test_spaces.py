import keras_tuner
import numpy as np
import pytest

from keras_nas.architecture import Architecture, Head, Layer
from keras_nas.spaces import ConvSpace, DenseSpace, MorphismSpace, SearchSpace, get_space


def _random_hps(space, seed):
    """Samples every active hyperparameter of a space, following conditions as a tuner would."""
    rng = np.random.default_rng(seed)
    hp = keras_tuner.HyperParameters()
    space.build(hp)  # registers the space with default values
    for _ in range(3):  # conditional hps appear once their parent takes a value
        values = {}
        for h in hp.space:
            if hp.is_active(h):
                values[h.name] = h.random_sample(int(rng.integers(1 << 30)))
        hp = keras_tuner.HyperParameters.from_config(hp.get_config())
        hp.values.update(values)
        space.architecture(hp)
    return hp


@pytest.mark.parametrize("space", [
    DenseSpace(input_shape=(12,), head=Head("classification", 3)),
    ConvSpace(input_shape=(8, 8, 1), head=Head("classification", 10)),
    ConvSpace(input_shape=(40, 1), head=Head("regression", 1)),
])
def test_architecture_describes_the_built_model(space):
    for seed in range(6):
        hp = _random_hps(space, seed)
        arch = space.architecture(hp)
        model = space.build(hp)
        assert model.count_params() == arch.num_params(space.input_shape, space.head)
        assert model.optimizer is not None and model.loss == space.head.loss
        from keras_nas.architecture import Architecture
        derived = Architecture.from_keras_model(model)
        assert derived.layers[: len(arch.layers)] == arch.layers
        assert derived.skips == arch.skips


def test_dense_space_hyperparameters_are_conditional():
    space = DenseSpace(max_layers=3, input_shape=(5,), head=Head("regression", 1))
    hp = keras_tuner.HyperParameters()
    hp.Fixed("num_layers", 1)
    arch = space.architecture(hp)
    assert sum(layer.kind == "dense" for layer in arch.layers) == 1
    assert "units_1" not in hp.values


def test_residual_dense_blocks_add_skips():
    hp = keras_tuner.HyperParameters()
    hp.Fixed("num_layers", 3)
    hp.Fixed("residual", True)
    arch = DenseSpace(max_layers=3).architecture(hp)
    assert len(arch.skips) == 2 and all(s.merge == "add" for s in arch.skips)


def test_conv_space_picks_kernel_sizes_by_rank():
    hp = keras_tuner.HyperParameters()
    ConvSpace(input_shape=(40, 1)).architecture(hp)
    assert hp.get("kernel_size") in (3, 5, 7) and hp._hps["kernel_size"][0].values == [3, 5, 7]
    hp = keras_tuner.HyperParameters()
    ConvSpace(input_shape=(8, 8, 1)).architecture(hp)
    assert hp._hps["kernel_size"][0].values == [3, 5]


def test_conv_space_stops_pooling_at_size_one():
    hp = keras_tuner.HyperParameters()
    hp.Fixed("num_blocks", 3)
    arch = ConvSpace(input_shape=(2, 2, 1), max_blocks=3).architecture(hp)
    assert sum(layer.kind == "pool" for layer in arch.layers) == 1


def test_pinned_optimizer_and_learning_rate():
    space = DenseSpace(optimizers="sgd", learning_rate=0.05, input_shape=(4,), head=Head("regression", 1))
    hp = keras_tuner.HyperParameters()
    model = space.build(hp)
    assert "optimizer" not in hp.values and "learning_rate" not in hp.values
    assert float(model.optimizer.learning_rate) == pytest.approx(0.05)


def test_build_needs_configuration():
    with pytest.raises(ValueError, match="needs `input_shape` and `head`"):
        DenseSpace().build(keras_tuner.HyperParameters())


def test_configure_returns_a_new_configured_space():
    space = DenseSpace(max_layers=2)
    configured = space.configure((7,), Head("classification", 2))
    assert space.input_shape is None and configured.input_shape == (7,)
    assert configured.max_layers == 2 and configured.build(keras_tuner.HyperParameters()).input_shape == (None, 7)
    with pytest.raises(ValueError, match="cannot build networks for inputs of shape"):
        ConvSpace().configure((7,), Head("classification", 2))


def test_get_space_auto_and_errors():
    assert isinstance(get_space("auto", (10,)), DenseSpace)
    assert isinstance(get_space("auto", (10, 1)), ConvSpace)
    assert isinstance(get_space("auto", (8, 8, 1)), ConvSpace)
    assert all(isinstance(get_space("auto", shape, grow=True), MorphismSpace) for shape in [(10,), (10, 1), (8, 8, 1)])
    with pytest.raises(ValueError, match="Unknown search_space 'transformer'"):
        get_space("transformer", (10,))
    with pytest.raises(ValueError, match="Unknown optimizer"):
        DenseSpace(optimizers=("lion",))


def test_spaces_work_as_keras_tuner_hypermodels(tmp_path, tabular_small):
    from keras_nas.search.tuner import NASTuner

    x, y = tabular_small
    space = DenseSpace(max_layers=2, input_shape=(x.shape[1],), head=Head("classification", 2))
    assert isinstance(space, keras_tuner.HyperModel) and isinstance(space, SearchSpace)
    oracle = keras_tuner.oracles.RandomSearchOracle(objective="val_accuracy", max_trials=2, seed=1)
    tuner = NASTuner(space, oracle, directory=tmp_path, project_name="p")
    tuner.search(x, y, validation_split=0.25, epochs=1, verbose=0)
    assert [t.status for t in tuner.oracle.trials.values()] == ["COMPLETED", "COMPLETED"]
    assert all(r.architecture.startswith("dense") for r in tuner.records.values())


def test_morphism_space_bounds_width_depth_and_parameters():
    from keras_nas import Architecture, Layer
    from keras_nas.search.morphism import moves

    three_blocks = Architecture([Layer.of("conv", filters=32, activation="relu"), Layer.of("pool")] * 3
                                + [Layer.of("global_pool")])
    space = MorphismSpace(three_blocks, max_layers=9, max_width=64, max_params=20_000).configure(
        (40, 1), Head("classification", 10))
    seed = space.seed_architecture()
    assert seed == three_blocks
    assert space.values_for(seed) is not None
    wide = moves.apply(seed, moves.Move("wider", layer=2, width=64), space.input_shape)
    assert space.values_for(wide) is not None  # 64 filters: inside every bound
    too_wide = wide.replace(layers=[*wide.layers[:2], wide.layers[2].replace(filters=128), *wide.layers[3:]])
    assert space.values_for(too_wide) is None
    too_deep = seed.replace(layers=[*seed.layers[:-1], Layer.of("conv", filters=8), Layer.of("conv", filters=8),
                                    Layer.of("conv", filters=8), seed.layers[-1]])
    assert space.values_for(too_deep) is None
    heavy = seed.replace(layers=[layer.replace(filters=64) if layer.kind == "conv" else layer for layer in seed.layers])
    assert heavy.num_params(space.input_shape, space.head) > 20_000 and space.values_for(heavy) is None
    assert MorphismSpace(max_params=None, max_width=64).configure((40, 1), space.head).values_for(heavy) is not None


def test_morphism_space_seed_is_auto_keras_cnn_with_batch_norm():
    seed = MorphismSpace().configure((40, 1), Head("classification", 10)).seed_architecture()
    assert [layer.kind for layer in seed.layers[:4]] == ["conv", "batch_norm", "activation", "pool"]
    assert seed.summary().count("conv64") == 3 and "drop0.25" in seed.summary()
    assert MorphismSpace().configure((12,), Head("classification", 3)).seed_architecture().summary().startswith("dense64")


@pytest.mark.parametrize(
    "options,shape,message",
    [
        ({}, (20_000,), r"1,284,354 parameters.*max_params=1000000"),
        ({"max_width": 32}, (8,), "max_width=32"),
        ({"max_layers": 1}, (8,), "max_layers=1"),
    ],
)
def test_a_morphism_space_whose_seed_is_out_of_bounds_is_refused_when_configured(options, shape, message):
    # Silently, every proposal would fall back to the seed: a search of one network.
    with pytest.raises(ValueError, match=message):
        MorphismSpace(**options).configure(shape, Head("classification", 2))


def test_morphism_seed_costs_about_a_hand_written_cnn_on_28x28_and_downsamples_larger_images():
    head = Head("classification", 10)
    seed = MorphismSpace().configure((28, 28, 1), head).seed_architecture()
    # the fixed baseline conv32-pool-conv64-pool-flatten-dense128 is 4.4 M multiply-adds per example
    hand_written = Architecture([Layer.of("conv", filters=32, activation="relu"), Layer.of("pool"),
                                 Layer.of("conv", filters=64, activation="relu"), Layer.of("pool"),
                                 Layer.of("flatten"), Layer.of("dense", units=128, activation="relu")])
    assert seed.flops((28, 28, 1), head) <= 1.5 * hand_written.flops((28, 28, 1), head)
    big = MorphismSpace().configure((128, 128, 3), head).seed_architecture()
    strided = [layer for layer in big.layers if layer.get("strides", 1) == 2]
    assert len(strided) == 2  # 128 -> 64 -> 32: 1024 positions, then the three blocks
    # per pixel, the larger input's seed costs less than the 28 x 28 one
    assert big.flops((128, 128, 3), head) / 128**2 <= seed.flops((28, 28, 1), head) / 28**2
