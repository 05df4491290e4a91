"""Search spaces: keras-tuner HyperModels that describe their networks as `Architecture`s."""

from __future__ import annotations

from collections.abc import Sequence

from keras_nas.spaces.base import SearchSpace
from keras_nas.spaces.conv import ConvSpace
from keras_nas.spaces.dense import DenseSpace
from keras_nas.spaces.morphism import MorphismSpace
from keras_nas.utils.registry import Registry

SPACES: Registry[type[SearchSpace]] = Registry("search_space", hint="or 'auto', a HyperModel or a build function")


def register_space(name: str, space: type[SearchSpace]) -> type[SearchSpace]:
    """Makes `space` available as `get_space(name)` and `NASClassifier(search_space=name)`; returns it."""
    if not (isinstance(space, type) and issubclass(space, SearchSpace)):
        raise TypeError(f"A search space must be a SearchSpace subclass; received {space!r}.")
    return SPACES.register(name, space)


register_space("dense", DenseSpace)
register_space("conv", ConvSpace)
register_space("morphism", MorphismSpace)


def get_space(name: str, input_shape: Sequence[int], grow: bool = False) -> SearchSpace:
    """Returns a new space by name.

    `"auto"` picks `"morphism"` when `grow` is set (the morphism oracle grows
    networks from a seed), else dense for 1-D examples and conv for 2-D and 3-D ones.
    """
    rank = len(tuple(input_shape))
    if name == "auto":
        if rank not in (1, 2, 3):
            raise ValueError(
                f"search_space='auto' needs examples of rank 1, 2 or 3; received shape {tuple(input_shape)}."
            )
        name = "morphism" if grow else "dense" if rank == 1 else "conv"
    return SPACES.get(name)()


__all__ = ["SPACES", "ConvSpace", "DenseSpace", "MorphismSpace", "SearchSpace", "get_space", "register_space"]
