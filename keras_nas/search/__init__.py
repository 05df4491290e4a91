"""Trial search: train one network per trial, as keras-tuner does.

- `tuner`: `NASTuner`, the keras-tuner Tuner that trains each trial's
  architecture (time budget, failed trials, resume, trial processes).
- `oracles`: `get_oracle`, the oracles by name (`ORACLES`).
- `morphism/`: the morphism-aware Bayesian search (Auto-Keras): moves and
  weight transfer, the edit distance, the Gaussian process, `MorphismOracle`
  and `MorphismTuner`.
- `outcomes`: how trials ended (divergence, failure reasons, records, the
  leaderboard).
- `project`, `checkpoints`, `recovery`: what a search keeps on disk and how a
  killed one resumes; `distributed`: chief/worker search (`servicer`, the
  chief's gRPC servicer; `heartbeats`, worker timeouts and liveness);
  `trial_process`: trials trained in child processes (`trial_child`, the
  child's side).
"""

from keras_nas.search.morphism import MorphismOracle, MorphismTuner
from keras_nas.search.oracles import ORACLES, get_oracle, num_initial_points, register_oracle
from keras_nas.search.tuner import NASTuner

__all__ = [
    "ORACLES",
    "MorphismOracle",
    "MorphismTuner",
    "NASTuner",
    "get_oracle",
    "num_initial_points",
    "register_oracle",
]
