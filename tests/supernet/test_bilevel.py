import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_nas.architecture.cells import PRIMITIVES

from keras_nas.oneshot import bilevel_dataset

from keras_nas.oneshot.darts import DARTSSearchModel

OPS = ("none", "skip_connect", "sep_conv_3x3")


def _data(n, shape=(8, 8, 1), seed=0, dtype="float32"):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, *shape)).astype(dtype), rng.integers(0, 3, n).astype("int32")


def _tiny(order=1, shape=(8, 8, 1), primitives=OPS, nodes=1, num_cells=3, **compile_args):
    # Three cells: a normal one and two reductions (the second after a reduction), one node each.
    model = DARTSSearchModel(shape, 3, channels=4, num_cells=num_cells, nodes=nodes, primitives=primitives, seed=0)
    model.compile(order=order, decay_steps=10, **compile_args)
    return model


def _state(model):
    return model.variables + model.optimizer.variables + model.arch_optimizer.variables


def _changed(model, before):
    return {id(v) for v, old in zip(model.variables, before) if not np.array_equal(np.array(v), old)}


def _step_from(model, data):
    """Runs one train step and returns the variable values after it, then restores every variable."""
    saved = [np.array(v) for v in _state(model)]
    model.train_step(data)
    after = {id(v): np.array(v) for v in model.variables}
    for variable, value in zip(_state(model), saved):
        variable.assign(value)
    return after


@pytest.fixture(scope="module")
def tiny():
    # Shared by the tests below, which compare states before and after a step rather than with a fresh model.
    return _tiny()


def test_alphas_live_apart_from_weights(tiny):
    model = tiny
    assert [v.name for v in model.arch_variables] == ["alphas_normal", "alphas_reduce"]
    assert model.alphas_normal.shape == (2, len(OPS)) and model.alphas_normal.dtype == "float32"
    arch = {id(v) for v in model.arch_variables}
    weights = {id(v) for v in model.weight_variables}
    assert not arch & weights and arch | weights == {id(v) for v in model.trainable_variables}
    assert len(model.optimizer.variables) > 2 and model.arch_optimizer.built  # both built before fit


def test_arch_step_moves_only_alphas(tiny):
    model = tiny
    train, val = _data(8, seed=1), _data(8, seed=2)
    before = [np.array(v) for v in model.variables]
    model.arch_step(train, val)
    assert _changed(model, before) == {id(v) for v in model.arch_variables}  # BN statistics included


def test_weight_step_moves_only_weights(tiny):
    model = tiny
    before = [np.array(v) for v in model.variables]
    model.weight_step(*_data(8, seed=1))
    changed = _changed(model, before)
    assert not changed & {id(v) for v in model.arch_variables}
    assert {id(v) for v in model.weight_variables} <= changed


def test_alphas_learn_only_from_validation_batches(tiny):
    model = tiny
    val = _data(8, seed=3)
    first = _step_from(model, (_data(8, seed=1), val))
    second = _step_from(model, (_data(8, seed=2), val))
    for alpha in model.arch_variables:
        np.testing.assert_array_equal(first[id(alpha)], second[id(alpha)])
    assert any(not np.array_equal(first[id(w)], second[id(w)]) for w in model.weight_variables)


def test_weights_learn_only_from_training_batches():
    # With a zero α learning rate the validation batch can reach the weights through nothing else.
    model = _tiny(order=1, arch_optimizer=keras.optimizers.Adam(0.0))
    train = _data(8, seed=1)
    first = _step_from(model, (train, _data(8, seed=2)))
    second = _step_from(model, (train, _data(8, seed=3)))
    for variable in model.trainable_variables:
        np.testing.assert_array_equal(first[id(variable)], second[id(variable)])


