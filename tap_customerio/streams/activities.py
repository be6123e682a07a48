"""Activities (``GET /v1/activities``), newest first, read back to the bookmark."""

from __future__ import annotations

import typing as t
from datetime import timedelta

import requests
from singer_sdk import typing as th

from tap_customerio.client import (
    CursorPaginator,
    CustomerIOStream,
    epoch_to_iso,
    iso_to_epoch,
    response_body,
)
from tap_customerio.streams.schemas import CUSTOMER_IDENTIFIERS

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

#: Days of activity history the API guarantees; older activities may be gone.
RETENTION_DAYS = 30


class NewestFirstPaginator(CursorPaginator):
    """Follow ``next`` until a page reaches activities older than ``floor``.

    The list is newest first, so once one page contains an activity older than the
    floor, every later page is older still. A page whose oldest activity equals the
    floor does not stop paging, because the next page may hold more of that second.
    """

    def __init__(self, stream_name: str, envelope_key: str, floor: int | None) -> None:
        super().__init__(stream_name)
        self.envelope_key = envelope_key
        self.floor = floor

    def has_more(self, response: requests.Response) -> bool:
        """Return False once the page contains an activity older than the floor."""
        if self.floor is None:
            return True
        items = response_body(response).get(self.envelope_key) or []
        for item in items:
            timestamp = _epoch(item.get("timestamp"))
            if timestamp is not None and timestamp < self.floor:
                return False
        return True


def _epoch(value: t.Any) -> int | None:
    """Return a Unix-seconds value as it came, or None for anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(value)


class ActivitiesStream(CustomerIOStream):
    """Activities: ``GET /v1/activities``, cursor-paged, ``limit`` at most 100.

    The list has no time filter and no sort parameter. It comes newest first by
    ``timestamp``; Airbyte observed that live, the docs do not say it. So paging
    stops at the first page that reaches activities older than the bookmark (or
    ``start_date``), and activities after ``end_date`` are dropped on the client.
    Activities at exactly the bookmark are read again, so none of that second is
    lost. The run's newest timestamp becomes the bookmark only when the stream
    finishes, because an interrupted newest-first read has no safe resume point.
    The API guarantees 30 days of history and may return older activities.

    NOTE: ``deleted=true`` ("return results for deleted people") is not sent,
    because the docs do not say whether it adds deleted people or returns only them.
    """

    name = "activities"
    path = "/activities"
    envelope_key = "activities"
    paged = True
    page_size = 100
    primary_keys = ("id",)
    replication_key = "timestamp"
    incremental_method = "newest first, stops at the bookmark"
    personal_data = "yes: `customer_id`, `customer_identifiers`, event `data`"
    request_cost = "1 per 100 activities newer than the bookmark, plus the page that reaches it"

    schema = th.PropertiesList(
        th.Property("id", th.StringType, required=True),
        th.Property("type", th.StringType),
        th.Property("name", th.StringType),
        th.Property("timestamp", th.DateTimeType),
        th.Property("customer_id", th.StringType),
        th.Property("customer_identifiers", CUSTOMER_IDENTIFIERS),
        th.Property("delivery_id", th.StringType),
        th.Property("delivery_type", th.StringType),
        th.Property("url", th.StringType),
        # Free-form: its keys depend on the activity type.
        th.Property("data", th.ObjectType()),
    ).to_dict()

    _floor: int | None = None
    _ceiling: int | None = None

    def get_new_paginator(self) -> NewestFirstPaginator:
        """Return a cursor paginator that stops at the first page older than the floor."""
        return NewestFirstPaginator(self.name, self.envelope_key, self._floor)

    def get_records(self, context: Context | None) -> t.Iterable[dict]:
        """Read from the newest activity back to the bookmark or ``start_date``."""
        start = self.get_starting_timestamp(context)
        self._floor = int(start.timestamp()) if start is not None else None
        end_date = self.config.get("end_date")
        self._ceiling = iso_to_epoch(end_date) if end_date else None
        if self._floor is not None:
            self._warn_if_past_retention(self._floor)
        yield from super().get_records(context)

    def _warn_if_past_retention(self, floor: int) -> None:
        retained_from = self._tap.run_started - timedelta(days=RETENTION_DAYS)
        if floor >= retained_from.timestamp():
            return
        bookmark = self.stream_state.get("replication_key_value")
        source = "the bookmark" if bookmark and iso_to_epoch(bookmark) == floor else "start_date"
        self.logger.warning(
            "Stream '%s': reading activities from %s (%s), but the API guarantees "
            "activities only from %s (%d days back), so older activities may be "
            "missing. Run the tap at least every %d days to keep every activity.",
            self.name,
            epoch_to_iso(floor),
            source,
            retained_from.isoformat(),
            RETENTION_DAYS,
            RETENTION_DAYS,
        )

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        """Drop activities before the floor or after ``end_date``, then convert times."""
        timestamp = _epoch(row.get("timestamp"))
        if timestamp is not None:
            if self._floor is not None and timestamp < self._floor:
                return None
            if self._ceiling is not None and timestamp > self._ceiling:
                return None
        return super().post_process(row, context)
