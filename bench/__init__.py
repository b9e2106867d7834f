"""Benchmarks: each writes its figures and the machine it ran on as JSON to bench/results/."""
