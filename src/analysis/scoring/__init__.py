"""Scoring: the model stage (fit, holdout check, refit, score), customer lifetime value, saved models."""
