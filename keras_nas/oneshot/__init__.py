"""One-shot search: train one supernet, derive a plain Keras network from it.

- `strategy`: `OneShotStrategy`, the interface every strategy implements, and
  its registry (`STRATEGIES`, `get_strategy`, `register_strategy`): what
  `NASClassifier(strategy="darts" | "pc_darts" | "gdas" | "enas")` runs.
- `darts/`: DARTS, PC-DARTS and GDAS supernets; `enas/`: ENAS.
- `collapse`: `CollapseGuard`, DARTS+-style early stopping against all-skip cells.
- `data`: `bilevel_dataset`, the paired train/validation batches.
- `plotting`: `plot_alphas`, `plot_rewards`.

What they derive is an `Architecture` of `cell` layers (`keras_nas.architecture.cells`).
"""

from keras_nas.oneshot.collapse import CollapseGuard, count_op
from keras_nas.oneshot.data import bilevel_dataset

# After `strategy`: registers "enas".
from keras_nas.oneshot.enas.search import ENASStrategy
from keras_nas.oneshot.plotting import plot_alphas, plot_rewards
from keras_nas.oneshot.strategy import (
    STRATEGIES,
    DARTSStrategy,
    GDASStrategy,
    OneShotStrategy,
    PCDARTSStrategy,
    SupernetStrategy,
    get_strategy,
    register_strategy,
)

__all__ = [
    "STRATEGIES",
    "CollapseGuard",
    "DARTSStrategy",
    "ENASStrategy",
    "GDASStrategy",
    "OneShotStrategy",
    "PCDARTSStrategy",
    "SupernetStrategy",
    "bilevel_dataset",
    "count_op",
    "get_strategy",
    "plot_alphas",
    "plot_rewards",
    "register_strategy",
]
