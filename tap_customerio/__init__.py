"""Singer tap for the Customer.io App API."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tap-customerio")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
