"""ENAS: spaces, shared weights, controller, REINFORCE, derivation and the strategy end to end."""
import math
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_nas import Architecture, Head, Layer, NASClassifier, NASRegressor
from keras_nas.architecture.cells import FactorizedReduce, SearchBatchNorm
from keras_nas.oneshot.enas import child
from keras_nas.oneshot import ENASStrategy, get_strategy, plot_rewards
from keras_nas.oneshot.enas import (
    ENASController,
    ENASSearch,
    MacroSpace,
    MicroSpace,
    SharedWeightEvaluator,
    make_space,
)
from tests.test_export import _in_fresh_process
from tests.supernet.conftest import Counting

CLASSES = Head("classification", 10)


def _digits(data):
    x, y = data
    return x / 16.0, y


def _layers(model):
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from _layers(layer)


def test_weight_steps_sample_a_new_child_every_step_and_run_only_its_ops(digits_small, monkeypatch):
    x, y = _digits(digits_small)
    original = child.build_op
    monkeypatch.setattr(child, "build_op", lambda *args, **kwargs: Counting(original(*args, **kwargs)))
    space = MacroSpace((8, 8, 1), num_layers=3, channels=4, ops=("conv_3x3", "max_pool_3x3", "avg_pool_3x3"))
    search = ENASSearch(space, CLASSES, seed=0, controller_units=16)
    search.fit(x[:96], y[:96], x[96:128], y[96:128], epochs=1, batch_size=12, controller_steps=2, seed=0)
    arcs = {tuple(int(v) for v in arc) for arc in search.step_arcs}
    assert len(search.step_arcs) == 8 and len(arcs) > 1  # Python-level sampling would freeze one arc per trace
    # Every op ran exactly as often as the sampled arcs chose it (the controller's stateless calls count nothing).
    counts = np.array([[float(op.count) for op in layer] for layer in search.child.candidates])
    chosen = np.array([[arc[position] for position, _ in space.layer_slices()] for arc in search.step_arcs])
    np.testing.assert_array_equal(counts, [np.bincount(chosen[:, i], minlength=3) for i in range(3)])
    _, weight_step, controller_step = search._steps
    assert weight_step.experimental_get_tracing_count() == 1 == controller_step.experimental_get_tracing_count()
    assert set(search.history) == {"loss", "train_reward", "controller_reward", "baseline", "entropy", "skip_density"}
    assert all(len(v) == 1 and np.isfinite(v[0]) for v in search.history.values())


def test_reinforce_raises_the_log_prob_of_the_rewarded_arc():
    space = MacroSpace((6,), num_layers=3, channels=4)
    search = ENASSearch(space, Head("classification", 2), seed=0, controller_units=16, controller_learning_rate=0.05)
    target = np.array([2, 1, 0, 1, 0, 1], "int32")

    def reward(arc):  # toy reward: the fraction of decisions that agree with the target arc
        return keras.ops.mean(keras.ops.cast(arc == target, "float32"))

    step = tf.function(lambda: search.reinforce(reward))
    before = float(search.controller.sample(target)["log_prob"])
    rewards = [float(step()[0]) for _ in range(80)]
    after = float(search.controller.sample(target)["log_prob"])
    assert after > before + 1.0, (before, after)
    assert np.mean(rewards[-20:]) > np.mean(rewards[:20])
    expected = rewards[0]  # the baseline starts at the first reward, then decays by 0.99 towards each new one
    for r in rewards[1:]:
        expected -= 0.01 * (expected - r)
    assert float(search.baseline) == pytest.approx(expected, abs=2e-3)  # up to the 1e-4 entropy bonus


def test_controller_scores_given_arcs_and_penalises_skip_density():
    space = MacroSpace((8, 8, 1), num_layers=4, channels=4)
    controller = ENASController(space, units=8, seed=0)
    sample = controller.sample()
    arc = np.asarray(sample["arc"])
    again = controller.sample(arc)
    np.testing.assert_allclose(float(again["log_prob"]), float(sample["log_prob"]), rtol=1e-5)
    assert space.check_arc(arc).shape == (10,) and 0 <= float(sample["skip_density"]) <= 1
    assert float(sample["skip_penalty"]) >= 0 and float(sample["entropy"]) > 0
    micro = MicroSpace((8, 8, 1), num_layers=2, nodes=2)
    sample = ENASController(micro, units=8, seed=0).sample()
    assert micro.check_arc(sample["arc"]).shape == (16,) and float(sample["skip_penalty"]) == 0.0


