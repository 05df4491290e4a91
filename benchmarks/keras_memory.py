"""What a plain Keras loop keeps per fit: the baseline behind keras_nas's trial processes.

Builds, compiles and fits 30 small conv nets on digits one after the other in
this process (no keras_nas search; `keras.backend.clear_session()` and
`gc.collect()` before each, as keras-tuner does), and prints the resident set
size after each fit and the ratio after fit 30 / after fit 5. `--release` also
dismantles each fit's traced graphs (`keras_nas.backend.tracing.release_traced_functions`).

    python -m benchmarks.keras_memory
    python -m benchmarks.keras_memory --release
"""

from __future__ import annotations

import argparse
import gc
import os


def rss_mib() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fits", type=int, default=30)
    parser.add_argument("--release", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    from sklearn.datasets import load_digits

    from keras_nas.backend.tracing import release_traced_functions

    x, y = load_digits(return_X_y=True)
    x = (x / 16).reshape(-1, 8, 8, 1).astype("float32")
    readings = []
    for fit in range(args.fits):
        keras.backend.clear_session()
        gc.collect()
        width, depth = 16 + 8 * (fit % 5), 1 + fit % 3  # networks of several sizes, as a search trains
        inputs = hidden = keras.Input((8, 8, 1))
        for _ in range(depth):
            hidden = keras.layers.Conv2D(width, 3, padding="same")(hidden)
            hidden = keras.layers.ReLU()(keras.layers.BatchNormalization()(hidden))
        outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.GlobalAveragePooling2D()(hidden))
        model = keras.Model(inputs, outputs)
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(x, y, epochs=2, batch_size=32, validation_split=0.2, verbose=0)
        if args.release:
            release_traced_functions(model)
        del model
        gc.collect()
        readings.append(round(rss_mib()))
    print("RSS MiB after each fit:", readings)
    if len(readings) >= 5:
        print(f"after fit {len(readings)} / after fit 5: {readings[-1] / readings[4]:.3f}; "
              f"{(readings[-1] - readings[4]) / (len(readings) - 5):.1f} MiB a fit")


if __name__ == "__main__":
    main()
