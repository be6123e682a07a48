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


def _uncompiled_fit(stream: client.CustomerIOStream):
    return lambda record: fit_record(record, stream.schema)


def _stdlib_digest_text(page: dict) -> bytes:
    return json.dumps(page, sort_keys=True, default=str).encode("utf-8")


#: (owner, attribute, stock value) for each part of the pipeline that differs.
STOCK_PARTS = [
    (TapCustomerIO, "message_writer_class", SingerWriter),
    (client.CustomerIOStream, "_generate_record_messages", Stream._generate_record_messages),
    (client.CustomerIOStream, "_fit_record", property(_uncompiled_fit)),
    (client, "_decode_json", json.loads),
    (client, "_encode_sorted_json", _stdlib_digest_text),
] + [
    (stream_class, "TYPE_CONFORMANCE_LEVEL", TypeConformanceLevel.RECURSIVE)
    for stream_class in STREAM_TYPES
]


def apply_stock_path() -> list[tuple]:
    """Switch the tap to the stock pipeline; return what ``restore`` needs."""
    saved = [(owner, name, owner.__dict__.get(name)) for owner, name, _ in STOCK_PARTS]
    for owner, name, value in STOCK_PARTS:
        setattr(owner, name, value)
    return saved


def restore(saved: list[tuple]) -> None:
    """Undo ``apply_stock_path``."""
    for owner, name, value in saved:
        if value is None:
            delattr(owner, name)
        else:
            setattr(owner, name, value)


if __name__ == "__main__":
    apply_stock_path()
    TapCustomerIO.cli()
