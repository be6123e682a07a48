"""Benchmarks of the tap against the sandbox; run with ``python -m benchmarks.run``."""
