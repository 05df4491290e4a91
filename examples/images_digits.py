"""Architecture search on 8x8 digit images, then a SavedModel export.

Shows: NASClassifier on images (the "auto" space picks ConvSpace), the
leaderboard, test accuracy, and exporting the best model as a TensorFlow
SavedModel that is reloaded with tf.saved_model.load and checked against the
estimator's own probabilities.

Run:
    python examples/images_digits.py                   # 10 trials, 10 epochs
    python examples/images_digits.py --quick           # 2 trials, 1 epoch (smoke test)
    python examples/images_digits.py --export /tmp/digits_model
"""

import argparse

import numpy as np
import tensorflow as tf
from sklearn.model_selection import train_test_split

from keras_nas import NASClassifier
from keras_nas.datasets import load


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 trials of 1 epoch")
    parser.add_argument("--export", default="digits_model", help="SavedModel directory to write")
    args = parser.parse_args()

    digits = load("digits")  # x: (1797, 8, 8, 1) float32 images, y: 0..9
    x_train, x_test, y_train, y_test = train_test_split(
        digits.x, digits.y, test_size=0.2, stratify=digits.y, random_state=0
    )

    clf = NASClassifier(
        max_trials=2 if args.quick else 10,
        epochs=1 if args.quick else 10,
        seed=0,
        verbose=1,
    )
    clf.fit(x_train, y_train)

    print("\nTop 5 (validation accuracy, parameters, architecture):")
    for row in clf.leaderboard_[:5]:
        score = "-" if row["score"] is None else f"{row['score']:.4f}"
        print(f"  {score:>6}  {row['params'] or 0:>9,}  {row['architecture']}")
    print(f"Best architecture: {clf.best_architecture_.summary()}")
    print(f"Test accuracy: {clf.score(x_test, y_test):.4f}")

    path = clf.export(args.export)
    loaded = tf.saved_model.load(path)  # keep a reference: serve() needs the loaded variables
    served = loaded.serve(x_test).numpy()
    expected = clf.predict_proba(x_test)
    print(f"Exported to {path}; max |served - predict_proba| = {np.abs(served - expected).max():.2e}")
    if not np.allclose(served, expected, atol=1e-5):
        raise SystemExit("The reloaded SavedModel's probabilities differ from the estimator's.")


if __name__ == "__main__":
    main()
