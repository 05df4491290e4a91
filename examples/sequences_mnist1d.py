"""Architecture search on mnist1d, a small 1-D sequence benchmark.

Shows: NASClassifier on sequences of shape (40, 1) (the "auto" space picks
ConvSpace with 1-D convolutions) and scoring on the dataset's own test split.
Needs the mnist1d package: pip install ".[datasets]".

Run:
    python examples/sequences_mnist1d.py              # 10 trials, 10 epochs
    python examples/sequences_mnist1d.py --quick      # 2 trials, 1 epoch (smoke test)
"""

import argparse

from keras_nas import NASClassifier
from keras_nas.datasets import load


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 trials of 1 epoch")
    args = parser.parse_args()

    data = load("mnist1d")  # 4000 training and 1000 test sequences of shape (40, 1)
    clf = NASClassifier(
        max_trials=2 if args.quick else 10,
        epochs=1 if args.quick else 10,
        seed=0,
        verbose=1,
    )
    clf.fit(data.x, data.y)

    print(f"\nBest architecture: {clf.best_architecture_.summary()}")
    print(f"Validation accuracy in the search: {clf.best_score_:.4f}")
    print(f"Test accuracy: {clf.score(data.x_test, data.y_test):.4f} "
          f"(search {clf.search_seconds_:.0f}s, refit {clf.refit_seconds_:.0f}s on {clf.device_})")


if __name__ == "__main__":
    main()
