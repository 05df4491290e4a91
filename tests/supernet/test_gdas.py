"""GDAS: hard Gumbel samples with straight-through gradients, annealed temperature (the compiled
one-op-per-edge check runs end to end in test_strategy.py)."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_nas.oneshot.darts import GDASSearchModel, TemperatureSchedule, gumbel_hard_sample


def test_hard_sample_is_one_hot_with_gradients_and_fresh_every_call():
    logits = tf.constant(np.random.default_rng(0).normal(scale=0.1, size=(6, 4)), "float32")
    seed = keras.random.SeedGenerator(0)
    with tf.GradientTape() as tape:
        tape.watch(logits)
        hard, index = gumbel_hard_sample(logits, 10.0, seed)
        loss = tf.reduce_sum(hard * tf.constant(np.arange(24, dtype="float32").reshape(6, 4)))
    hard = np.asarray(hard)
    np.testing.assert_allclose(hard, np.eye(4)[np.asarray(index)], atol=1e-6)
    assert np.abs(np.asarray(tape.gradient(loss, logits))).sum() > 0  # straight-through: α learns
    assert not np.array_equal(np.asarray(gumbel_hard_sample(logits, 10.0, seed)[1]), np.asarray(index))
    peaked = tf.constant([[0.0, 0.0, 30.0]] * 8)
    np.testing.assert_array_equal(gumbel_hard_sample(peaked, 0.1, seed)[1], 2)


def test_temperature_anneals_linearly_from_10_to_0_1():
    schedule = TemperatureSchedule(5)
    np.testing.assert_allclose([schedule.temperature(e) for e in range(5)], [10, 7.525, 5.05, 2.575, 0.1])
    assert TemperatureSchedule(1).temperature(0) == 10.0


def test_gdas_model_steps_eagerly_and_checks_its_arguments():
    model = GDASSearchModel((6,), 3, channels=4, num_cells=1, nodes=2, primitives=("skip_connect", "dense"), seed=0)
    with pytest.raises(ValueError, match="first order only"):
        model.compile(order=2)
    model.compile(arch_optimizer=keras.optimizers.Adam(0.1))
    rng = np.random.default_rng(0)
    batch = (rng.normal(size=(8, 6)).astype("float32"), rng.integers(0, 3, 8))
    before = np.array(model.alphas_normal)
    model.train_step((batch, batch))
    assert not np.array_equal(before, np.array(model.alphas_normal))
    assert model.get_config()["temperature_range"] == [10.0, 0.1]
    with pytest.raises(ValueError, match="temperature_range"):
        GDASSearchModel((6,), 3, temperature_range=(0.1, 10.0))
