"""Transactional message templates (``/v1/transactional``)."""

from __future__ import annotations

import typing as t

from singer_sdk import typing as th

from tap_customerio.client import CustomerIOStream
from tap_customerio.streams.schemas import ACTION_PROPERTIES

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


class TransactionalMessagesStream(CustomerIOStream):
    """Transactional templates: ``GET /v1/transactional``, one unpaged list.

    The envelope key is ``messages`` although these are templates, not deliveries.
    There is no time filter, so ``updated_at`` is compared with the bookmark on the
    client.
    """

    name = "transactional_messages"
    path = "/transactional"
    envelope_key = "messages"
    primary_keys = ("id",)
    replication_key = "updated_at"
    client_side_filter = True
    personal_data = "no"
    request_cost = "1 per run"

    schema = th.PropertiesList(
        th.Property("id", th.IntegerType, required=True),
        th.Property("name", th.StringType),
        th.Property("description", th.StringType),
        th.Property("send_to_unsubscribed", th.BooleanType),
        th.Property("link_tracking", th.BooleanType),
        th.Property("open_tracking", th.BooleanType),
        th.Property("hide_message_body", th.BooleanType),
        th.Property("queue_drafts", th.BooleanType),
        th.Property("trigger_name", th.StringType),
        th.Property("created_at", th.DateTimeType),
        th.Property("updated_at", th.DateTimeType),
    ).to_dict()

    def get_child_context(self, record: dict, context: Context | None) -> dict:
        """Pass only the template id to the child streams."""
        return {"transactional_id": record["id"]}


class TransactionalVariantsStream(CustomerIOStream):
    """Transactional template contents: ``GET /v1/transactional/{transactional_id}/contents``.

    One record per language variant, with the fields of an action and ``type``
    email or push. The path and the ``contents`` key are unverified: the docs page
    of ``listTransactionalVariants`` shows them, but the single-variant operation is
    spelled ``/content/{content_id}``. The objects do not carry the template id, so
    it comes from the parent.
    """

    name = "transactional_variants"
    path = "/transactional/{transactional_id}/contents"
    envelope_key = "contents"
    parent_stream_type = TransactionalMessagesStream
    primary_keys = ("transactional_id", "id")
    personal_data = "no (templates; `cc`/`bcc` may hold literal addresses)"
    request_cost = "1 per transactional template"

    # Full table: one empty STATE entry per parent would only grow the state.
    state_partitioning_keys: t.ClassVar[list[str]] = []

    schema = th.PropertiesList(
        th.Property("transactional_id", th.IntegerType, required=True),
        *ACTION_PROPERTIES,
    ).to_dict()

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        """Cast the id to an integer, set the parent id and convert timestamps."""
        row = super().post_process(row, context)
        if row is not None:
            row["id"] = int(row["id"])
            if context:
                row["transactional_id"] = context["transactional_id"]
        return row
