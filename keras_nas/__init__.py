"""keras_nas: neural architecture search for Keras.

Search spaces are keras-tuner HyperModels that describe what they build as an
`Architecture`; `MorphismOracle` is a keras-tuner Oracle that searches them by
Bayesian optimisation over architectures with network-morphism proposals;
`NASClassifier` and `NASRegressor` run a search and return a trained Keras
model behind scikit-learn's estimator API.

The names below load their subpackage when first used, so `import keras_nas`
is quick and loads no search code; `docs/architecture.md` maps the packages.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from keras_nas import _moved

__version__ = "0.1.0"

_EXPORTS = {
    "Architecture": "keras_nas.architecture",
    "Head": "keras_nas.architecture",
    "Layer": "keras_nas.architecture",
    "Skip": "keras_nas.architecture",
    "ConvSpace": "keras_nas.spaces",
    "DenseSpace": "keras_nas.spaces",
    "MorphismSpace": "keras_nas.spaces",
    "SearchSpace": "keras_nas.spaces",
    "MorphismOracle": "keras_nas.search.morphism",
    "MorphismTuner": "keras_nas.search.morphism",
    "NASTuner": "keras_nas.search.tuner",
    "NASClassifier": "keras_nas.estimators",
    "NASRegressor": "keras_nas.estimators",
}

__all__ = [
    "Architecture",
    "ConvSpace",
    "DenseSpace",
    "Head",
    "Layer",
    "MorphismOracle",
    "MorphismSpace",
    "MorphismTuner",
    "NASClassifier",
    "NASRegressor",
    "NASTuner",
    "SearchSpace",
    "Skip",
]

if TYPE_CHECKING:
    from keras_nas.architecture import Architecture, Head, Layer, Skip
    from keras_nas.estimators import NASClassifier, NASRegressor
    from keras_nas.search.morphism import MorphismOracle, MorphismTuner
    from keras_nas.search.tuner import NASTuner
    from keras_nas.spaces import ConvSpace, DenseSpace, MorphismSpace, SearchSpace


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module 'keras_nas' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


_moved.install()
