"""People (``POST /v1/customers`` and ``POST /v1/customers/attributes``)."""

from __future__ import annotations

import functools
import threading
import typing as t

from singer_sdk import typing as th

from tap_customerio.client import CustomerIOStream, epoch_to_iso, response_body
from tap_customerio.prefetch import ordered_map
from tap_customerio.streams.customers_export import read_export

if t.TYPE_CHECKING:
    import requests
    from singer_sdk.helpers.types import Context

SEARCH_KEY = "identifiers"
ATTRIBUTES_KEY = "customers"
ATTRIBUTES_PATH = "/customers/attributes"
#: Documented maximum number of ids per attribute read.
ATTRIBUTES_BATCH_SIZE = 100
#: Values of the ``customers_method`` setting.
CUSTOMERS_METHODS = ("api", "export")
#: Matches every person: each one has a cio_id.
EVERYONE = {"filter": {"and": [{"attribute": {"field": "cio_id", "operator": "exists"}}]}}


class CustomersStream(CustomerIOStream):
    """People with every attribute, full table, keyed by ``cio_id``.

    ``POST /v1/customers`` (the people search, cursor-paged, 1000 per page as
    Airbyte sends) lists every person's identifiers. The stream reads their profiles
    in batches of 100 with ``POST /v1/customers/attributes?id_type=cio_id``, several
    batches at once (``max_concurrent_requests``), emitting people in search order and
    holding a bounded number of batches in memory. A run costs ceil(N/1000) searches
    plus ceil(N/100) attribute reads for N people.

    Attribute reads differ from the spec in three ways that Airbyte observed live:
    items are not wrapped in ``customer``, unknown ids are left out without an
    error, and cio_ids must be sent without the ``cio_`` prefix. Profiles have no
    update time, so there is no incremental mode.
    """

    name = "customers"
    path = "/customers"
    http_method = "POST"
    paged = True
    page_size = 1000
    primary_keys = ("cio_id",)
    personal_data = "yes: every attribute, identifier and device of each person"
    extra_endpoints = (f"POST /v1{ATTRIBUTES_PATH}",)
    request_cost = "1 search per 1000 people plus 1 attribute read per 100 people"

    schema = th.PropertiesList(
        th.Property("cio_id", th.StringType, required=True),
        # Attribute names can hold dots and spaces, and every value is a string.
        th.Property("attributes", th.ObjectType()),
        th.Property(
            "devices",
            th.ArrayType(
                th.ObjectType(
                    th.Property("id", th.StringType),
                    th.Property("platform", th.StringType),
                    th.Property("last_used", th.DateTimeType),
                    th.Property("attributes", th.ObjectType()),
                )
            ),
        ),
        th.Property(
            "identifiers",
            th.ObjectType(
                th.Property("cio_id", th.StringType),
                th.Property("email", th.StringType),
                th.Property("id", th.StringType),
            ),
        ),
        th.Property("unsubscribed", th.BooleanType),
        # Deprecated by Customer.io: attribute name to the Unix time it last changed.
        th.Property("timestamps", th.ObjectType()),
    ).to_dict()

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        # Attribute reads run on worker threads while the search runs on the main
        # one, so the kind of request in flight is kept per thread.
        self._in_flight = threading.local()

    @property
    def envelope_key(self) -> str:  # type: ignore[override]
        """Return the response key of this thread's request: search, attributes or export."""
        return getattr(self._in_flight, "key", SEARCH_KEY)

    def prepare_request_payload(self, context: Context | None, next_page_token: t.Any) -> dict:
        """Return the search filter that matches every person."""
        return EVERYONE

    def get_records(self, context: Context | None) -> t.Iterable[dict]:
        """Search people page by page and read their profiles 100 at a time.

        Attribute reads run on the request pool, up to its lookahead ahead of the
        consumer, and their people are yielded in search order.
        """
        if self.config.get("customers_method") == "export":
            yield from read_export(self, self.request_decorator(self._request), EVERYONE["filter"])
            return
        read = self.request_decorator(self._request)
        batches = self._id_batches(context)
        people_batches = ordered_map(
            self._tap.prefetcher, batches, functools.partial(self._read_attributes, read, context)
        )
        for batches_read, people in enumerate(people_batches, start=1):
            yield from people
            self._tap.progress.report(
                self.name,
                "%d attribute batches read, %d people so far.",
                batches_read,
                self._tap.records_written(self.name),
            )

    def _id_batches(self, context: Context | None) -> t.Iterator[list[str]]:
        """Yield the searched cio_ids in batches of 100, without the ``cio_`` prefix."""
        batch: list[str] = []
        for identifier in self.request_records(context):
            cio_id = identifier.get("cio_id")
            if not cio_id:
                continue
            batch.append(str(cio_id).removeprefix("cio_"))
            if len(batch) == ATTRIBUTES_BATCH_SIZE:
                yield batch
                batch = []
        if batch:
            yield batch

    def _read_attributes(
        self, read: t.Callable, context: Context | None, cio_ids: list[str]
    ) -> list[dict]:
        prepared = self.build_prepared_request(
            method="POST",
            url=f"{self.url_base}{ATTRIBUTES_PATH}",
            params={"id_type": "cio_id"},
            headers=self.http_headers,
            json={"ids": cio_ids},
        )
        self._in_flight.key = ATTRIBUTES_KEY
        try:
            response: requests.Response = read(prepared, context)
        finally:
            self._in_flight.key = SEARCH_KEY
        people = []
        for item in response_body(response).get(ATTRIBUTES_KEY) or []:
            # The spec wraps each item in "customer"; live items are bare.
            wrapped = isinstance(item, dict) and set(item) == {"customer"}
            people.append(item["customer"] if wrapped else item)
        return people

    def call_api(self, send: t.Callable, method: str, path: str, key: str, **kwargs: t.Any) -> dict:
        """Send one App API request whose response has ``key`` and return the body."""
        prepared = self.build_prepared_request(
            method=method, url=f"{self.url_base}{path}", headers=self.http_headers, **kwargs
        )
        self._in_flight.key = key
        try:
            return response_body(send(prepared, None))
        finally:
            self._in_flight.key = SEARCH_KEY

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        """Lift ``cio_id`` to the top and convert device ``last_used`` to ISO 8601."""
        row = super().post_process(row, context)
        if row is None:
            return None
        identifiers = row.get("identifiers") or {}
        attributes = row.get("attributes") or {}
        row["cio_id"] = identifiers.get("cio_id") or attributes.get("cio_id")
        for device in row.get("devices") or []:
            if isinstance(device, dict) and "last_used" in device:
                device["last_used"] = epoch_to_iso(device["last_used"])
        return row
