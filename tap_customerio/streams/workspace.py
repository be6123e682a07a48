"""Workspace settings: collections, snippets, senders, webhooks, topics, workspaces, IPs."""

from __future__ import annotations

import typing as t

from singer_sdk import typing as th

from tap_customerio.client import CustomerIOStream, remove_userinfo, response_body

if t.TYPE_CHECKING:
    import requests
    from singer_sdk.helpers.types import Context


class CollectionsStream(CustomerIOStream):
    """Collections: ``GET /v1/collections``, one unpaged list of metadata.

    There is no time filter, so ``updated_at`` is compared with the bookmark on the
    client. The rows themselves (``/collections/{id}/content``) are not read.
    """

    name = "collections"
    path = "/collections"
    envelope_key = "collections"
    primary_keys = ("id",)
    replication_key = "updated_at"
    client_side_filter = True
    personal_data = "no (metadata only; the rows are not read)"
    request_cost = "1 per run"

    schema = th.PropertiesList(
        th.Property("id", th.IntegerType, required=True),
        th.Property("name", th.StringType),
        th.Property("schema", th.ArrayType(th.StringType)),
        th.Property("rows", th.IntegerType),
        th.Property("bytes", th.IntegerType),
        th.Property("created_at", th.DateTimeType),
        th.Property("updated_at", th.DateTimeType),
    ).to_dict()


class SnippetsStream(CustomerIOStream):
    """Snippets: ``GET /v1/snippets``, one unpaged list keyed by the unique name."""

    name = "snippets"
    path = "/snippets"
    envelope_key = "snippets"
    primary_keys = ("name",)
    personal_data = "no"
    request_cost = "1 per run"

    schema = th.PropertiesList(
        th.Property("name", th.StringType, required=True),
        th.Property("value", th.StringType),
        th.Property("updated_at", th.DateTimeType),
    ).to_dict()


class SenderIdentitiesStream(CustomerIOStream):
    """Sender identities: ``GET /v1/sender_identities``, cursor-paged.

    Live, ``hidden=true`` returns only hidden identities, so the list is read twice,
    once per partition (visible, then hidden), and an id already emitted is skipped
    in case the visible list also includes hidden ones. The API sends a non-empty
    ``next`` after the last item and then one empty page, which ends the listing.
    No ``limit`` is documented, so none is sent.
    """

    name = "sender_identities"
    path = "/sender_identities"
    envelope_key = "sender_identities"
    primary_keys = ("id",)
    paged = True
    personal_data = "yes: sender `name`, `email`, `address`, `phone`"
    request_cost = "2 listings (visible, hidden), 1 per page plus 1 empty last page each"

    schema = th.PropertiesList(
        th.Property("id", th.IntegerType, required=True),
        th.Property("name", th.StringType),
        th.Property("email", th.StringType),
        th.Property("address", th.StringType),
        th.Property("phone", th.StringType),
        th.Property("template_type", th.StringType),
        th.Property("hidden", th.BooleanType),
        th.Property("auto_generated", th.BooleanType),
        th.Property("deduplicate_id", th.StringType),
    ).to_dict()

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._emitted_ids: set[t.Any] = set()

    @property
    def partitions(self) -> list[dict]:
        """Return the two listings: visible identities, then hidden ones."""
        return [{"hidden": False}, {"hidden": True}]

    def get_url_params(self, context: Context | None, next_page_token: t.Any) -> dict:
        """Add ``hidden=true`` for the hidden partition."""
        params = super().get_url_params(context, next_page_token)
        if context and context.get("hidden"):
            params["hidden"] = "true"
        return params

    def get_records(self, context: Context | None) -> t.Iterable[dict]:
        """Yield each identity once, even if both listings return it."""
        for record in super().get_records(context):
            if record.get("id") in self._emitted_ids:
                self.logger.debug(
                    "Stream '%s': identity %s is in both listings, so it is emitted once.",
                    self.name,
                    record.get("id"),
                )
                continue
            self._emitted_ids.add(record.get("id"))
            yield record


class ReportingWebhooksStream(CustomerIOStream):
    """Reporting webhooks: ``GET /v1/reporting_webhooks``, one unpaged list.

    Users often put credentials in ``endpoint`` (``https://user:password@host/``),
    so the tap removes that part before the record leaves the stream.
    """

    name = "reporting_webhooks"
    path = "/reporting_webhooks"
    envelope_key = "reporting_webhooks"
    primary_keys = ("id",)
    personal_data = "no (a `user:password@` in `endpoint` is removed)"
    request_cost = "1 per run"

    schema = th.PropertiesList(
        th.Property("id", th.IntegerType, required=True),
        th.Property("name", th.StringType),
        th.Property("endpoint", th.StringType),
        th.Property("events", th.ArrayType(th.StringType)),
        th.Property("disabled", th.BooleanType),
        th.Property("full_resolution", th.BooleanType),
        th.Property("with_content", th.BooleanType),
        th.Property("type", th.StringType),
    ).to_dict()

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        """Remove credentials from the endpoint URL."""
        row = super().post_process(row, context)
        if row is not None and "endpoint" in row:
            row["endpoint"] = remove_userinfo(row["endpoint"])
        return row


class SubscriptionTopicsStream(CustomerIOStream):
    """Subscription topics: ``GET /v1/subscription_topics``, one unpaged list."""

    name = "subscription_topics"
    path = "/subscription_topics"
    envelope_key = "topics"
    primary_keys = ("id",)
    personal_data = "no"
    request_cost = "1 per run"

    schema = th.PropertiesList(
        th.Property("id", th.IntegerType, required=True),
        th.Property("identifier", th.StringType),
        th.Property("name", th.StringType),
        th.Property("description", th.StringType),
        th.Property("subscribed_by_default", th.BooleanType),
    ).to_dict()


class WorkspacesStream(CustomerIOStream):
    """Workspaces: ``GET /v1/workspaces``, every workspace of the account.

    The counts cover the current billing period and are cached by the API for up
    to two hours.
    """

    name = "workspaces"
    path = "/workspaces"
    envelope_key = "workspaces"
    primary_keys = ("id",)
    personal_data = "no"
    request_cost = "1 per run"

    schema = th.PropertiesList(
        th.Property("id", th.IntegerType, required=True),
        th.Property("name", th.StringType),
        th.Property("messages_sent", th.IntegerType),
        th.Property("billable_messages_sent", th.IntegerType),
        th.Property("people", th.IntegerType),
        th.Property("objects", th.IntegerType),
        th.Property("object_types", th.IntegerType),
    ).to_dict()


class IpAddressesStream(CustomerIOStream):
    """Customer.io's sending IP addresses: ``GET /v1/info/ip_addresses``.

    The key ``ip_addresses`` contains plain strings, and the tap emits one record
    per distinct address.
    """

    name = "ip_addresses"
    path = "/info/ip_addresses"
    envelope_key = "ip_addresses"
    primary_keys = ("ip_address",)
    personal_data = "no"
    request_cost = "1 per run"

    schema = th.PropertiesList(
        th.Property("ip_address", th.StringType, required=True),
    ).to_dict()

    def parse_response(self, response: requests.Response) -> t.Iterable[dict]:
        """Yield ``{"ip_address": ...}`` for each distinct address."""
        addresses = response_body(response).get(self.envelope_key) or []
        for address in dict.fromkeys(addresses):
            yield {"ip_address": address}
