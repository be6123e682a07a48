"""One-time sends (``/v1/newsletters``)."""

from __future__ import annotations

import typing as t

from singer_sdk import typing as th

from tap_customerio.client import CustomerIOStream
from tap_customerio.streams.schemas import TAGS

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


class NewslettersStream(CustomerIOStream):
    """One-time sends: ``GET /v1/newsletters``, cursor-paged.

    The API documents no maximum ``limit`` for this list; 100 is what other
    connectors send without errors. There is no time filter, so ``updated`` is
    compared with the bookmark on the client.
    """

    name = "newsletters"
    path = "/newsletters"
    envelope_key = "newsletters"
    paged = True
    page_size = 100
    primary_keys = ("id",)
    replication_key = "updated"
    client_side_filter = True

    schema = th.PropertiesList(
        th.Property("id", th.IntegerType, required=True),
        th.Property("deduplicate_id", th.StringType),
        th.Property("name", th.StringType),
        th.Property("type", th.StringType),
        th.Property("content_ids", th.ArrayType(th.IntegerType)),
        th.Property("recipient_segment_ids", th.ArrayType(th.IntegerType)),
        th.Property("tags", TAGS),
        th.Property("created", th.DateTimeType),
        th.Property("updated", th.DateTimeType),
        th.Property("sent_at", th.DateTimeType),
        th.Property("scheduled_at", th.DateTimeType),
        th.Property("send_state", th.StringType),
        th.Property("subscription_topic_id", th.IntegerType),
        th.Property("expires_after", th.IntegerType),
        th.Property("recipient_file_status", th.StringType),
        th.Property("recipient_file_error", th.StringType),
        th.Property("timezone", th.StringType),
        th.Property("tz_match_enabled", th.BooleanType),
    ).to_dict()

    def get_child_context(self, record: dict, context: Context | None) -> dict:
        """Pass only the newsletter id to the child streams."""
        return {"newsletter_id": record["id"]}
