"""Bringing your own search space: a SearchSpace subclass and a keras-tuner build function.

Shows: (a) a keras_nas.SearchSpace subclass that only implements
architecture(hp), searched with NASClassifier on breast_cancer; (b) a plain
keras-tuner build function `build(hp) -> compiled keras.Model`, passed as
search_space on wine (its architectures are derived from the built models).

Run:
    python examples/custom_hypermodel.py               # 8 trials, 10 epochs each
    python examples/custom_hypermodel.py --quick       # 2 trials, 1 epoch (smoke test)
"""

import argparse

import keras

from keras_nas import Architecture, Layer, NASClassifier, SearchSpace, Skip
from keras_nas.datasets import load


class ResidualMLP(SearchSpace):
    """Equal-width dense blocks, each wrapped in a residual `add`."""

    def accepts(self, input_shape):
        return len(input_shape) == 1  # tabular data only

    def architecture(self, hp):
        width = hp.Choice("width", [32, 64, 128])
        layers, skips = [Layer.of("dense", units=width, activation="relu")], []
        for _ in range(hp.Int("blocks", 1, 3)):
            start = len(layers)
            layers += [Layer.of("dense", units=width), Layer.of("batch_norm"), Layer.of("activation", activation="relu")]
            skips.append(Skip(start, len(layers), "add"))  # node `start` is added into the block's output
        if hp.Boolean("dropout"):
            layers.append(Layer.of("dropout", rate=0.3))
        return Architecture(layers, skips)


def build(hp):
    """A keras-tuner build function for wine: 13 features in, 3 class probabilities out."""
    model = keras.Sequential([keras.Input(shape=(13,))])
    for i in range(hp.Int("layers", 1, 3)):
        model.add(keras.layers.Dense(hp.Choice(f"units_{i}", [16, 32, 64]), activation="relu"))
    model.add(keras.layers.Dense(3, activation="softmax"))
    model.compile(
        optimizer=keras.optimizers.Adam(hp.Float("learning_rate", 1e-4, 1e-2, sampling="log")),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 trials of 1 epoch")
    args = parser.parse_args()
    budget = dict(max_trials=2, epochs=1) if args.quick else dict(max_trials=8, epochs=10)

    data = load("breast_cancer")
    clf = NASClassifier(search_space=ResidualMLP(), seed=0, **budget).fit(data.x, data.y)
    print(f"(a) SearchSpace subclass: {clf.best_architecture_.summary()}  val_accuracy={clf.best_score_:.4f}")

    wine = load("wine")
    clf = NASClassifier(search_space=build, seed=0, **budget).fit(wine.x, wine.y)
    print(f"(b) build function:       {clf.best_architecture_.summary()}  val_accuracy={clf.best_score_:.4f}")
    print(f"    best hyperparameters: {clf.best_hyperparameters_}")


if __name__ == "__main__":
    main()
