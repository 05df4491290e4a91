"""A search whose trials train in a child process and hold there: `test_trial_process.py` kills it.

Run by path: `python _trial_process_search.py DIRECTORY [resumable]`; with `resumable` it holds only in
the second training ever (one trial finished before it) and prints each trial's score at the end.
Importing this module does nothing.
"""
import json
import sys


def main(directory: str, resumable: bool = False) -> None:
    import numpy as np

    from keras_nas import NASClassifier
    from keras_nas.spaces import DenseSpace
    from tests._trial_process_helpers import Hold, HoldInSecondTraining

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(60, 4)).astype("float32"), np.arange(60) % 2
    hold = HoldInSecondTraining(directory) if resumable else Hold()
    clf = NASClassifier(search_space=DenseSpace(), oracle="random", max_trials=3 if resumable else 2, epochs=1,
                        trials_per_process=1, callbacks=[hold], directory=directory, seed=0).fit(x, y)
    scores = {row["trial_id"]: (row["status"], row["score"]) for row in clf.leaderboard_}
    print("scores", json.dumps(scores, sort_keys=True), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], resumable=sys.argv[2:] == ["resumable"])
