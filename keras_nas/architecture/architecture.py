"""The `Architecture` value object: the spine of keras_nas.

Search spaces produce an `Architecture`, the Bayesian oracle's kernel compares
two of them, network morphisms transform one into another and the builder turns
one into a Keras model. It is immutable, hashable and round-trips through JSON,
so it can travel inside trial hyperparameters and oracle state.

An architecture is the ordered list of layers on the main path plus a set of
skip connections. Nodes are numbered along the main path: node 0 is the input
and node `i + 1` is the output of layer `i`. A `Skip(source, target, merge)`
merges node `source` into node `target` (`source < target`), so that layer
`target` (and every later skip from node `target`) sees the merged tensor.

Merges: `"add"` adds the source through a 1x1 projection (so any widths fit,
and a morphism can insert one that starts at zero); `"add_identity"` adds the
source as it is (a ResNet shortcut; the widths must match); `"concat"`
concatenates channels. A skip across a stride is average-pooled first.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from typing import Any

MERGES = ("add", "concat", "add_identity")


def _freeze(value: Any) -> Any:
    """Turns lists into tuples so that layer parameters stay hashable."""
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return value.item()
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value


@dataclasses.dataclass(frozen=True)
class Layer:
    """One layer of the main path: a kind and its parameters.

    Kinds understood by the builder: `dense`, `conv`, `pool`, `global_pool`,
    `flatten`, `batch_norm`, `dropout`, `activation`, `identity`, `keras`
    (any other Keras layer, kept as its serialized config) and `cell` (a DARTS
    cell derived by one-shot search). See `keras_nas.architecture.kinds` for the
    parameters of each kind.

    Example:

    >>> layer = Layer.of("conv", filters=32, kernel_size=3)
    >>> layer["filters"], layer.get("strides", 1)
    (32, 1)
    """

    kind: str
    params: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, kind: str, **params: Any) -> Layer:
        """Makes a layer; parameters that are None or equal to the kind's default are left out,
        so that the same network always has the same description."""
        from keras_nas.architecture import kinds

        params = {k: _freeze(v) for k, v in params.items() if v is not None}
        rules = kinds.find(kind)
        if rules is not None:
            params = rules.canonical(params)
        return cls(kind, tuple(sorted(params.items())))

    def __getitem__(self, key: str) -> Any:
        for name, value in self.params:
            if name == key:
                return value
        raise KeyError(f"Layer {self.kind!r} has no parameter {key!r}; it has {dict(self.params)}.")

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    @property
    def config(self) -> dict[str, Any]:
        return dict(self.params)

    def replace(self, **changes: Any) -> Layer:
        """Returns a copy with some parameters changed (None removes one)."""
        return Layer.of(self.kind, **{**self.config, **changes})

    def describe(self) -> str:
        """A short human-readable tag such as `conv32k3s2` or `dense64`."""
        from keras_nas.architecture import kinds

        return kinds.get(self.kind).describe(self)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **{k: _thaw(v) for k, v in self.params}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Layer:
        data = dict(data)
        kind = data.pop("kind")
        return cls.of(kind, **data)


@dataclasses.dataclass(frozen=True, order=True)
class Skip:
    """A skip connection merging node `source` into node `target`."""

    source: int
    target: int
    merge: str = "add"

    def __post_init__(self) -> None:
        if self.merge not in MERGES:
            raise ValueError(f"Skip merge must be one of {MERGES}; received merge={self.merge!r}.")
        if not 0 <= self.source < self.target:
            raise ValueError(
                f"A skip connection needs 0 <= source < target; received source={self.source}, target={self.target}."
            )

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "target": self.target, "merge": self.merge}


@dataclasses.dataclass(frozen=True)
class Architecture:
    """A network: the layers of its main path and its skip connections.

    Example:

    >>> arch = Architecture(
    ...     layers=[Layer.of("dense", units=64, activation="relu"),
    ...             Layer.of("dense", units=64, activation="relu")],
    ...     skips=[Skip(1, 2, "add")],
    ... )
    >>> arch.summary()
    'dense64relu > dense64relu | skip 1->2 add'
    >>> Architecture.from_json(arch.to_json()) == arch
    True
    >>> model = arch.build((16,), head=Head("classification", 3))  # doctest: +SKIP
    """

    layers: tuple[Layer, ...]
    skips: tuple[Skip, ...] = ()

    def __init__(self, layers: Iterable[Layer], skips: Iterable[Skip] = ()) -> None:
        layers = tuple(layers)
        skips = tuple(sorted(set(skips)))
        for layer in layers:
            if not isinstance(layer, Layer):
                raise TypeError(f"Architecture layers must be `Layer` objects; received {layer!r}.")
        for skip in skips:
            if skip.target > len(layers):
                raise ValueError(
                    f"{skip} points past the last node ({len(layers)}) of a {len(layers)}-layer architecture."
                )
        object.__setattr__(self, "layers", layers)
        object.__setattr__(self, "skips", skips)

    def __len__(self) -> int:
        return len(self.layers)

    # -- serialization -------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "layers": [layer.to_dict() for layer in self.layers],
            "skips": [skip.to_dict() for skip in self.skips],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Architecture:
        return cls(
            [Layer.from_dict(layer) for layer in data["layers"]],
            [Skip(**skip) for skip in data.get("skips", [])],
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Architecture:
        return cls.from_dict(json.loads(text))

    # -- description ---------------------------------------------------
    def summary(self) -> str:
        """One line: the layer tags, then the skip connections."""
        text = " > ".join(layer.describe() for layer in self.layers) or "(empty)"
        if self.skips:
            text += " | " + ", ".join(f"skip {s.source}->{s.target} {s.merge}" for s in self.skips)
        return text

    def replace(self, layers: Iterable[Layer] | None = None, skips: Iterable[Skip] | None = None) -> Architecture:
        return Architecture(self.layers if layers is None else layers, self.skips if skips is None else skips)

    # -- building (delegated to keras_nas.architecture.building) --------------------
    def output_shape(self, input_shape: Iterable[int]) -> tuple[int, ...]:
        """The output shape (without batch axis) for an input shape; raises ValueError if invalid."""
        from keras_nas.architecture import building

        return building.plan(self, input_shape).shapes[-1]

    def num_params(self, input_shape: Iterable[int], head: Head | None = None) -> int:
        """Counts parameters without building a model (equal to `model.count_params()`)."""
        from keras_nas.architecture import building

        return building.count_params(self, input_shape, head)

    def flops(self, input_shape: Iterable[int], head: Head | None = None) -> int:
        """Multiply-adds per example, counted without building a model (`LayerKind.flops`).

        >>> Architecture([Layer.of("dense", units=4)]).flops((3,), Head("classification", 2))
        26
        """
        from keras_nas.architecture import building

        return building.count_flops(self, input_shape, head)

    def build(self, input_shape: Iterable[int], head: Head | None = None, name: str | None = None):
        """Builds a functional `keras.Model` for `input_shape` (no batch axis) and an optional head."""
        from keras_nas.architecture import building

        return building.build_model(self, input_shape, head=head, name=name)

    @classmethod
    def from_keras_model(cls, model) -> Architecture:
        """Describes a built functional or Sequential Keras model (head layers included)."""
        from keras_nas.architecture import reading

        return reading.architecture_from_model(model)


@dataclasses.dataclass(frozen=True)
class Head:
    """The task-specific output of a network: what the last Dense layer predicts.

    `task` is `"classification"` (softmax over `units` classes, sparse
    categorical cross-entropy) or `"regression"` (`units` linear outputs, mean
    squared error). A body whose output is not flat is flattened first
    (`reduce="flatten"`) or globally average-pooled (`reduce="avg"`).
    """

    task: str
    units: int
    reduce: str = "flatten"

    def __post_init__(self) -> None:
        if self.task not in ("classification", "regression"):
            raise ValueError(f"Head task must be 'classification' or 'regression'; received {self.task!r}.")
        if int(self.units) < 1:
            raise ValueError(f"Head units must be >= 1; received {self.units}.")
        if self.reduce not in ("flatten", "avg"):
            raise ValueError(f"Head reduce must be 'flatten' or 'avg'; received {self.reduce!r}.")
        object.__setattr__(self, "units", int(self.units))

    @property
    def activation(self) -> str:
        return "softmax" if self.task == "classification" else "linear"

    @property
    def loss(self) -> str:
        return "sparse_categorical_crossentropy" if self.task == "classification" else "mean_squared_error"

    @property
    def metrics(self) -> list[str]:
        return ["accuracy"] if self.task == "classification" else ["mean_absolute_error"]

    @property
    def objective(self) -> str:
        return "val_accuracy" if self.task == "classification" else "val_loss"
