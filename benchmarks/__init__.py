"""Benchmarks: `make bench` runs them all; each writes JSON + PNG under benchmarks/results/."""
