"""Framework-specific code, kept in one place (today: releasing TensorFlow's traced graphs)."""
