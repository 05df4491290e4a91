"""A search whose trials train in a child process and hold there: `test_trial_process.py` kills it.

Run by path: `python _trial_process_search.py DIRECTORY`. Importing this module does nothing.
"""
import sys


def main(directory: str) -> None:
    import numpy as np

    from keras_nas import NASClassifier
    from keras_nas.spaces import DenseSpace
    from tests._trial_process_helpers import Hold

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(60, 4)).astype("float32"), np.arange(60) % 2
    NASClassifier(search_space=DenseSpace(), oracle="random", max_trials=2, epochs=1, trials_per_process=1,
                  callbacks=[Hold()], directory=directory, seed=0).fit(x, y)


if __name__ == "__main__":
    main(sys.argv[1])