@pytest.mark.parametrize("space", [
    MacroSpace((8, 8, 1), num_layers=4, channels=4),
    MacroSpace((12, 2), num_layers=3, channels=4),
    MicroSpace((8, 8, 1), num_layers=3, channels=4, nodes=2),
    MicroSpace((5,), num_layers=2, channels=4, nodes=2),
])
def test_arcs_become_plain_architectures_and_back(space):
    rng = np.random.default_rng(0)
    arc = np.asarray(ENASController(space, units=8, seed=1).sample()["arc"])
    architecture = space.to_architecture(arc)
    assert Architecture.from_json(architecture.to_json()) == architecture
    np.testing.assert_array_equal(space.arc_of(architecture), arc)
    head = Head("classification", 3)
    model = architecture.build(space.input_shape, head=head)
    count = architecture.num_params(space.input_shape, head)
    # Exact within a cell (an unread cell input's preprocessing is not counted), but a micro cell that no later
    # cell reads is dropped by the functional model and still counted.
    assert count == model.count_params() if space.kind == "macro" else count >= model.count_params()
    assert tuple(model(rng.normal(size=(2, *space.input_shape)).astype("float32")).shape) == (2, 3)
    with pytest.raises(ValueError, match="not a child"):
        space.arc_of(Architecture([Layer.of("dense", units=3)]))
    randoms = {tuple(space.check_arc(space.random_arc(seed))) for seed in range(5)}
    assert len(randoms) > 1 and space.random_arc(3).tolist() == space.random_arc(3).tolist()


def test_micro_search_runs_reduction_cells_and_the_evaluator_scores_children(digits_small):
    x, y = _digits(digits_small)
    space = MicroSpace((8, 8, 1), num_layers=2, channels=4, nodes=2, ops=("skip_connect", "max_pool_3x3"))
    search = ENASSearch(space, CLASSES, seed=0, controller_units=8)
    search.fit(x[:64], y[:64], x[64:96], y[64:96], epochs=1, batch_size=32, controller_steps=2, seed=0)
    arc, score, scored = search.best_arc(x[96:128], y[96:128], samples=3)
    assert score == max(s for _, s in scored) and 0 <= score <= 1
    evaluator = search.evaluator
    state = [np.array(v) for v in search.child.variables]
    architecture = space.to_architecture(arc)
    assert evaluator.score(architecture, x[96:128], y[96:128]) == pytest.approx(score)
    assert all(np.array_equal(a, np.array(v)) for a, v in zip(state, search.child.variables))  # nothing updated
    assert isinstance(evaluator, SharedWeightEvaluator)
    with pytest.raises(ValueError, match="entries"):
        evaluator.score([0, 1], x[:4], y[:4])


def test_enas_end_to_end_exports_a_plain_keras_model(digits_small, tmp_path):
    x, y = _digits(digits_small)
    strategy = ENASStrategy(num_layers=3, channels=4, ops=("conv_3x3", "sep_conv_3x3", "max_pool_3x3"),
                            controller_steps=3, derive_samples=4, controller_units=16)
    clf = NASClassifier(strategy=strategy, epochs=1, batch_size=48, seed=0).fit(x, y)
    search = clf.strategy_
    assert isinstance(search, ENASStrategy) and not hasattr(strategy, "arc_")  # fit searched with a copy
    assert len(search.history_["controller_reward"]) == 1 and len(search.samples_) <= 4
    assert clf.best_architecture_ == search.search_.space.to_architecture(search.arc_)
    (row,) = clf.leaderboard_
    assert row["trial_id"] == "enas" and row["hyperparameters"]["arc"] == [int(v) for v in search.arc_]
    assert 0 <= row["score"] == clf.best_score_ <= 1
    classes = {type(layer) for layer in _layers(clf.best_model_)}
    assert all(cls.__module__.startswith("keras.src.") for cls in classes), classes  # no supernet, no controller
    names = " ".join(layer.name for layer in _layers(clf.best_model_))
    assert "lstm" not in names and "merge_bn" not in names
    assert os.path.getsize(plot_rewards(search.history_, tmp_path / "reward.png")) > 0
    path = clf.export(tmp_path / "enas_model")
    sample = x[:16]
    np.testing.assert_allclose(_in_fresh_process(path, sample, tmp_path), clf.predict_proba(sample), atol=1e-5)


