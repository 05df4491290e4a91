"""`SearchSpace`: a keras-tuner HyperModel that can describe what it builds."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any

import keras
import keras_tuner

from keras_nas.architecture import Architecture, Head

OPTIMIZERS = {
    "adam": keras.optimizers.Adam,
    "adamw": keras.optimizers.AdamW,
    "rmsprop": keras.optimizers.RMSprop,
    "sgd": lambda learning_rate: keras.optimizers.SGD(learning_rate, momentum=0.9, nesterov=True),
}


class SearchSpace(keras_tuner.HyperModel, abc.ABC):
    """A keras-tuner `HyperModel` whose every model is described by an `Architecture`.

    Subclasses implement `architecture(hp)`, which declares the hyperparameters
    it reads and returns the body of the network. `build(hp)` adds the task head,
    builds the Keras model and compiles it with the searched optimizer and
    learning rate. The data-dependent part (input shape and head) is set by
    `configure`, which `NASClassifier` and `NASRegressor` call for you; to use a
    space in a plain keras-tuner Tuner, pass `input_shape` and `head` directly.

    Args:
        input_shape: Shape of one example, without the batch axis.
        head: The `Head` the networks end with.
        optimizers: Optimizer names to choose from (`adam`, `adamw`,
            `rmsprop`, `sgd`); one name pins it.
        learning_rate: A `(low, high)` range searched on a log scale, or one
            float to pin it.

    Example:

    ```python
    space = DenseSpace(input_shape=(30,), head=Head("classification", 2))
    tuner = keras_tuner.RandomSearch(space, objective="val_accuracy", max_trials=3)
    ```
    """

    def __init__(
        self,
        input_shape: Sequence[int] | None = None,
        head: Head | None = None,
        optimizers: Sequence[str] | str = ("adam", "rmsprop"),
        learning_rate: tuple[float, float] | float = (1e-4, 1e-2),
        name: str | None = None,
    ) -> None:
        super().__init__(name=name, tunable=True)
        self.input_shape = None if input_shape is None else tuple(int(d) for d in input_shape)
        self.head = head
        self.optimizers = (optimizers,) if isinstance(optimizers, str) else tuple(optimizers)
        for optimizer in self.optimizers:
            if optimizer not in OPTIMIZERS:
                raise ValueError(f"Unknown optimizer {optimizer!r}; choose from {sorted(OPTIMIZERS)}.")
        self.learning_rate = learning_rate

    # -- what subclasses provide ----------------------------------------
    @abc.abstractmethod
    def architecture(self, hp: keras_tuner.HyperParameters) -> Architecture:
        """Declares the hyperparameters it reads and returns the network body they describe."""

    def accepts(self, input_shape: Sequence[int]) -> bool:
        """Whether this space can build networks for examples of this shape."""
        return True

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments other than input_shape, head and name (JSON-friendly).

        `configure` rebuilds the space from them, and they identify a resumed search.
        """
        return {"optimizers": list(self.optimizers), "learning_rate": self.learning_rate}

    # -- shared machinery ----------------------------------------------
    def configure(self, input_shape: Sequence[int], head: Head) -> SearchSpace:
        """Returns a copy set up for this data's input shape and head."""
        if not self.accepts(input_shape):
            raise ValueError(f"{type(self).__name__} cannot build networks for inputs of shape {tuple(input_shape)}.")
        # A new instance, not a copy: keras-tuner binds `build` to the instance it wraps.
        return type(self)(**self.get_config(), input_shape=tuple(input_shape), head=head, name=self.name)

    def optimizer(self, hp: keras_tuner.HyperParameters) -> keras.optimizers.Optimizer:
        name = self.optimizers[0] if len(self.optimizers) == 1 else hp.Choice("optimizer", list(self.optimizers))
        if isinstance(self.learning_rate, (int, float)):
            rate = float(self.learning_rate)
        else:
            low, high = self.learning_rate
            rate = hp.Float("learning_rate", float(low), float(high), sampling="log", default=min(max(1e-3, low), high))
        return OPTIMIZERS[name](learning_rate=rate)

    def build(self, hp: keras_tuner.HyperParameters) -> keras.Model:
        if self.input_shape is None or self.head is None:
            raise ValueError(
                f"{type(self).__name__} needs `input_shape` and `head` before building: pass them to the "
                "constructor or call `configure(input_shape, head)`."
            )
        model = self.architecture(hp).build(self.input_shape, head=self.head)
        model.compile(optimizer=self.optimizer(hp), loss=self.head.loss, metrics=self.head.metrics)
        return model
