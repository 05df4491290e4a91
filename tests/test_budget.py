"""`TimeBudget`: the one clock behind every time_budget."""
import keras
import numpy as np
import pytest

from keras_nas.utils.budget import TimeBudget


def test_no_limit_is_never_spent_and_zero_is_spent_at_once():
    unlimited, spent = TimeBudget(None), TimeBudget(0)
    assert not unlimited.spent() and unlimited.remaining() is None
    assert spent.spent() and spent.remaining() <= 0 and spent.elapsed() >= 0


@pytest.mark.parametrize("seconds", [-1, float("nan"), float("inf"), "10", [3]])
def test_a_bad_budget_is_refused_naming_what_was_received(seconds):
    with pytest.raises(ValueError, match="time budget .* received"):
        TimeBudget(seconds)


@pytest.mark.parametrize("seconds,epochs", [(0, 1), (None, 3), (3600, 3)])
def test_the_callback_stops_training_at_the_end_of_the_epoch_the_budget_ran_out(seconds, epochs):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    x = np.zeros((8, 2), "float32")
    history = model.fit(x, x[:, :1], epochs=3, batch_size=4, verbose=0, callbacks=[TimeBudget(seconds).callback()])
    assert len(history.history["loss"]) == epochs


def test_a_reserve_is_spent_for_the_search_but_not_for_what_it_was_kept_for():
    budget = TimeBudget(100)
    budget.reserved = 99.5
    assert 0 < budget.remaining() <= 0.5 and not budget.spent()
    budget.reserved = 100.0
    assert budget.spent()
    final = budget.final()
    assert not final.spent() and final.deadline == budget.deadline and 99 < final.remaining() <= 100


class _SlowEpochs(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        import time

        time.sleep(0.3)


def test_the_ahead_callback_stops_before_an_epoch_that_would_overrun():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    x = np.zeros((8, 2), "float32")
    # every epoch takes >= 0.3 s; with 1 s left another epoch fits after the first two at most
    history = model.fit(x, x[:, :1], epochs=20, batch_size=4, verbose=0,
                        callbacks=[_SlowEpochs(), TimeBudget(1.0).callback(ahead=True)])
    assert 1 <= len(history.history["loss"]) <= 3
    history = model.fit(x, x[:, :1], epochs=3, batch_size=4, verbose=0, callbacks=[TimeBudget(60).callback(ahead=True)])
    assert len(history.history["loss"]) == 3
