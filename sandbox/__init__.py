"""A Customer.io App API simulator for tests, the demo and the benchmarks."""

from sandbox.server import DEFAULT_API_KEY, Sandbox

__all__ = ["DEFAULT_API_KEY", "Sandbox"]
