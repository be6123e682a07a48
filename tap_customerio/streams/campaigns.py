"""Automations (``/v1/campaigns``) and their actions."""

from __future__ import annotations

import typing as t

from singer_sdk import typing as th

from tap_customerio.client import CustomerIOStream
from tap_customerio.streams.actions import ActionListStream
from tap_customerio.streams.schemas import ACTION_PROPERTIES, ID_TYPE_LIST, STRING_OR_JSON, TAGS

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


class CampaignsStream(CustomerIOStream):
    """Automations: ``GET /v1/campaigns``, one unpaged list.

    The API has no time filter on this list, so ``updated`` is compared with the
    bookmark on the client.
    """

    name = "campaigns"
    path = "/campaigns"
    envelope_key = "campaigns"
    primary_keys = ("id",)
    replication_key = "updated"
    client_side_filter = True
    personal_data = "team member's email: `created_by`"
    request_cost = "1 per run"

    schema = th.PropertiesList(
        th.Property("id", th.IntegerType, required=True),
        th.Property("deduplicate_id", th.StringType),
        th.Property("name", th.StringType),
        th.Property("description", th.StringType),
        th.Property("type", th.StringType),
        th.Property("created", th.DateTimeType),
        th.Property("updated", th.DateTimeType),
        th.Property("first_started", th.DateTimeType),
        th.Property("active", th.BooleanType),
        th.Property("state", th.StringType),
        th.Property("actions", ID_TYPE_LIST),
        th.Property("msg_templates", ID_TYPE_LIST),
        th.Property("tags", TAGS),
        th.Property("trigger_segment_ids", th.ArrayType(th.IntegerType)),
        th.Property("filter_segment_ids", th.ArrayType(th.IntegerType)),
        th.Property("created_by", th.StringType),
        th.Property("date_attribute", th.StringType),
        th.Property("event_name", th.StringType),
        th.Property("event_type", th.StringType),
        th.Property("frequency", th.StringType),
        th.Property("filter_object_attributes", th.StringType),
        th.Property("filter_relationship_attributes", th.StringType),
        th.Property("object_type_id", th.IntegerType),
        th.Property("audience", th.ObjectType()),
        # The spec types these two as objects, but its examples are JSON strings,
        # so both forms are accepted.
        th.Property("object_attribute_triggers", STRING_OR_JSON),
        th.Property("relationship_attribute_triggers", STRING_OR_JSON),
        th.Property("scheduled_start", th.DateTimeType),
        th.Property("scheduled_start_should_backfill", th.BooleanType),
        th.Property("scheduled_stop", th.DateTimeType),
        th.Property("scheduled_stop_should_sunset", th.BooleanType),
        th.Property("start_hour", th.IntegerType),
        th.Property("start_minutes", th.IntegerType),
        th.Property("timezone", th.StringType),
        th.Property("use_customer_timezone", th.BooleanType),
        th.Property("webhook_id", th.IntegerType),
    ).to_dict()

    def get_child_context(self, record: dict, context: Context | None) -> dict:
        """Pass only the campaign id to the child streams."""
        return {"campaign_id": record["id"]}


class CampaignActionsStream(ActionListStream):
    """Automation actions: ``GET /v1/campaigns/{campaign_id}/actions``, cursor-paged.

    The list has no documented ``limit``; see ``ActionListStream`` for the id type
    and the per-automation filter.
    """

    name = "campaign_actions"
    path = "/campaigns/{campaign_id}/actions"
    parent_stream_type = CampaignsStream
    parent_key = "campaign_id"
    primary_keys = ("campaign_id", "id")
    request_cost = "1 per automation, more if its list pages"

    schema = th.PropertiesList(
        th.Property("campaign_id", th.IntegerType, required=True),
        *ACTION_PROPERTIES,
    ).to_dict()
