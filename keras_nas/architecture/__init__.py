"""The spine: `Architecture` (layers + skip connections) and what knows about it.

- `architecture`: the value objects `Layer`, `Skip`, `Architecture`, `Head`.
- `kinds`: one `LayerKind` per layer kind (shape, parameters, Keras layer);
  `register_kind` adds one.
- `building`: an `Architecture` to a Keras model; `reading`: a Keras model back
  to an `Architecture`.
- `cells`: DARTS cells: candidate ops, genotypes and the `cell` kind's layers.

Nothing here imports search code (`keras_nas.search`, `keras_nas.oneshot`).
"""

from keras_nas.architecture.architecture import MERGES, Architecture, Head, Layer, Skip
from keras_nas.architecture.kinds import LayerKind, register_kind

__all__ = ["MERGES", "Architecture", "Head", "Layer", "LayerKind", "Skip", "register_kind"]
