import pytest
import tensorflow as tf


@pytest.fixture(scope="package", autouse=True)
def _no_graph_rewrites():
    # Supernet tests trace many small, short-lived graphs: Grappler's rewrites cost more (seconds per traced
    # train step) than they ever save here. They change speed, not results; restored after the package.
    previous = tf.config.optimizer.get_experimental_options()
    tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})
    yield
    restored = previous.get("disable_meta_optimizer", False)
    tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": restored})
