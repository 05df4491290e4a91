"""Morphism-aware Bayesian search (Auto-Keras, KDD 2019), in one place.

- `moves`: network morphisms on an `Architecture` and weight inheritance.
- `distance`: the edit distance between two architectures.
- `gp`: a Gaussian process with the edit-distance kernel.
- `oracle`: `MorphismOracle`, UCB with tree-structured acquisition over moves.
- `tuner`: `MorphismTuner`, which starts each child from its parent's weights.
"""

from keras_nas.search.morphism.oracle import MorphismOracle
from keras_nas.search.morphism.tuner import MorphismTuner

__all__ = ["MorphismOracle", "MorphismTuner"]
