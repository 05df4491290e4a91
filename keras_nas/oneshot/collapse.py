"""`CollapseGuard`: DARTS+-style early stopping against the skip-connection collapse.

DARTS's α drift towards parameter-free ops as the search goes on: the weights
of `skip_connect` grow because skips make the supernet easy to train, not
because they make a good network, and long searches end in all-skip normal
cells (on NAS-Bench-201 DARTS reaches the all-skip cell for every seed).
DARTS+ (Liang et al., 2019) stops the search once the derived normal cell
holds too many skip connections; the guard does that at the end of every
epoch and, by default, puts back the α of the last epoch that passed.
"""

from __future__ import annotations

import warnings

import keras
import numpy as np


def count_op(gene, op: str = "skip_connect") -> int:
    """How many edges of a gene (a cell's `(op, input)` pairs) use `op`."""
    return sum(1 for name, _ in gene if name == op)


class CollapseGuard(keras.callbacks.Callback):
    """Stops a supernet search when the normal cell's genotype has more than `max_skip_connects` skips.

    At the end of every epoch the guard reads `model.genotype()` and counts
    `skip_connect` in its normal cell (only when the network has a normal
    cell: reduction cells pool and skip by design). Past the limit it stops
    training, sets `model.collapse_epoch` to the epoch, and with `restore=True`
    assigns back the architecture variables of the last epoch within the
    limit (with none, α is kept and a warning says so). The α of the stopping
    epoch stay in `model.alpha_history`. `DARTSSearchModel.fit` adds a guard
    unless `max_skip_connects` is None.

    Args:
        max_skip_connects: most skip connections allowed in the normal cell
            (DARTS+ stops at 2 or more in 8 edges; 2 here is "more than 2").
        restore: put back the α of the last epoch within the limit.
    """

    def __init__(self, max_skip_connects: int = 2, restore: bool = True):
        super().__init__()
        self.max_skip_connects, self.restore = int(max_skip_connects), bool(restore)
        self._last_good: list[np.ndarray] | None = None

    def on_train_begin(self, logs=None):
        self._last_good = None
        self.model.collapse_epoch = None

    def collapsed(self) -> bool:
        """Whether the model's normal cell now holds more skips than allowed."""
        if all(cell.reduction for cell in self.model.cells):
            return False
        return count_op(self.model.genotype().normal) > self.max_skip_connects

    def on_epoch_end(self, epoch, logs=None):
        variables = self.model.arch_variables
        if not self.collapsed():
            self._last_good = [keras.ops.convert_to_numpy(v) for v in variables]
            return
        self.model.stop_training = True
        self.model.collapse_epoch = int(epoch)
        if not self.restore:
            return
        if self._last_good is None:
            warnings.warn(
                f"The normal cell collapsed to more than {self.max_skip_connects} skip connections in the first "
                "epoch of the search; keeping its α (nothing earlier to restore).",
                stacklevel=2,
            )
            return
        for variable, value in zip(variables, self._last_good, strict=True):
            variable.assign(value)
