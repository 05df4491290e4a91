"""Helpers every layer may use: `atomic` (crash-safe file writes)."""
