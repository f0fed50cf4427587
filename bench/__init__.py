"""Benchmarks: speed, memory and quality figures, measured outside the unit tests."""
