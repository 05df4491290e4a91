"""Architecture search on tabular data given as a pandas DataFrame.

Shows: NASClassifier on the breast cancer features (the "auto" space picks
DenseSpace) fitted on a DataFrame as is, no scaler needed since the estimator
standardises its inputs, then scikit-learn's cross_val_score on the same
estimator. Falls back to numpy arrays when pandas is not installed.

Run:
    python examples/tabular_breast_cancer.py           # 10 trials, 20 epochs, 3-fold CV
    python examples/tabular_breast_cancer.py --quick   # 2 trials, 1 epoch, 2-fold CV
"""

import argparse

from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import cross_val_score, train_test_split

from keras_nas import NASClassifier


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 trials of 1 epoch, 2 folds")
    args = parser.parse_args()

    try:
        import pandas  # noqa: F401  (only to know whether as_frame works)

        x, y = load_breast_cancer(return_X_y=True, as_frame=True)  # DataFrame, Series
    except ImportError:
        x, y = load_breast_cancer(return_X_y=True)  # numpy arrays
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, stratify=y, random_state=0)

    clf = NASClassifier(
        max_trials=2 if args.quick else 10,
        epochs=1 if args.quick else 20,
        seed=0,
        verbose=1,
    )
    clf.fit(x_train, y_train)
    print(f"\nBest architecture: {clf.best_architecture_.summary()}")
    if hasattr(clf, "feature_names_in_"):
        print(f"Features seen: {len(clf.feature_names_in_)} columns, e.g. {list(clf.feature_names_in_[:3])}")
    print(f"Test accuracy: {clf.score(x_test, y_test):.4f}")

    # Every fold runs its own search (in its own temporary directory).
    folds = 2 if args.quick else 3
    scores = cross_val_score(clf.set_params(verbose=0), x, y, cv=folds)
    print(f"{folds}-fold cross-validated accuracy: {scores.mean():.4f} +/- {scores.std():.4f}")


if __name__ == "__main__":
    main()
