"""Benchmarks of C2B matching and payment posting; run ``python bench/run.py``."""
