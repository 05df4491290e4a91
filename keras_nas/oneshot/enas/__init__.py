"""ENAS: children that share one set of weights, chosen by an LSTM controller trained with REINFORCE.

- `spaces`: `MacroSpace` and `MicroSpace`: children as integer arcs and as
  `Architecture`s.
- `child`: the shared weights (`MacroChildModel`, `MicroChildModel`) that
  run any child.
- `controller`: `ENASController`, the LSTM policy over arcs.
- `evaluator`: `SharedWeightEvaluator`, a cheap score of any child.
- `search`: `ENASSearch` (alternating training) and `ENASStrategy`.
"""

from keras_nas.oneshot.enas.child import ENASCell, MacroChildModel, MicroChildModel, child_model
from keras_nas.oneshot.enas.controller import ENASController
from keras_nas.oneshot.enas.evaluator import SharedWeightEvaluator
from keras_nas.oneshot.enas.search import ENASSearch, ENASStrategy
from keras_nas.oneshot.enas.spaces import MacroSpace, MicroSpace, make_space

__all__ = [
    "ENASCell",
    "ENASController",
    "ENASSearch",
    "ENASStrategy",
    "MacroChildModel",
    "MacroSpace",
    "MicroChildModel",
    "MicroSpace",
    "SharedWeightEvaluator",
    "child_model",
    "make_space",
]
