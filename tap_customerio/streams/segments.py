"""Segments (``/v1/segments``)."""

from __future__ import annotations

import typing as t

from singer_sdk import typing as th

from tap_customerio.client import CustomerIOStream
from tap_customerio.streams.schemas import TAGS

if t.TYPE_CHECKING:
    import requests
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
    personal_data = "no"
    request_cost = "1 per run"

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


class SegmentMembershipsStream(CustomerIOStream):
    """Segment members: ``GET /v1/segments/{segment_id}/membership``, cursor-paged.

    ``limit`` may be at most 30000. Pages can be shorter than ``limit`` before the
    end, so only an empty ``next`` ends the walk. Each page is emitted before the
    next is requested, so a large segment is never held in memory. Records come
    from ``identifiers``; the deprecated ``ids`` array beside it is ignored because
    it lacks ``cio_id`` and shows people without an id as ``""``.
    """

    name = "segment_memberships"
    path = "/segments/{segment_id}/membership"
    envelope_key = "identifiers"
    parent_stream_type = SegmentsStream
    primary_keys = ("segment_id", "cio_id")
    paged = True
    page_size = 30000
    personal_data = "yes: `cio_id`, `email`, `id` of each member"
    request_cost = "1 per 30 000 members of each segment, at least 1"

    # Full table: one empty STATE entry per parent would only grow the state.
    state_partitioning_keys: t.ClassVar[list[str]] = []

    schema = th.PropertiesList(
        th.Property("segment_id", th.IntegerType, required=True),
        th.Property("cio_id", th.StringType, required=True),
        th.Property("email", th.StringType),
        th.Property("id", th.StringType),
    ).to_dict()

    _segment_id: t.Any = None
    _pages_read = 0
    _members_read = 0

    def get_records(self, context: Context | None) -> t.Iterable[dict]:
        """Yield one segment's members, counting pages for the progress log."""
        self._segment_id = context.get("segment_id") if context else None
        self._pages_read = 0
        self._members_read = 0
        yield from super().get_records(context)

    def parse_response(self, response: requests.Response) -> t.Iterable[dict]:
        """Yield the members of one page, then report the segment's progress."""
        self._pages_read += 1
        for record in super().parse_response(response):
            self._members_read += 1
            yield record
        self._tap.progress.report(
            self.name,
            "segment %s: %d pages read, %d members so far.",
            self._segment_id,
            self._pages_read,
            self._members_read,
        )

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        """Add the segment id to each member."""
        row = super().post_process(row, context)
        if row is not None and context:
            row["segment_id"] = context["segment_id"]
        return row
