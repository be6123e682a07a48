"""ESP suppressions (``/v1/esp/suppression/{suppression_type}``), offset-paged."""

from __future__ import annotations

import typing as t

from singer_sdk import typing as th
from singer_sdk.pagination import OffsetPaginator

from tap_customerio.client import CustomerIOStream, response_body

if t.TYPE_CHECKING:
    import requests
    from singer_sdk.helpers.types import Context

SUPPRESSION_TYPES = ("bounces", "blocks", "spam_reports", "invalid_emails")


class SuppressionPaginator(OffsetPaginator):
    """Advance ``offset`` by the page size until a short page or ``suppressions: null``."""

    def has_more(self, response: requests.Response) -> bool:
        """Tell whether the page was full, so another may follow."""
        items = response_body(response).get("suppressions") or []
        return len(items) >= self.page_size


class EspSuppressionsStream(CustomerIOStream):
    """Addresses the email service provider suppresses, for all four types.

    ``GET /v1/esp/suppression/{suppression_type}`` is read once per type (one
    partition each) and paged with ``limit`` (at most 1000) and ``offset``. A page
    shorter than ``limit``, or ``suppressions: null``, is the last. The same address
    can be suppressed under several types, so the key is (suppression_type, email).
    The top-level ``category`` of each response is copied into its records.
    """

    name = "esp_suppressions"
    null_ends_listing = True
    path = "/esp/suppression/{suppression_type}"
    envelope_key = "suppressions"
    primary_keys = ("suppression_type", "email")
    page_size = 1000
    personal_data = "yes: `email` of each suppressed address"
    request_cost = "4 types, each 1 per 1000 addresses, plus 1 when the count is a multiple of 1000"

    schema = th.PropertiesList(
        th.Property("suppression_type", th.StringType, required=True),
        th.Property("email", th.StringType, required=True),
        th.Property("category", th.StringType),
        th.Property("created", th.DateTimeType),
        th.Property("reason", th.StringType),
        th.Property("status", th.StringType),
    ).to_dict()

    @property
    def partitions(self) -> list[dict]:
        """Return one partition per suppression type."""
        return [{"suppression_type": name} for name in SUPPRESSION_TYPES]

    def get_new_paginator(self) -> SuppressionPaginator:
        """Return an offset paginator starting at 0."""
        return SuppressionPaginator(start_value=0, page_size=self.page_size)

    def get_url_params(self, context: Context | None, next_page_token: t.Any) -> dict:
        """Return ``limit`` and ``offset``."""
        return {"limit": self.page_size, "offset": next_page_token or 0}

    def parse_response(self, response: requests.Response) -> t.Iterable[dict]:
        """Yield the page's suppressions with the response's ``category``."""
        body = response_body(response)
        category = body.get("category")
        for item in body.get(self.envelope_key) or []:
            yield {"category": category, **item}

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        """Add the suppression type of the partition and convert timestamps."""
        row = super().post_process(row, context)
        if row is not None and context:
            row["suppression_type"] = context["suppression_type"]
        return row
