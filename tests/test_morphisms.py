"""Every morphism keeps the network's function before any training (dense and conv, 1-D and 2-D)."""
import numpy as np
import pytest

from keras_nas.architecture import Architecture, Head, Layer, Skip
from keras_nas.search.morphism.moves import Move, apply, candidates, inherit, model_weights

DENSE = ((12,), Architecture(
    [Layer.of("dense", units=16, activation="relu"), Layer.of("batch_norm"), Layer.of("dropout", rate=0.2),
     Layer.of("dense", units=8, activation="relu"), Layer.of("dense", units=8)]))
CONV1D = ((20, 3), Architecture(
    [Layer.of("conv", filters=8, kernel_size=5, activation="relu"), Layer.of("pool"),
     Layer.of("conv", filters=6, kernel_size=3), Layer.of("batch_norm"), Layer.of("activation", activation="relu"),
     Layer.of("conv", filters=4, separable=True), Layer.of("flatten"), Layer.of("dense", units=10)]))
CONV2D = ((9, 9, 2), Architecture(
    [Layer.of("conv", filters=8, activation="relu"), Layer.of("pool", pool="avg"),
     Layer.of("conv", filters=8, activation="relu"), Layer.of("batch_norm"),
     Layer.of("conv", filters=6, separable=True, activation="relu"), Layer.of("global_pool")],
    [Skip(0, 2, "add")]))
CASES = {"dense": DENSE, "conv1d": CONV1D, "conv2d": CONV2D}
HEADS = {"dense": Head("classification", 3), "conv1d": Head("regression", 2),
         "conv2d": Head("classification", 4, reduce="avg")}


def _randomised(model, rng):
    for layer in model.layers:
        layer.set_weights([rng.normal(0, 0.5, size=w.shape).astype("float32") if "variance" not in w.name
                           else rng.uniform(0.5, 2.0, size=w.shape).astype("float32") for w in layer.weights])
    return model


def _check(case, moves, seed=0):
    shape, parent = CASES[case]
    head = HEADS[case]
    rng = np.random.default_rng(seed)
    parent_model = _randomised(parent.build(shape, head=head), rng)
    child = parent
    for move in moves:
        child = apply(child, move, shape)
    child_model = child.build(shape, head=head)
    assert inherit(parent_model, parent, moves, child_model, shape, head, seed=seed) == child
    x = rng.normal(size=(16, *shape)).astype("float32")
    difference = np.abs(child_model.predict(x, verbose=0) - parent_model.predict(x, verbose=0)).max()
    assert difference <= 1e-4, f"{case} {moves}: max |difference| {difference}"
    return child, child_model


@pytest.mark.parametrize("case", CASES)
def test_deeper_at_every_node(case):
    _, parent = CASES[case]
    for node in range(1, len(parent) + 1):
        child, _ = _check(case, [Move("deeper", node=node)])
        assert len(child) == len(parent) + 1


@pytest.mark.parametrize("case", CASES)
def test_wider_every_weighted_layer(case):
    _, parent = CASES[case]
    widened = 0
    for index, layer in enumerate(parent.layers):
        if layer.kind in ("dense", "conv"):
            width = layer["units" if layer.kind == "dense" else "filters"]
            try:
                apply(parent, Move("wider", layer=index, width=width + 5), CASES[case][0])
            except ValueError:
                continue  # channels flow into a skip: not a function-preserving widening
            _check(case, [Move("wider", layer=index, width=width + 5)])
            widened += 1
    assert widened >= 2


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("kind", ["add_skip", "concat_skip"])
def test_skips(case, kind):
    shape, parent = CASES[case]
    moves = [m for m in candidates(parent, shape) if m.kind == kind]
    assert moves
    for move in moves:
        child, _ = _check(case, [move])
        assert len(child.skips) == len(parent.skips) + 1


@pytest.mark.parametrize("case", CASES)
def test_chains_of_moves(case):
    shape, parent = CASES[case]
    rng = np.random.default_rng(1)
    architecture, moves = parent, []
    for _ in range(4):
        options = candidates(architecture, shape)
        move = options[int(rng.integers(len(options)))]
        moves.append(move)
        architecture = apply(architecture, move, shape)
    _check(case, moves, seed=3)


def _three_blocks():
    return Architecture([Layer.of("conv", filters=8, activation="relu"), Layer.of("pool")] * 3 + [Layer.of("global_pool")])


def test_concat_into_a_node_that_feeds_a_skip_is_refused():
    # The widened node would also feed the skip's projection, whose input width is the parent's.
    shape, parent = (8, 8, 1), _three_blocks()
    with_skip = apply(parent, Move("add_skip", source=3, target=5), shape)
    with pytest.raises(ValueError, match="concat_skip cannot follow"):
        apply(with_skip, Move("concat_skip", source=0, target=3), shape)
    assert Move("concat_skip", source=0, target=3) not in candidates(with_skip, shape)


def test_every_skip_move_from_a_network_with_skips_keeps_its_function():
    shape = (8, 8, 1)
    parent = Architecture(_three_blocks().layers, [Skip(3, 5, "add")])
    head = Head("classification", 10)
    rng = np.random.default_rng(0)
    parent_model = _randomised(parent.build(shape, head=head), rng)
    x = rng.normal(size=(8, *shape)).astype("float32")
    expected = parent_model.predict(x, verbose=0)
    moves = [m for m in candidates(parent, shape) if m.kind.endswith("skip")]
    assert len(moves) >= 10
    for move in moves:
        child = apply(parent, move, shape)
        child_model = child.build(shape, head=head)
        inherit(parent_model, parent, [move], child_model, shape, head, seed=0)
        assert np.abs(child_model.predict(x, verbose=0) - expected).max() <= 1e-4, move


def test_widened_copies_are_not_symmetric():
    shape, parent = DENSE
    _, child_model = _check("dense", [Move("wider", layer=3, width=16)])
    rows = model_weights(child_model)["dense_4"][0]
    assert len({tuple(np.round(r, 6)) for r in rows}) == 16  # the copies' outgoing weights differ


def test_invalid_moves_are_refused():
    shape, parent = CONV2D
    with pytest.raises(ValueError, match="wider must grow"):
        apply(parent, Move("wider", layer=0, width=4), shape)
    with pytest.raises(ValueError, match="already joined"):
        apply(parent, Move("add_skip", source=0, target=2), shape)
    with pytest.raises(ValueError, match="dense or conv"):
        apply(parent, Move("wider", layer=1, width=20), shape)
    with pytest.raises(ValueError, match="Unknown morphism"):
        Move("shallower")


def test_deeper_keeps_relu_only_on_non_negative_inputs():
    shape, parent = CONV1D
    after_relu = apply(parent, Move("deeper", node=1), shape).layers[1]
    after_plain_conv = apply(parent, Move("deeper", node=3), shape).layers[3]
    assert after_relu.get("activation") == "relu" and after_plain_conv.get("activation") is None


def test_moves_round_trip_as_dicts():
    for move in (Move("deeper", node=2), Move("wider", layer=1, width=64), Move("concat_skip", source=0, target=3)):
        assert Move.from_dict(move.to_dict()) == move
