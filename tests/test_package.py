"""The package's shape: a quick lazy top level, and the 0.1 import paths still working, with a warning."""

import json
import subprocess
import sys
import warnings

import pytest

from keras_nas import _moved


def _loaded_after(code: str) -> list[str]:
    script = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_import_keras_nas_loads_no_subpackage_and_no_framework():
    loaded = _loaded_after("import keras_nas")
    assert [m for m in loaded if m.startswith("keras_nas.")] == ["keras_nas._moved"]
    assert "keras" not in loaded and "tensorflow" not in loaded


def test_a_trial_search_estimator_does_not_load_the_one_shot_code():
    loaded = _loaded_after("import keras_nas\nkeras_nas.NASClassifier")
    assert "keras_nas.estimators" in loaded and "keras_nas.search.tuner" in loaded
    assert not [m for m in loaded if m.startswith("keras_nas.oneshot")]


def test_every_top_level_name_resolves_and_is_listed():
    import keras_nas

    for name in keras_nas.__all__:
        assert getattr(keras_nas, name).__name__ == name
    assert set(keras_nas.__all__) <= set(dir(keras_nas))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        keras_nas.nope  # noqa: B018


@pytest.mark.parametrize("old,new", sorted(_moved.MODULES.items()))
def test_an_old_module_path_is_the_new_module_with_a_deprecation_warning(old, new):
    import importlib

    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=f"{old} has moved to {new}") as caught:
        __import__(old)  # as an import statement does: no importlib frame between this line and the warning
    module = sys.modules[old]
    assert module is importlib.import_module(new) and module.__spec__.name == new
    assert caught[0].filename == __file__  # the warning points at the line that imports


def test_the_old_supernet_package_resolves_each_of_its_names_where_it_lives_now():
    import keras_nas.supernet as old
    from keras_nas.architecture.cells import Genotype
    from keras_nas.oneshot import DARTSStrategy
    from keras_nas.oneshot.enas import MacroSpace

    with pytest.warns(DeprecationWarning, match="keras_nas.supernet.DARTSStrategy has moved to keras_nas.oneshot"):
        assert old.DARTSStrategy is DARTSStrategy
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        assert old.Genotype is Genotype and old.MacroSpace is MacroSpace
        assert len(old.__all__) == 52 and all(hasattr(old, name) for name in old.__all__)
        from keras_nas.oracles import get_oracle
        from keras_nas.search.oracles import get_oracle as new_get_oracle
        from keras_nas.supernet.strategy import get_strategy
    assert get_oracle is new_get_oracle and get_strategy.__module__ == "keras_nas.oneshot.strategy"
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        old.nope  # noqa: B018
