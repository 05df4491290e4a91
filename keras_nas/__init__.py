"""keras_nas: neural architecture search for Keras.

Search spaces are keras-tuner HyperModels that describe what they build as an
`Architecture`; `MorphismOracle` is a keras-tuner Oracle that searches them by
Bayesian optimisation over architectures with network-morphism proposals;
`NASClassifier` and `NASRegressor` run a search and return a trained Keras
model behind scikit-learn's estimator API.
"""

from keras_nas.architecture import Architecture, Head, Layer, Skip
from keras_nas.estimators import NASClassifier, NASRegressor
from keras_nas.morphism_tuner import MorphismTuner
from keras_nas.oracles import MorphismOracle
from keras_nas.spaces import ConvSpace, DenseSpace, MorphismSpace, SearchSpace
from keras_nas.tuner import NASTuner

__version__ = "0.1.0"

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
