"""Run the tap with ``python -m tap_customerio``."""

from tap_customerio.tap import TapCustomerIO

TapCustomerIO.cli()
