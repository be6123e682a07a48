"""Deliveries (``GET /v1/messages``), read in time windows on their creation time."""

from __future__ import annotations

import functools
import typing as t
from datetime import timedelta

from singer_sdk import typing as th

from tap_customerio.client import CustomerIOStream, epoch_to_iso, iso_to_epoch
from tap_customerio.prefetch import ChainDone, run_chains
from tap_customerio.streams.schemas import CUSTOMER_IDENTIFIERS

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

DAY_SECONDS = 86400
#: Start of the first window when there is neither a bookmark nor ``start_date``.
DEFAULT_HISTORY_DAYS = 365


class MessagesStream(CustomerIOStream):
    """Deliveries: ``GET /v1/messages``, cursor-paged, ``limit`` at most 1000.

    ``start_ts`` and ``end_ts`` are inclusive bounds in Unix seconds on the delivery's
    creation time, and one request covers at most 6 months. The stream walks
    consecutive windows of ``messages_window_days`` from the bookmark minus
    ``messages_lookback_days`` (else ``start_date``, else 365 days before the run)
    up to ``end_date`` or the start of the run. Windows touch without overlap: each
    starts one second after the previous one ends.

    The order of deliveries within a window is undocumented, so the bookmark is the
    end of the last finished window, written to STATE after each window. A run that
    fails resumes from that window. Several windows are read at once (up to
    ``max_concurrent_requests``), so the bookmark moves to the end of the finished
    prefix of windows, and a resumed run reads the windows that were in flight again.
    Delivery metrics keep changing after creation (opens and clicks for months),
    which is what the lookback re-reads.
    """

    name = "messages"
    path = "/messages"
    envelope_key = "messages"
    paged = True
    page_size = 1000
    primary_keys = ("id",)
    replication_key = "created"
    incremental_method = "server-side window"
    personal_data = (
        "yes: `recipient`, `customer_id`, `customer_identifiers`, personalised `subject`"
    )
    request_cost = "1 per 1000 deliveries in each `messages_window_days` window, at least 1"

    schema = th.PropertiesList(
        th.Property("id", th.StringType, required=True),
        th.Property("deduplicate_id", th.StringType),
        th.Property("created", th.DateTimeType),
        th.Property("type", th.StringType),
        th.Property("recipient", th.StringType),
        th.Property("subject", th.StringType),
        th.Property("customer_id", th.StringType),
        th.Property("customer_identifiers", CUSTOMER_IDENTIFIERS),
        th.Property("campaign_id", th.IntegerType),
        th.Property("action_id", th.IntegerType),
        th.Property("parent_action_id", th.IntegerType),
        th.Property("broadcast_id", th.IntegerType),
        th.Property("newsletter_id", th.IntegerType),
        th.Property("content_id", th.IntegerType),
        th.Property("message_template_id", th.IntegerType),
        # Returned live but missing from the spec.
        th.Property("msg_template_id", th.IntegerType),
        th.Property("transactional_message_id", th.IntegerType),
        th.Property("trigger_event_id", th.StringType),
        th.Property("failure_message", th.StringType),
        th.Property("forgotten", th.BooleanType),
        # Metric name (``sent``, ``opened``, ``secondary:delivered``, ...) to the time
        # it happened; the keys vary by channel.
        th.Property("metrics", th.ObjectType(additional_properties=th.DateTimeType)),
    ).to_dict()

    _window: tuple[int, int] | None = None

    def get_url_params(self, context: Context | None, next_page_token: t.Any) -> dict:
        """Add the current window's inclusive ``start_ts`` and ``end_ts``."""
        params = super().get_url_params(context, next_page_token)
        if self._window is not None:
            params["start_ts"], params["end_ts"] = self._window
        return params

    def get_records(self, context: Context | None) -> t.Iterable[dict]:
        """Yield each window's deliveries and move the bookmark past finished windows."""
        windows = self.windows()
        prefetcher = self._tap.prefetcher
        if prefetcher.enabled and len(windows) > 1:
            yield from self._concurrent_windows(windows, context)
            return
        for number, window in enumerate(windows, start=1):
            self._window = window
            yield from super().get_records(context)
            self._finish_window(window[1])
            self._report_window(number, windows)
        self._window = None

    def _report_window(self, done: int, windows: list[tuple[int, int]]) -> None:
        """Log progress after the first ``done`` windows have finished."""
        self._tap.progress.report(
            self.name,
            "%d of %d windows done (deliveries created up to %s), %d records so far.",
            done,
            len(windows),
            epoch_to_iso(windows[done - 1][1]),
            self._tap.records_written(self.name),
        )

    def _concurrent_windows(
        self, windows: list[tuple[int, int]], context: Context | None
    ) -> t.Iterable[dict]:
        """Read several windows at once, each a cursor chain on its own worker.

        Records are emitted as their pages arrive. The bookmark moves only to the end
        of the last window of the finished prefix, so a run that stops resumes at the
        first unfinished window. The windows that were in flight are then read again.
        """
        prefetcher = self._tap.prefetcher
        send = self.direct_send
        chains = [
            functools.partial(self._window_pages, window, context, send) for window in windows
        ]
        finished = [False] * len(windows)
        prefix = 0
        for event in run_chains(prefetcher, chains, prefetcher.size):
            if isinstance(event, ChainDone):
                finished[event.index] = True
                while prefix < len(windows) and finished[prefix]:
                    self._finish_window(windows[prefix][1])
                    prefix += 1
                    self._report_window(prefix, windows)
                continue
            yield from event[1]

    def _window_pages(
        self, window: tuple[int, int], context: Context | None, send: t.Callable
    ) -> t.Iterator[list[dict]]:
        """Yield the record lists of one window's pages, following its cursor."""
        paginator = self.get_new_paginator()
        url = self.get_url(context)
        while not paginator.finished:
            params = self.get_url_params(context, paginator.current_value)
            params["start_ts"], params["end_ts"] = window
            prepared = self.build_prepared_request(
                method="GET", url=url, params=params, headers=self.http_headers
            )
            response = send(prepared, context)
            records = list(self.parse_response(response))
            if records:
                yield records
            elif not paginator.continue_if_empty(response):
                return
            paginator.advance(response)

    def windows(self) -> list[tuple[int, int]]:
        """Return the inclusive ``(start_ts, end_ts)`` windows of this run, oldest first."""
        first, last = self._first_second(), self._last_second()
        width = max(1, int(float(self.config.get("messages_window_days", 30)) * DAY_SECONDS))
        windows = []
        start = first
        while start <= last:
            end = min(start + width - 1, last)
            windows.append((start, end))
            start = end + 1
        self.logger.info(
            "Stream '%s': reading deliveries created from %s to %s in %d windows.",
            self.name,
            epoch_to_iso(first),
            epoch_to_iso(last),
            len(windows),
        )
        return windows

    def _first_second(self) -> int:
        run_started = self._tap.run_started
        start_date = self.config.get("start_date")
        floor = iso_to_epoch(start_date) if start_date else None
        bookmark = self._bookmark()
        if bookmark is not None:
            lookback = float(self.config.get("messages_lookback_days", 7)) * DAY_SECONDS
            first = bookmark - int(lookback)
            return first if floor is None else max(first, floor)
        if floor is not None:
            return floor
        return int((run_started - timedelta(days=DEFAULT_HISTORY_DAYS)).timestamp())

    def _last_second(self) -> int:
        last = int(self._tap.run_started.timestamp())
        end_date = self.config.get("end_date")
        if end_date:
            last = min(last, iso_to_epoch(end_date))
        return last

    def _bookmark(self) -> int | None:
        state = self.stream_state
        value = state.get("replication_key_value")
        if not value or state.get("replication_key") != self.replication_key:
            return None
        return iso_to_epoch(str(value))

    def _finish_window(self, end: int) -> None:
        """Set the bookmark to a finished window's end and emit STATE.

        A bookmark never moves back, so a lookback window that ends before an
        existing bookmark leaves it as it is.
        """
        current = self._bookmark()
        if current is None or end > current:
            state = self.stream_state
            state["replication_key"] = self.replication_key
            state["replication_key_value"] = epoch_to_iso(end)
        self.state_manager.is_flushed = False
        self._write_state_message()

    def _increment_stream_state(
        self, latest_record: dict, *, context: Context | None = None
    ) -> None:
        """Leave the bookmark alone per record: ``_finish_window`` moves it per window."""

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        """Convert ``created`` and every metric time to ISO 8601."""
        row = super().post_process(row, context)
        if row is not None and isinstance(row.get("metrics"), dict):
            row["metrics"] = {name: epoch_to_iso(v) for name, v in row["metrics"].items()}
        return row
