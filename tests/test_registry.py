"""`Registry`, the one pattern of every extension point's names, and the four registries built on it."""
import pytest

from keras_nas.architecture import kinds
from keras_nas.oneshot import STRATEGIES
from keras_nas.search.oracles import ORACLES
from keras_nas.spaces import SPACES
from keras_nas.utils.registry import Registry


def test_entries_are_found_listed_and_removed():
    registry = Registry("colour", hint="or pass an RGB tuple")
    assert registry.register("red", 1) == 1 and registry.register("blue", 2) == 2
    assert registry.names() == ["blue", "red"] == list(registry) and len(registry) == 2
    assert registry.entries() == [1, 2] and registry["red"] == 1 and "red" in registry and 3 not in registry
    registry.unregister("red")
    assert registry.find("red") is None and "red" not in registry
    with pytest.raises(KeyError):
        registry["red"]


@pytest.mark.parametrize("name", ["green", None, 3])
def test_an_unknown_name_is_refused_with_every_choice_and_the_hint(name):
    registry = Registry("colour", hint="or pass an RGB tuple")
    registry.register("red", 1)
    with pytest.raises(ValueError, match=rf"Unknown colour {name!r}; choose one of \['red'\] or pass an RGB tuple"):
        registry.get(name)


@pytest.mark.parametrize("name", ["", None, 3])
def test_a_name_must_be_a_non_empty_string(name):
    with pytest.raises(ValueError, match="non-empty string name"):
        Registry("colour").register(name, 1)


def test_entries_defined_elsewhere_load_on_first_use():
    registry = Registry("module", elsewhere={"json": "json"})
    assert registry.find("json") is None  # importing json registers nothing here
    assert registry.names() == []


@pytest.mark.parametrize(
    "registry,expected",
    [
        (kinds.KINDS, {"dense", "conv", "cell", "keras"}),
        (SPACES, {"dense", "conv", "morphism"}),
        (ORACLES, {"morphism", "bayesian", "random", "hyperband"}),
        (STRATEGIES, {"darts", "pc_darts", "gdas", "enas"}),
    ],
    ids=["kinds", "spaces", "oracles", "strategies"],
)
def test_every_extension_point_uses_one_registry(registry, expected):
    assert isinstance(registry, Registry) and expected <= set(registry.names())
