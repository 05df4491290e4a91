"""Estimators with scikit-learn's API that search, train and export Keras models."""

from keras_nas.estimators.base import BaseNASEstimator
from keras_nas.estimators.classifier import NASClassifier
from keras_nas.estimators.regressor import NASRegressor

__all__ = ["BaseNASEstimator", "NASClassifier", "NASRegressor"]
