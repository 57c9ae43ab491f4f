"""Runs: the run-folder catalogue, step keys and reuse, series of periodic runs and what changed since the last."""
