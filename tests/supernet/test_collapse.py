"""The collapse guard: stops a search whose normal cell turns into skip connections."""
import keras
import numpy as np
import pytest

from keras_nas.oneshot import CollapseGuard, bilevel_dataset

from keras_nas.oneshot.darts import DARTSSearchModel

OPS = ("none", "skip_connect", "dense")


def _alphas(model, op):
    alphas = np.zeros(model.alphas_normal.shape, "float32")
    alphas[:, OPS.index(op)] = 5.0
    return alphas


@pytest.fixture(scope="module")
def tabular():
    # Tabular supernets have normal cells only, and are the cheapest to build.
    return DARTSSearchModel((6,), 3, channels=4, num_cells=1, nodes=2, primitives=OPS, seed=0)


def test_guard_stops_at_too_many_skips_and_restores_the_last_good_alphas(tabular):
    guard = CollapseGuard(max_skip_connects=2)
    guard.set_model(tabular)
    guard.on_train_begin()
    tabular.stop_training = False
    tabular.alphas_normal.assign(_alphas(tabular, "dense"))
    guard.on_epoch_end(0)
    assert not tabular.stop_training and tabular.collapse_epoch is None
    tabular.alphas_normal.assign(_alphas(tabular, "skip_connect"))  # all four kept edges skip
    guard.on_epoch_end(1)
    assert tabular.stop_training and tabular.collapse_epoch == 1
    np.testing.assert_array_equal(np.array(tabular.alphas_normal), _alphas(tabular, "dense"))
    tabular.alphas_normal.assign(_alphas(tabular, "skip_connect"))
    loose = CollapseGuard(max_skip_connects=4)
    loose.set_model(tabular)
    assert guard.collapsed() and not loose.collapsed()  # the limit is "more than max_skip_connects"
    guard.on_train_begin()
    with pytest.warns(UserWarning, match="nothing earlier to restore"):
        guard.on_epoch_end(0)  # collapsed in the first epoch: α kept
    np.testing.assert_array_equal(np.array(tabular.alphas_normal), _alphas(tabular, "skip_connect"))


def test_fit_guards_by_default(tabular):
    tabular.alphas_normal.assign(_alphas(tabular, "skip_connect"))
    tabular.compile(arch_optimizer=keras.optimizers.Adam(0.0), run_eagerly=True)  # α stay collapsed
    rng = np.random.default_rng(0)
    data = (rng.normal(size=(8, 6)).astype("float32"), rng.integers(0, 3, 8))
    with pytest.warns(UserWarning, match="collapsed"):
        history = tabular.fit(bilevel_dataset(data, data, batch_size=8), epochs=3, verbose=0)
    assert len(history.history["loss"]) == 1 and tabular.collapse_epoch == 0
    assert len(tabular.alpha_history) == 1
