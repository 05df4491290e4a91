"""The one-shot strategy contract: every strategy registered in `keras_nas.oneshot.STRATEGIES` passes these.

The parametrisation reads the registry when the tests are collected, so a
strategy added with `register_strategy` is covered the moment it is
registered. Each strategy is made by `get_strategy` with the smallest
settings its constructor accepts among `SMALL` (the others keep their
defaults), configured as the estimators configure it, and searched for one
epoch on tiny synthetic data: 32 images of 8x8x1 in 2 classes, and 32 vectors
of 6 features with a regression target. The contract:

- `search` returns the strategy and sets `history_` (metric name to one
  finite float per epoch searched) and `score_` (None or a finite float); on
  vectors a strategy either searches or refuses with a `ValueError`;
- `derive()` returns an `Architecture` that round-trips through JSON and
  builds, with the configured head, a plain Keras model: no layer of it is a
  class of `keras_nas.oneshot` (the supernet's code), its parameter count and
  output shape are the ones the architecture predicts;
- that model trains one step with the strategy's `optimizer`, changing its
  weights and giving a finite loss, and a `.keras` save and load (in the same
  process) gives the same predictions within 1e-5;
- `describe()` is JSON-serialisable (no NaN either) before and after the
  search, and names the strategy by the name it is registered under.
"""

import inspect
import json
import math

import keras
import numpy as np
import pytest

from keras_nas.architecture import Architecture, Head
from keras_nas.oneshot import STRATEGIES, get_strategy

# The smallest search, in the settings' names the built-in strategies use (SupernetStrategy's, ENASStrategy's).
SMALL = dict(
    channels=4,
    num_cells=1,
    nodes=2,
    num_layers=2,
    derive_channels=None,
    search_batch_size=None,
    train_batch_size=None,
    search_epochs=1,
    controller_steps=2,
    derive_samples=2,
)
VARIANTS = {
    "images": ((8, 8, 1), Head("classification", 2)),
    "vectors": ((6,), Head("regression", 1)),
}
CASES = [(name, variant) for name in sorted(STRATEGIES) for variant in VARIANTS]


def _small(name):
    accepted = inspect.signature(STRATEGIES[name].__init__).parameters
    return {key: value for key, value in SMALL.items() if key in accepted}


def _data(variant):
    shape, head = VARIANTS[variant]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, *shape)).astype("float32")
    y = rng.integers(0, head.units, 32) if head.task == "classification" else rng.normal(size=32).astype("float32")
    return x, y


def _configured(name, variant):
    shape, head = VARIANTS[variant]
    return get_strategy(name, **_small(name)).configure(shape, head, epochs=1, batch_size=16, seed=0)


@pytest.fixture(scope="module", params=CASES, ids=[f"{name}-{variant}" for name, variant in CASES])
def searched(request):
    """(name, variant, strategy after one epoch's search, its derived architecture), or a refusal."""
    name, variant = request.param
    x, y = _data(variant)
    keras.backend.clear_session()
    strategy = _configured(name, variant)
    try:
        returned = strategy.search(x[:24], y[:24], x[24:], y[24:])
    except ValueError as error:
        if variant == "images":
            raise
        return name, variant, error, None  # refused, with a message: the strategy does not take vectors
    assert returned is strategy
    return name, variant, strategy, strategy.derive()


def _searched_or_refused(searched):
    name, variant, strategy, architecture = searched
    if architecture is None:
        assert str(strategy), f"{name} refused {variant} without saying why"
        pytest.skip(f"{name} refuses {variant}: {strategy}")
    return name, variant, strategy, architecture


def _build(strategy, architecture):
    model = architecture.build(strategy.input_shape, head=strategy.head)
    model.compile(optimizer=strategy.optimizer(1), loss=strategy.head.loss, metrics=strategy.head.metrics)
    return model


def test_search_records_a_history_and_a_score(searched):
    strategy = _searched_or_refused(searched)[2]
    history = strategy.history_
    assert isinstance(history, dict) and history, "search() set no history_"
    for metric, values in history.items():
        assert isinstance(metric, str) and isinstance(values, list) and len(values) >= 1, (metric, values)
        assert all(isinstance(v, float) for v in values), (metric, values)
    assert any(all(math.isfinite(v) for v in values) for values in history.values())
    score = getattr(strategy, "score_", None)
    assert score is None or (isinstance(score, float) and math.isfinite(score)), score


def test_derived_architecture_builds_a_plain_keras_model(searched):
    name, _, strategy, architecture = _searched_or_refused(searched)
    assert isinstance(architecture, Architecture) and len(architecture.layers) > 0
    assert Architecture.from_json(architecture.to_json()) == architecture
    model = architecture.build(strategy.input_shape, head=strategy.head)
    classes = {type(layer) for layer in model._flatten_layers()}  # nested models' layers too
    supernet = sorted(
        f"{cls.__module__}.{cls.__name__}" for cls in classes if cls.__module__.startswith("keras_nas.oneshot")
    )
    assert not supernet, f"{name} derived a network with supernet layers: {supernet}"
    assert model.count_params() == architecture.num_params(strategy.input_shape, strategy.head)
    assert tuple(model.output.shape[1:]) == (strategy.head.units,)


def test_derived_model_trains_and_survives_a_keras_save(searched, tmp_path):
    name, variant, strategy, architecture = _searched_or_refused(searched)
    x, y = _data(variant)
    model = _build(strategy, architecture)
    before = [np.array(w) for w in model.trainable_weights]
    loss = model.train_on_batch(x[:16], y[:16])
    loss = float(np.ravel(loss)[0])
    assert math.isfinite(loss)
    assert any(not np.array_equal(b, np.array(w)) for b, w in zip(before, model.trainable_weights, strict=True))

    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    expected = np.asarray(model(x, training=False))
    assert np.isfinite(expected).all()
    np.testing.assert_allclose(np.asarray(loaded(x, training=False)), expected, rtol=0, atol=1e-5)


def test_describe_is_json_and_names_the_registered_strategy(searched):
    name, variant = searched[:2]
    fresh = _configured(name, variant)
    described = [fresh.describe()]
    if searched[3] is not None:
        described.append(searched[2].describe())
    for description in described:
        assert isinstance(description, dict)
        text = json.dumps(description, allow_nan=False)
        assert json.loads(text)["strategy"] == name == type(fresh).name
