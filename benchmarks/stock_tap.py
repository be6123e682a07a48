"""The tap's streams through a stock SDK pipeline, as the benchmarks' baseline.

Stock means the SDK defaults: the standard JSON message writer, the SDK's RECORD
message generation with recursive type conformance of every record, and the
standard library's JSON parser. The tap's own schema fitting runs uncompiled, as it
did before the CPU work, so the baseline stays where the comparison started.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.io_base import SingerWriter
from singer_sdk.streams import Stream

from tap_customerio import client
from tap_customerio.conform import fit_record
from tap_customerio.streams import STREAM_TYPES
from tap_customerio.tap import TapCustomerIO


class StockTap(TapCustomerIO):
    """TapCustomerIO with the SDK's default writer."""

    message_writer_class = SingerWriter


def _uncompiled_fit(stream: client.CustomerIOStream):
    return lambda record: fit_record(record, stream.schema)


client.CustomerIOStream._generate_record_messages = Stream._generate_record_messages
client.CustomerIOStream._fit_record = property(_uncompiled_fit)
client._decode_json = json.loads
client._encode_sorted_json = lambda page: json.dumps(page, sort_keys=True, default=str).encode()
for stream_class in STREAM_TYPES:
    stream_class.TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.RECURSIVE

if __name__ == "__main__":
    StockTap.cli()
