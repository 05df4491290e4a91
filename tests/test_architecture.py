import json

import pytest

from keras_nas.architecture import Architecture, Head, Layer, Skip


def test_layer_params_are_hashable_and_ordered():
    a = Layer.of("conv", filters=8, kernel_size=3)
    b = Layer.of("conv", kernel_size=3, filters=8)
    assert a == b and hash(a) == hash(b)
    assert a["filters"] == 8 and a.get("strides", 1) == 1
    with pytest.raises(KeyError, match="no parameter 'units'"):
        a["units"]


def test_layer_replace_and_none_drops():
    a = Layer.of("dense", units=8, activation="relu")
    assert a.replace(units=16)["units"] == 16
    assert "activation" not in a.replace(activation=None).config


def test_skip_validation():
    with pytest.raises(ValueError, match="source < target"):
        Skip(3, 3)
    with pytest.raises(ValueError, match="merge"):
        Skip(0, 1, "multiply")


def test_architecture_rejects_skip_past_end():
    with pytest.raises(ValueError, match="past the last node"):
        Architecture([Layer.of("dense", units=4)], [Skip(0, 2)])


def test_architecture_is_immutable_and_hashable():
    arch = Architecture([Layer.of("dense", units=4)])
    with pytest.raises(AttributeError):
        arch.layers = ()
    assert {arch: 1}[Architecture([Layer.of("dense", units=4)])] == 1


def test_skips_are_sorted_and_deduplicated():
    layers = [Layer.of("dense", units=4)] * 3
    arch = Architecture(layers, [Skip(1, 3), Skip(0, 2), Skip(1, 3)])
    assert arch.skips == (Skip(0, 2), Skip(1, 3))


def test_json_round_trip():
    arch = Architecture(
        [Layer.of("conv", filters=8, kernel_size=3, activation="relu"), Layer.of("pool", pool="avg"),
         Layer.of("global_pool")],
        [Skip(0, 1, "concat")],
    )
    text = arch.to_json()
    assert json.loads(text)["skips"] == [{"source": 0, "target": 1, "merge": "concat"}]
    assert Architecture.from_json(text) == arch
    assert Architecture.from_dict(arch.to_dict()) == arch


def test_summary_names_layers_and_skips():
    arch = Architecture([Layer.of("dense", units=64, activation="relu")] * 2, [Skip(1, 2)])
    assert arch.summary() == "dense64relu > dense64relu | skip 1->2 add"


def test_head_validation_and_task_properties():
    head = Head("classification", 3)
    assert head.loss == "sparse_categorical_crossentropy" and head.objective == "val_accuracy"
    assert Head("regression", 1).activation == "linear"
    with pytest.raises(ValueError, match="task"):
        Head("ranking", 2)
    with pytest.raises(ValueError, match="units"):
        Head("regression", 0)
