"""Segments (``/v1/segments``)."""

from __future__ import annotations

import typing as t

from singer_sdk import typing as th

from tap_customerio.client import CustomerIOStream
from tap_customerio.streams.schemas import TAGS

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


class SegmentsStream(CustomerIOStream):
    """Segments: ``GET /v1/segments``, one unpaged list without archived segments.

    There is no time filter, so ``updated_at`` is compared with the bookmark on the
    client.
    """

    name = "segments"
    path = "/segments"
    envelope_key = "segments"
    primary_keys = ("id",)
    replication_key = "updated_at"
    client_side_filter = True

    schema = th.PropertiesList(
        th.Property("id", th.IntegerType, required=True),
        th.Property("deduplicate_id", th.StringType),
        th.Property("name", th.StringType),
        th.Property("description", th.StringType),
        th.Property("state", th.StringType),
        th.Property("progress", th.NumberType),
        th.Property("type", th.StringType),
        th.Property("tags", TAGS),
        th.Property("conditions", th.ObjectType()),
        th.Property("created_at", th.DateTimeType),
        th.Property("updated_at", th.DateTimeType),
    ).to_dict()

    def get_child_context(self, record: dict, context: Context | None) -> dict:
        """Pass only the segment id to the child streams."""
        return {"segment_id": record["id"]}
