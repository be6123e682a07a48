"""API-triggered broadcasts (``/v1/broadcasts``)."""

from __future__ import annotations

import typing as t

from singer_sdk import typing as th

from tap_customerio.client import CustomerIOStream
from tap_customerio.streams.schemas import ID_TYPE_LIST, TAGS

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


class BroadcastsStream(CustomerIOStream):
    """API-triggered broadcasts: ``GET /v1/broadcasts``, one unpaged list.

    There is no time filter, so ``updated`` is compared with the bookmark on the
    client.
    """

    name = "broadcasts"
    path = "/broadcasts"
    envelope_key = "broadcasts"
    primary_keys = ("id",)
    replication_key = "updated"
    client_side_filter = True

    schema = th.PropertiesList(
        th.Property("id", th.IntegerType, required=True),
        th.Property("deduplicate_id", th.StringType),
        th.Property("name", th.StringType),
        th.Property("type", th.StringType),
        th.Property("active", th.BooleanType),
        th.Property("state", th.StringType),
        th.Property("created", th.DateTimeType),
        th.Property("updated", th.DateTimeType),
        th.Property("first_started", th.DateTimeType),
        th.Property("created_by", th.StringType),
        th.Property("tags", TAGS),
        th.Property("actions", ID_TYPE_LIST),
        th.Property("msg_template_ids", ID_TYPE_LIST),
    ).to_dict()

    def get_child_context(self, record: dict, context: Context | None) -> dict:
        """Pass only the broadcast id to the child streams."""
        return {"broadcast_id": record["id"]}
