"""Describing an existing Keras model as an `Architecture`.

This is how any HyperModel's output can be compared with others: the main path
is the longest input-to-output path of the layer graph (merge layers do not
count), every `Add` or `Concatenate` on it becomes a skip connection from the
main-path node its other inputs come from, and layers on side branches (such
as projections) are folded into the skip. Layers that `keras_nas.architecture.kinds`
does not model are kept as `keras`-kind layers with their full config, so an
architecture derived from a plain chain of layers rebuilds the same network.
A model that this does not describe exactly is refused with a `ValueError`:
other merges (`Average`, `Maximum`, `Multiply`, ...), which have no skip type,
and side branches that are not the projections the builder gives a skip.
"""

from __future__ import annotations

from typing import Any

import keras

from keras_nas.architecture import kinds
from keras_nas.architecture.architecture import Architecture, Layer, Skip

_MERGES = {"Add": "add", "Concatenate": "concat"}
# Merges an Architecture's skips cannot express: reading them as `add` would describe another function.
_UNSUPPORTED_MERGES = ("Average", "Maximum", "Minimum", "Multiply", "Subtract", "Dot")


def layer_from_keras(layer: keras.layers.Layer) -> Layer:
    """Describes one Keras layer as a `Layer` of the kind that claims it (`LayerKind.from_keras`), else of the
    `keras` kind. Kinds are asked latest registered first, so a user's kind can claim a layer a built-in one claims."""
    for kind in reversed(kinds.KINDS.entries()):
        described = kind.from_keras(layer)
        if described is not None:
            return described
    return Layer.of("keras", **kinds.keras_layer_spec(layer))


def _graph(model: keras.Model):
    """Each layer of the model with the list of its parent layers."""
    parents = {}
    for layer in model.layers:
        nodes = [node for node in layer._inbound_nodes if node.operation is layer]
        parents[layer] = [p.operation for p in nodes[0].parent_nodes] if nodes else []
    return parents


def architecture_from_model(model: keras.Model) -> Architecture:
    """Describes a built single-input, single-output Keras model."""
    if not isinstance(model, keras.Model):
        raise TypeError(f"Expected a keras.Model; received {type(model).__name__}.")
    if isinstance(model, keras.Sequential):
        model = getattr(model, "_functional", None) or model
    if not getattr(model, "built", False) or not hasattr(model, "inputs") or model.inputs is None:
        raise ValueError("Only built functional or Sequential models can be described; call the model once first.")
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(
            f"Only single-input, single-output models can be described; this one has "
            f"{len(model.inputs)} inputs and {len(model.outputs)} outputs."
        )
    for layer in model.layers:
        if type(layer).__name__ in _UNSUPPORTED_MERGES:
            raise ValueError(
                f"The model merges branches with {type(layer).__name__} (layer {layer.name!r}); an Architecture's "
                "skip connections only add or concatenate, so describing this model would change what it computes. "
                "Only models whose merges are Add or Concatenate can be described."
            )
    parents = _graph(model)
    # Longest path (merges weigh nothing) by dynamic programming in topological order.
    depth: dict[Any, int] = {}
    best_parent: dict[Any, Any] = {}
    for layer in model.layers:
        weight = 0 if type(layer).__name__ in _MERGES or isinstance(layer, keras.layers.InputLayer) else 1
        options = [(depth[p], p) for p in parents[layer] if p in depth]
        base, parent = max(options, key=lambda item: item[0]) if options else (0, None)
        depth[layer], best_parent[layer] = base + weight, parent
    output_layer = model.outputs[0]._keras_history.operation
    path = []
    layer = output_layer
    while layer is not None:
        path.append(layer)
        layer = best_parent[layer]
    path.reverse()

    main_layers: list[Layer] = []
    node_of: dict[Any, int] = {}
    skips: list[Skip] = []
    for layer in path:
        kind = type(layer).__name__
        if isinstance(layer, keras.layers.InputLayer):
            node_of[layer] = 0
        elif kind in _MERGES:
            target = len(main_layers)
            for other in parents[layer]:
                source = _main_ancestor(other, node_of, parents)
                if source is not None and source < target:
                    merge = _MERGES[kind]
                    if merge == "add" and not _projected(other, node_of, parents):
                        merge = "add_identity"
                    skips.append(Skip(source, target, merge))
            node_of[layer] = target
        else:
            main_layers.append(layer_from_keras(layer))
            node_of[layer] = len(main_layers)
    architecture = Architecture(main_layers, skips)
    _check_exact(model, architecture)
    return architecture


def _layer_signature(model: keras.Model) -> list[tuple[str, tuple]]:
    return sorted(
        (type(layer).__name__, tuple(tuple(w.shape) for w in layer.weights))
        for layer in model.layers
        if not isinstance(layer, keras.layers.InputLayer)
    )


def _check_exact(model: keras.Model, architecture: Architecture) -> None:
    """Raises ValueError unless `architecture` builds the same layers, with the same weight shapes, as `model`.

    Side branches are read as the projections the builder gives a skip; a
    branch that is anything else (a cell's edges, a convolution on a shortcut)
    has no place in an `Architecture`, and describing it would change the network.
    """
    rebuilt = architecture.build(tuple(model.inputs[0].shape[1:]))
    ours, theirs = _layer_signature(rebuilt), _layer_signature(model)
    if ours != theirs:
        extra = sorted(set(theirs) - set(ours)) or sorted(set(ours) - set(theirs))
        raise ValueError(
            f"This model cannot be described exactly as an Architecture: read as one, it would rebuild with "
            f"{rebuilt.count_params()} parameters instead of {model.count_params()} (first differing layers: "
            f"{extra[:3]}). An Architecture holds one main path whose side branches are only the projections "
            "of its skips; describe models with other branches by their search space's `architecture(hp)`."
        )


def _projected(layer, node_of: dict, parents: dict) -> bool:
    """Whether a side branch into an `Add` has a layer with weights (a projection), not only pooling."""
    while layer is not None and layer not in node_of:
        if layer.weights:
            return True
        layer = parents[layer][0] if parents.get(layer) else None
    return False


def _main_ancestor(layer, node_of: dict, parents: dict) -> int | None:
    """The main-path node a side branch starts from (following first parents)."""
    seen = set()
    while layer is not None and layer not in node_of and id(layer) not in seen:
        seen.add(id(layer))
        layer = parents[layer][0] if parents.get(layer) else None
    return node_of.get(layer) if layer is not None else None
