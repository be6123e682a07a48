"""The tap's streams through a stock SDK pipeline, as the benchmarks' baseline.

Stock means the SDK defaults: the standard JSON message writer and recursive type
conformance of every record.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.io_base import SingerWriter

from tap_customerio.streams import STREAM_TYPES
from tap_customerio.tap import TapCustomerIO


class StockTap(TapCustomerIO):
    """TapCustomerIO with the SDK's default writer."""

    message_writer_class = SingerWriter


for stream_class in STREAM_TYPES:
    stream_class.TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.RECURSIVE

if __name__ == "__main__":
    StockTap.cli()
