"""The search-space contract: every space registered in `keras_nas.spaces.SPACES` passes these.

The parametrisation reads the registry when the tests are collected, so a space
added to `SPACES` is covered the moment it is registered. Each space is tried on
every input shape it `accepts` among a vector, a sequence and an image, at
several hyperparameter draws:

- the draws follow the space's own hyperparameters, as keras-tuner samples them
  (build once to declare them, sample every active one with a seeded RNG,
  repeat while new conditional ones appear); a space that grows its networks
  (one with `values_for`, as `MorphismOracle` requires) is also drawn at
  architectures a few random morphisms away from its seed, as that oracle
  proposes them (and such a space holds its own seed);
- `space.architecture(hp)` describes exactly the model `space.build(hp)` builds:
  read back with `Architecture.from_keras_model`, the model is that body
  followed by the head alone, with the parameter count and output shape the
  architecture predicts;
- `architecture(hp)` is deterministic (the same values give the same
  architecture, from the same space and from a freshly configured one) and
  reads the values without changing them;
- `configure` keeps `get_config` (the config identifies a resumed search) and
  the configured space still accepts the shape.
"""

import keras_tuner
import numpy as np
import pytest

from keras_nas.architecture import Architecture, Head
from keras_nas.search.morphism import moves
from keras_nas.spaces import SPACES

SHAPES = [(12,), (16, 2), (8, 8, 1)]
HEADS = {1: Head("classification", 3), 2: Head("regression", 2), 3: Head("classification", 4)}
DRAWS = 4

CASES = [
    pytest.param(name, shape, id=f"{name}-{'x'.join(map(str, shape))}")
    for name in sorted(SPACES)
    for shape in SHAPES
    if SPACES[name]().accepts(shape)
]
# Spaces that grow their networks from a seed (what MorphismOracle grows: `values_for`, `seed_architecture`).
GROWING = [case for case in CASES if callable(getattr(SPACES[case.values[0]], "values_for", None))]


def _space(name, shape):
    return SPACES[name]().configure(shape, HEADS[len(shape)])


def _active_values(hp: keras_tuner.HyperParameters, values: dict) -> dict:
    """The values of `hp.space` that are active under `values` (what a trial's hyperparameters hold)."""
    fresh = keras_tuner.HyperParameters()
    for h in hp.space:
        fresh.merge([h])
        if fresh.is_active(h) and h.name in values:
            fresh.values[h.name] = values[h.name]
    return dict(fresh.values)


def _grown(space, rng: np.random.Generator) -> dict:
    """The values of an architecture up to three random morphisms from a growing space's seed."""
    architecture = space.seed_architecture()
    for _ in range(int(rng.integers(0, 4))):
        options = moves.candidates(architecture, space.input_shape, getattr(space, "max_width", 1024))
        rng.shuffle(options)
        for move in options:
            child = moves.apply(architecture, move, space.input_shape)
            if space.values_for(child) is not None:
                architecture = child
                break
    return space.values_for(architecture)


def _draw(space, seed: int) -> keras_tuner.HyperParameters:
    """Hyperparameters with random values for every hyperparameter the space declares, conditional ones too."""
    rng = np.random.default_rng(seed)
    values = _grown(space, rng) if callable(getattr(space, "values_for", None)) else {}
    for _ in range(10):
        hp = keras_tuner.HyperParameters()
        hp.values.update(values)
        space.build(hp)  # declares the hyperparameters active under `values`, as keras-tuner's tuner does
        new = {h.name: h.random_sample(int(rng.integers(1 << 30))) for h in hp.space if h.name not in values}
        new = {k: v for k, v in new.items() if k in _active_values(hp, {**values, **new})}
        if not new:
            break
        values.update(new)
    else:
        raise AssertionError(f"{type(space).__name__} keeps declaring new hyperparameters: {sorted(hp.values)}")
    declared = {h.name for h in hp.space}
    drawn = keras_tuner.HyperParameters.from_config(hp.get_config())
    # Values the space reads without declaring them (a growing space's architecture) are kept as they are.
    drawn.values = {**_active_values(hp, values), **{k: v for k, v in values.items() if k not in declared}}
    return drawn


def _copy(hp):
    copied = keras_tuner.HyperParameters.from_config(hp.get_config())
    copied.values = dict(hp.values)
    return copied


@pytest.mark.parametrize("name,shape", CASES)
def test_configure_keeps_the_config_and_the_shape(name, shape):
    space = SPACES[name]()
    configured = space.configure(shape, HEADS[len(shape)])
    assert type(configured) is type(space) and configured is not space
    assert configured.get_config() == space.get_config()
    assert configured.input_shape == shape and configured.head == HEADS[len(shape)]
    assert configured.accepts(shape)


@pytest.mark.parametrize("name,shape", GROWING)
def test_a_growing_space_holds_its_own_seed(name, shape):
    # Outside its own bounds, the seed has no values: every proposal of the oracle that grows it falls back.
    space = _space(name, shape)
    seed = space.seed_architecture()
    values = space.values_for(seed)
    assert values is not None, f"{seed.summary()} is outside the space's bounds"
    hp = keras_tuner.HyperParameters()
    hp.values.update(values)
    assert space.architecture(hp) == seed


@pytest.mark.parametrize("name,shape", CASES)
def test_architecture_is_exactly_what_build_builds(name, shape):
    space = _space(name, shape)
    seen = set()
    for seed in range(DRAWS):
        hp = _draw(space, seed)
        arch = space.architecture(_copy(hp))
        seen.add(arch)
        model = space.build(_copy(hp))
        assert model.optimizer is not None and model.loss == space.head.loss
        assert model.count_params() == arch.num_params(shape, space.head)
        assert tuple(model.output.shape[1:]) == (space.head.units,)
        assert tuple(model.input.shape[1:]) == shape

        read = Architecture.from_keras_model(model)
        head = Architecture.from_keras_model(Architecture([]).build(arch.output_shape(shape), head=space.head))
        assert read == Architecture([*arch.layers, *head.layers], arch.skips), (
            f"draw {seed}: {hp.values}\n built {read.summary()}\n described {arch.summary()} + {head.summary()}"
        )
    assert len(seen) > 1, f"{DRAWS} draws of {name} all gave {arch.summary()}: the draws do not reach the space"


@pytest.mark.parametrize("name,shape", CASES)
def test_architecture_is_deterministic_and_reads_values_without_changing_them(name, shape):
    space, other = _space(name, shape), _space(name, shape)
    for seed in range(DRAWS):
        hp = _draw(space, seed)
        before = dict(hp.values)
        first = space.architecture(hp)
        assert hp.values == before, "architecture(hp) changed drawn values"
        assert space.architecture(_copy(hp)) == first
        assert other.architecture(_copy(hp)) == first
        assert Architecture.from_json(first.to_json()) == first
