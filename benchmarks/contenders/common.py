"""Helpers shared by contenders: the same input standardisation and search space for everyone."""

from __future__ import annotations

import numpy as np

from keras_nas import Head, spaces
from keras_nas.estimators import data


def standardize(split):
    """x_train, x_val, x_test standardised per feature/channel with training statistics, as NASClassifier does."""
    mean, variance = data.moments(split.x_train)
    return [data.standardize(x, mean, variance) for x in (split.x_train, split.x_val, split.x_test)]


def search_space(split):
    """The space NASClassifier's "auto" picks for this data with keras-tuner's oracles (DenseSpace or
    ConvSpace), set up for its shape and classes. (MorphismSpace's architectures are set by the
    morphism oracle alone: a stock oracle would only ever build its seed.)"""
    input_shape = split.x_train.shape[1:]
    return spaces.get_space("auto", input_shape).configure(input_shape, Head("classification", split.num_classes))


def accuracy(model, x, y) -> float:
    return float(np.mean(np.argmax(model.predict(x, verbose=0), axis=1) == y))
