"""Helpers every layer may use: `atomic` (crash-safe file writes), `budget` (the one time budget)."""
