"""One-time sends (``/v1/newsletters``)."""

from __future__ import annotations

import typing as t

from singer_sdk import typing as th

from tap_customerio.client import CustomerIOStream
from tap_customerio.streams.schemas import CONTENT_PROPERTIES, TAGS

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
    personal_data = "no"
    request_cost = "1 per 100 one-time sends"

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


class NewsletterVariantsStream(CustomerIOStream):
    """One-time send variants: ``GET /v1/newsletters/{newsletter_id}/contents``, unpaged.

    One record per language or A/B test variant, each with its own ``id``. Variants
    carry an ``updated`` time that the spec does not document (it equals the time in
    ``deduplicate_id``), so the stream is full table and keeps ``updated`` as data.
    """

    name = "newsletter_variants"
    path = "/newsletters/{newsletter_id}/contents"
    envelope_key = "contents"
    parent_stream_type = NewslettersStream
    primary_keys = ("newsletter_id", "id")
    personal_data = "no (templates; `cc`/`bcc` may hold literal addresses)"
    request_cost = "1 per one-time send"

    # Full table: one empty STATE entry per parent would only grow the state.
    state_partitioning_keys: t.ClassVar[list[str]] = []

    schema = th.PropertiesList(
        th.Property("newsletter_id", th.IntegerType, required=True),
        th.Property("id", th.IntegerType, required=True),
        *CONTENT_PROPERTIES,
        th.Property("test_group_id", th.IntegerType),
    ).to_dict()

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        """Set the parent id from the context and convert timestamps."""
        row = super().post_process(row, context)
        if row is not None and context:
            row["newsletter_id"] = context["newsletter_id"]
        return row


class NewsletterTestGroupsStream(CustomerIOStream):
    """A/B test groups of a one-time send: ``GET /v1/newsletters/{newsletter_id}/test_groups``.

    The path and the ``test_groups`` key are inferred: no spec operation gives them,
    and only the docs page of ``getNewsletterTestGroups`` shows them in an example,
    with group ids starting at 0. A send without an A/B test has no groups.
    """

    name = "newsletter_test_groups"
    path = "/newsletters/{newsletter_id}/test_groups"
    envelope_key = "test_groups"
    parent_stream_type = NewslettersStream
    primary_keys = ("newsletter_id", "id")
    personal_data = "no"
    request_cost = "1 per one-time send"

    # Full table: one empty STATE entry per parent would only grow the state.
    state_partitioning_keys: t.ClassVar[list[str]] = []

    schema = th.PropertiesList(
        th.Property("newsletter_id", th.IntegerType, required=True),
        th.Property("id", th.IntegerType, required=True),
        th.Property("name", th.StringType),
        th.Property("label", th.StringType),
        th.Property("winner", th.BooleanType),
        th.Property("content_ids", th.ArrayType(th.IntegerType)),
    ).to_dict()

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        """Add the parent id, which the API leaves out of each group."""
        row = super().post_process(row, context)
        if row is not None and context:
            row["newsletter_id"] = context["newsletter_id"]
        return row
