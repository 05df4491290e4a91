"""Writing a trained Keras model to disk: TensorFlow SavedModel or the `.keras` format."""

from __future__ import annotations

import os

import keras

FORMATS = ("saved_model", "keras")


def export_model(model: keras.Model, path: str | os.PathLike, format: str = "saved_model") -> str:
    """Writes `model` and returns the path written.

    `"saved_model"` writes a TensorFlow SavedModel directory whose `serve`
    signature runs the model (load it with `tf.saved_model.load(path)`, keep
    the loaded object alive, call `.serve(x)`). `"keras"` writes a `.keras`
    file (the suffix is added if missing), loadable with
    `keras.saving.load_model`.
    """
    path = os.fspath(path)
    if format == "saved_model":
        model.export(path, format="tf_saved_model", verbose=False)
    elif format == "keras":
        if not path.endswith(".keras"):
            path += ".keras"
        model.save(path)
    else:
        raise ValueError(f"Unknown export format {format!r}; choose one of {list(FORMATS)}.")
    return path