def test_compiled_second_order_fit_records_alphas_without_gradient_warnings():
    # Tabular: the cheapest supernet to trace (first order on images: test_strategy.py).
    model = DARTSSearchModel((6,), 3, channels=4, num_cells=1, nodes=1, primitives=("none", "skip_connect", "dense"))
    model.compile(order=2, decay_steps=4)
    dataset = bilevel_dataset(_data(16, (6,), seed=1), _data(8, (6,), seed=2), batch_size=8, seed=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(dataset, epochs=1, verbose=0)
    assert not [w for w in caught if "Gradients do not exist" in str(w.message)]
    assert np.isfinite(history.history["loss"][0]) and np.isfinite(history.history["arch_loss"][0])
    assert len(model.alpha_history) == 1
    np.testing.assert_array_equal(model.alpha_history[0]["alphas_normal"], np.array(model.alphas_normal))


def test_every_darts_op_and_tabular_regression_models_train():
    model = _tiny(primitives=PRIMITIVES, num_cells=1)  # a reduction cell: every op strided (unstrided: test_ops.py)
    assert tuple(model(_data(2)[0], training=False).shape) == (2, 3)
    tabular = DARTSSearchModel((6,), 2, channels=4, num_cells=2, nodes=2, seed=0, task="regression")
    tabular.compile()
    assert tabular.alphas_reduce is None and tabular.genotype().reduce == ()
    (x, _), (x_val, _) = _data(8, (6,), seed=1), _data(8, (6,), seed=2)
    logs = tabular.train_step(((x, x[:, :2]), (x_val, x_val[:, :2])))  # a linear head and squared error
    assert "mean_absolute_error" in logs and tabular.head.activation is keras.activations.linear


def test_genotype_keeps_two_distinct_inputs_per_node():
    model = _tiny(nodes=2)
    model.alphas_normal.assign(np.random.default_rng(0).normal(size=model.alphas_normal.shape))
    genotype = model.genotype()
    assert genotype.normal_concat == genotype.reduce_concat == (2, 3)
    for gene in (genotype.normal, genotype.reduce):
        assert len(gene) == 4
        for node in (2, 3):
            pairs = gene[2 * (node - 2) : 2 * (node - 1)]
            assert len({j for _, j in pairs}) == 2
            assert all(op in OPS and op != "none" and 0 <= j < node for op, j in pairs)


def test_compile_and_fit_reject_bad_arguments():
    model = DARTSSearchModel((8, 8, 1), 3, channels=2, num_cells=1, nodes=1, primitives=("none", "skip_connect"))
    with pytest.raises(ValueError, match="order"):
        model.compile(order=3)
    model.compile()
    with pytest.raises(TypeError, match="bilevel_dataset"):
        model.fit(*_data(4), epochs=1, verbose=0)


@pytest.fixture
def float64():
    # The default dtype policy is cached from floatx on first use, so set both.
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    yield
    keras.config.set_floatx("float32")
    keras.config.set_dtype_policy("float32")


def test_second_order_gradient_matches_finite_differences(float64):
    """The unrolled α gradient against central differences of L_val(w - ξ(∇w L_train(w, α) + wd·w), α).

    ReLU makes ∇w L_train, hence that loss, jump wherever a pre-activation changes sign, so a
    difference that straddles a kink is meaningless: the weights, data and directions are fixed
    (seeded numpy), and checked to stay clear of kinks.
    """
    xi, wd, h = 0.1, 3e-4, 1e-4
    model = DARTSSearchModel(
        (6, 6, 1), 3, channels=2, num_cells=3, nodes=1, primitives=("none", "avg_pool_3x3", "sep_conv_3x3"), seed=0
    )
    rng = np.random.default_rng(2)
    for variable in model.weight_variables:
        variable.assign(rng.normal(size=variable.shape) / np.sqrt(max(np.prod(variable.shape[:-1]), 1)))
    model.compile(optimizer=keras.optimizers.SGD(xi), order=2, weight_decay=wd)
    model.hessian_radius = 1e-5  # DARTS's 1e-2 is coarse for a model this small; float64 allows a finer difference
    train, val = _data(8, (6, 6, 1), seed=1, dtype="float64"), _data(8, (6, 6, 1), seed=2, dtype="float64")
    weights = [tf.convert_to_tensor(w) for w in model.weight_variables]
    arch_ids = [id(a) for a in model.arch_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]
    loss_fn = keras.losses.SparseCategoricalCrossentropy()

    def loss(w, alphas, x, y):
        values = dict(zip([id(v) for v in model.weight_variables], w)) | dict(zip(arch_ids, alphas))
        trainable = [values[id(v)] for v in model.trainable_variables]
        y_pred, _ = model.stateless_call(trainable, non_trainable, x, training=True)
        return loss_fn(y, y_pred)

    def unrolled_val_loss(alphas):
        with tf.GradientTape() as tape:
            tape.watch(weights)
            train_loss = loss(weights, alphas, *train)
        grads = tape.gradient(train_loss, weights)
        return float(loss([w - xi * (g + wd * w) for w, g in zip(weights, grads)], alphas, *val))

    second, _ = model.arch_gradients(train, val)
    model.order = 1
    first, _ = model.arch_gradients(train, val)
    alphas = [np.array(a) for a in model.arch_variables]
    for _ in range(3):
        direction = [rng.normal(size=a.shape).astype("float32") for a in alphas]
        plus = unrolled_val_loss([a + h * d for a, d in zip(alphas, direction)])
        minus = unrolled_val_loss([a - h * d for a, d in zip(alphas, direction)])
        numeric = (plus - minus) / (2 * h)
        analytic, first_order = (sum(float(np.sum(np.array(g) * d)) for g, d in zip(grads, direction))
                                 for grads in (second, first))
        assert abs(analytic - numeric) <= 0.02 * abs(numeric), (analytic, numeric)
        assert abs(first_order - numeric) > 0.1 * abs(numeric)  # the check tells first from second order


def test_a_first_order_fit_traces_the_supernet_once():
    # The α step and the weight step share one traced pass; with two passes, `call` would be traced twice.
    calls = []

    class Counted(DARTSSearchModel):
        def call(self, inputs, training=None):
            calls.append(training)  # Python runs only while TensorFlow traces
            return super().call(inputs, training=training)

    model = Counted((8, 8, 1), 3, channels=4, num_cells=3, nodes=1, primitives=OPS, seed=0)
    model.compile(order=1, decay_steps=4)
    calls.clear()
    model.fit(bilevel_dataset(_data(16, seed=1), _data(16, seed=2), batch_size=8), epochs=2, verbose=0)
    assert calls == [True]