def test_enas_micro_in_the_regressor(tabular_small):
    x, y = tabular_small
    strategy = ENASStrategy("micro", num_layers=1, channels=4, nodes=2, ops=("dense", "skip_connect"),
                            controller_steps=2, derive_samples=2, controller_units=8, search_batch_size=20)
    reg = NASRegressor(strategy=strategy, epochs=1, batch_size=40, seed=0,
                       validation_data=(x[:10], 50 + 10 * y[:10])).fit(x, 50 + 10 * y)
    assert isinstance(reg.strategy_, ENASStrategy) and reg.best_score_ >= 0  # mean squared error
    assert len(reg.strategy_.search_.step_arcs) == math.ceil(len(x) / 20)  # batches of 20, not the estimator's 40
    assert [layer.kind for layer in reg.best_architecture_.layers] == ["dense", "batch_norm", "cell"]
    assert reg.predict(x[:4]).shape == (4,) and reg.strategy_.describe()["space"] == "micro"
    assert NASClassifier(strategy="enas").get_params()["strategy"] == "enas"
    assert isinstance(get_strategy("enas"), ENASStrategy)


def test_bad_configurations_fail_clearly(digits_small):
    with pytest.raises(ValueError, match="'macro' or 'micro'"):
        make_space("mega", (8, 8, 1))
    with pytest.raises(ValueError, match="remove 'none'"):
        MacroSpace((8, 8, 1), ops=("none", "conv_3x3"))
    with pytest.raises(ValueError, match="Unknown op 'conv_9x9'"):
        MicroSpace((8, 8, 1), ops=("conv_9x9",))
    with pytest.raises(ValueError, match="reductions"):
        MacroSpace((6,), num_layers=3, reductions=(1,))
    with pytest.raises(ValueError, match="shape"):
        MacroSpace((2, 2, 2, 2))
    with pytest.raises(ValueError, match="entries out of range"):
        MacroSpace((6,), num_layers=2).check_arc([0, 3, 0])
    with pytest.raises(ValueError, match="skip_target"):
        ENASController(MacroSpace((6,)), skip_target=1.5)
    with pytest.raises(ValueError, match="baseline_decay"):
        ENASSearch(MacroSpace((6,)), CLASSES, baseline_decay=1.0)
    with pytest.raises(ValueError, match="needs a search"):
        ENASStrategy().derive()
    x, y = digits_small
    with pytest.raises(ValueError, match="derive_samples"):
        NASClassifier(strategy=ENASStrategy(derive_samples=0), epochs=1).fit(x, y)
    with pytest.raises(TypeError, match="Unknown ENASStrategy option"):
        NASClassifier(strategy=get_strategy("enas", lstm_units=3), epochs=1).fit(x, y)


# -- one function: the child that is scored is the network that is derived ----------------------------------
def _search_only_bn_to_identity(layer):
    """DARTS's search-only BN after a pooling op is not in the derived network: at shared weights it is the identity."""
    mean, variance = layer.get_weights()
    layer.set_weights([np.zeros_like(mean), np.full_like(variance, 1.0 - layer.epsilon)])


def _weighted(layer):
    """The layers of a search op that hold weights, in order."""
    subs = layer.layers if isinstance(layer, keras.Sequential) else [layer]
    return [sub for sub in subs if sub.weights]


def _copy_into(derived_layer, source):
    """Copies search weights into the derived twin; an affine-free BN becomes a BN with scale 1 and offset 0."""
    weights = source.get_weights()
    if isinstance(source, SearchBatchNorm):
        gamma, beta, _, _ = derived_layer.get_weights()
        weights = [np.ones_like(gamma), np.zeros_like(beta), *weights]
    derived_layer.set_weights(weights)


