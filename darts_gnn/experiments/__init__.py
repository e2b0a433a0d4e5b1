"""Experiments over the pipeline: strategy comparisons (``compare``) and their reports."""
