"""What each `Layer` kind means: its shape rule, parameter count and Keras layer.

Shapes exclude the batch axis: `(features,)` for tabular data, `(steps,
channels)` for sequences, `(height, width, channels)` for images. Convolutions
and poolings always use `"same"` padding, so a stride `s` maps a length `n` to
`ceil(n / s)` and strides compose exactly along the main path.

Parameters by kind:

| kind | parameters (defaults) |
|---|---|
| dense | units, activation (None), use_bias (True) |
| conv | filters, kernel_size (3), strides (1), dilation_rate (1), separable (False); activation, use_bias as dense |
| pool | pool ("max" or "avg"), size (2), strides (= size) |
| global_pool | pool ("avg" or "max") |
| flatten, identity | none |
| batch_norm | momentum (0.9; Keras's 0.99 never settles in short trainings) |
| dropout | rate |
| activation | activation |
| keras | class_name, spec (the layer's serialized config as JSON) |
| cell | gene, concat, filters, reduction (False), input0_channels, input0 (2), keep (2) |

A `cell` is a DARTS cell read off a supernet (see `keras_nas.architecture.cells.derived`):
it reads node `input0` steps back along the main path (2: the output of the
layer before the previous one) besides its main-path input, so it is built by
`LayerKind.apply`, which receives every earlier node, and expands into plain
Keras layers.
"""

from keras_nas.architecture.kinds import builtin
from keras_nas.architecture.kinds.base import KINDS, LayerKind, Shape, find, get, names, register_kind
from keras_nas.architecture.kinds.builtin import keras_layer_spec

__all__ = ["KINDS", "LayerKind", "Shape", "builtin", "find", "get", "keras_layer_spec", "names", "register_kind"]