@pytest.mark.parametrize("shape", [(8, 8, 1), (12, 2)])
def test_macro_child_at_a_fixed_arc_computes_its_derived_network(shape):
    ops = ("conv_3x3", "sep_conv_3x3", "max_pool_3x3", "avg_pool_3x3", "skip_connect")
    space = MacroSpace(shape, num_layers=4, channels=4, ops=ops)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, *shape)).astype("float32")
    model = child.MacroChildModel(space, CLASSES)
    # Random arcs and one with every skip on (pooled skips across both reductions).
    for arc in [space.random_arc(seed) for seed in range(5)] + [[2, 1, 1, 3, 1, 1, 0, 1, 1, 1]]:
        arc = space.check_arc(arc)
        model(x, arc, training=True)  # moves the batch statistics away from their initial values
        chosen = [model.candidates[i][arc[op]] for i, (op, _) in enumerate(space.layer_slices())]
        for op in chosen:
            if isinstance(op, keras.Sequential) and "pool" in op.layers[0].name:
                _search_only_bn_to_identity(op.layers[-1])
        derived = space.to_architecture(arc).build(shape, head=CLASSES)
        sources = list(model.stem.layers)
        for i, op in enumerate(chosen):
            sources += _weighted(op)
            if i:
                sources.append(model.merge_norms[i - 1])
        sources.append(model.head)
        targets = [layer for layer in derived.layers if layer.weights]
        pool_bns = [s for op in chosen if "pool" in getattr(op, "layers", [op])[0].name for s in _weighted(op)]
        sources = [s for s in sources if not any(s is b for b in pool_bns)]
        assert len(sources) == len(targets), (arc, [t.name for t in targets])
        for target, source in zip(targets, sources, strict=True):
            _copy_into(target, source)
        np.testing.assert_allclose(derived(x, training=False), model(x, arc, training=False), atol=1e-5)


def _search_weights(op):
    """The weighted layers of a search op in the order its derived twin creates them; pool BNs set to identity."""
    if isinstance(op, FactorizedReduce):
        return [op.conv_1, op.conv_2, op.bn]
    subs = op.layers if isinstance(op, keras.Sequential) else [op]
    if "pool" in subs[0].name:
        _search_only_bn_to_identity(subs[-1])
        subs = subs[:-1]
    return [sub for sub in subs if sub.weights]


def _derived_weights(model, prefix):
    order = {"conv": 0, "dense": 0, "conv1": 0, "conv2": 1, "bn": 2}
    found = [layer for layer in model.layers if layer.name.startswith(prefix + "_") and layer.weights]
    suffix = [layer.name[len(prefix) + 1 :].split("_")[0] for layer in found]
    return [layer for _, layer in sorted(zip(suffix, found), key=lambda p: int(p[0]) if p[0].isdigit() else order[p[0]])]


def _copy_op(derived, prefix, op):
    targets, sources = _derived_weights(derived, prefix), _search_weights(op)
    assert len(targets) == len(sources), (prefix, [t.name for t in targets], [s.name for s in sources])
    for target, source in zip(targets, sources, strict=True):
        _copy_into(target, source)


@pytest.mark.parametrize("shape", [(8, 8, 1), (12, 2), (6,)])
def test_micro_child_at_a_fixed_arc_computes_its_derived_network(shape):
    ops = ("sep_conv_3x3", "skip_connect", "max_pool_3x3", "dil_conv_3x3") if len(shape) > 1 else ("dense", "skip_connect")
    space = MicroSpace(shape, num_layers=3, channels=4, nodes=2, ops=ops)
    x = np.random.default_rng(0).normal(size=(16, *shape)).astype("float32")
    model = child.MicroChildModel(space, CLASSES)
    size = 4 * space.nodes
    for seed in range(3):
        arc = space.random_arc(seed)
        model(x, arc, training=True)  # moves the batch statistics away from their initial values
        derived = space.to_architecture(arc).build(shape, head=CLASSES)
        stem = [layer for layer in derived.layers if layer.weights][:2]
        for target, source in zip(stem, model.stem.layers, strict=True):
            _copy_into(target, source)
        for k, cell in enumerate(model.cells):
            prefix, part = f"cell_{k + 2}", arc[size:] if cell.reduction else arc[:size]
            _copy_op(derived, f"{prefix}_pre0", cell.preprocess0)
            _copy_op(derived, f"{prefix}_pre1", cell.preprocess1)
            for node in range(space.nodes):
                for slot in range(2):
                    j, o = part[4 * node + 2 * slot], part[4 * node + 2 * slot + 1]
                    strided, plain = cell.slots[2 * node + slot]
                    _copy_op(derived, f"{prefix}_n{node + 2}_{slot}", (strided if cell.reduction and j < 2 else plain)[o])
        _copy_into(derived.get_layer("head"), model.head)
        np.testing.assert_allclose(derived(x, training=False), model(x, arc, training=False), atol=1e-5)
