"""Export jobs (``/v1/exports``): their metadata, not the exported files."""

from __future__ import annotations

from singer_sdk import typing as th

from tap_customerio.client import CustomerIOStream


class ExportsStream(CustomerIOStream):
    """Exports: ``GET /v1/exports``, one unpaged list.

    The list takes no time filter, so ``updated_at`` is compared with the bookmark
    on the client.
    """

    name = "exports"
    path = "/exports"
    envelope_key = "exports"
    primary_keys = ("id",)
    replication_key = "updated_at"
    client_side_filter = True
    personal_data = "team member's email: `user_email`"
    request_cost = "1 per run"

    schema = th.PropertiesList(
        th.Property("id", th.IntegerType, required=True),
        th.Property("deduplicate_id", th.StringType),
        th.Property("type", th.StringType),
        th.Property("status", th.StringType),
        th.Property("failed", th.BooleanType),
        th.Property("total", th.IntegerType),
        th.Property("downloads", th.IntegerType),
        th.Property("description", th.StringType),
        th.Property("user_id", th.IntegerType),
        th.Property("user_email", th.StringType),
        th.Property("created_at", th.DateTimeType),
        th.Property("updated_at", th.DateTimeType),
    ).to_dict()
