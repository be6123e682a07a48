"""The HTTP client shared by every stream: auth, region, rate limit, retries, errors."""

from __future__ import annotations

import json
import random
import threading
import time
import typing as t
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property

import backoff
import requests
from singer_sdk.authenticators import BearerTokenAuthenticator
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError
from singer_sdk.pagination import BaseAPIPaginator
from singer_sdk.streams import RESTStream

from tap_customerio import __version__

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

REGION_URLS = {
    "us": "https://api.customer.io/v1",
    "eu": "https://api-eu.customer.io/v1",
}

# The Node client caps Retry-After at 300 s; a larger value is treated as 300 s.
MAX_RETRY_AFTER_SECONDS = 300.0
MAX_EXPONENTIAL_WAIT_SECONDS = 60.0
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 522, 524})


class ParentGoneError(Exception):
    """A child endpoint returned 404 because its parent was deleted after it was listed."""


class PaginationLoopError(FatalAPIError):
    """The API returned a cursor that it had already returned for this listing."""


class RetryBudgetExhaustedError(FatalAPIError):
    """A request kept failing until the retry budget ran out."""


class RateLimiter:
    """Space requests evenly so that the whole run stays under ``rate`` per second.

    One instance is shared by every stream and thread of a run, because Customer.io
    counts the App API budget per workspace, not per endpoint.
    """

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self._lock = threading.Lock()
        self._next_slot = 0.0

    def acquire(self) -> float:
        """Block until the next request slot; return the seconds spent waiting."""
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next_slot)
            self._next_slot = slot + self.interval
        wait = slot - now
        if wait > 0:
            time.sleep(wait)
        return wait

    def pause(self, seconds: float) -> None:
        """Hold every stream back for ``seconds``, after the server answered 429."""
        with self._lock:
            self._next_slot = max(self._next_slot, time.monotonic() + seconds)


@dataclass
class StreamStats:
    """Counters for the end-of-run sync summary."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    skipped_parents: int = 0
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None


class RunStats:
    """Thread-safe per-stream counters for one tap run."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.streams: dict[str, StreamStats] = {}

    def get(self, stream_name: str) -> StreamStats:
        """Return the counters of one stream, creating them on first use."""
        with self._lock:
            if stream_name not in self.streams:
                self.streams[stream_name] = StreamStats()
            return self.streams[stream_name]

    def add(self, stream_name: str, attribute: str, amount: int = 1) -> None:
        """Increase one counter of one stream."""
        stats = self.get(stream_name)
        with self._lock:
            setattr(stats, attribute, getattr(stats, attribute) + amount)


def epoch_to_iso(value: t.Any) -> t.Any:
    """Convert a Unix-seconds timestamp to a UTC ISO 8601 string; pass other values on."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    return datetime.fromtimestamp(value, tz=timezone.utc).isoformat()


def iso_to_epoch(value: str) -> int:
    """Convert an ISO 8601 date-time (naive means UTC) to Unix seconds."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return int(parsed.timestamp())


def error_detail(response: requests.Response) -> str:
    """Return the ``detail`` texts of a Customer.io error body, or a short body excerpt."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200].strip()
    if isinstance(body, dict) and isinstance(body.get("errors"), list):
        details = [str(e.get("detail", "")) for e in body["errors"] if isinstance(e, dict)]
        return "; ".join(d for d in details if d)
    if isinstance(body, dict) and isinstance(body.get("meta"), dict):
        return str(body["meta"].get("error", ""))
    return json.dumps(body)[:200]


class CursorPaginator(BaseAPIPaginator[str | None]):
    """Follow the ``next`` cursor of a Customer.io list until it is empty or absent.

    The SDK detects only a cursor repeated on consecutive pages; a cycle such as
    A, B, A would loop forever, so every cursor of the listing is remembered.
    """

    def __init__(self, stream_name: str) -> None:
        super().__init__(None)
        self.stream_name = stream_name
        self._seen: set[str] = set()

    def get_next(self, response: requests.Response) -> str | None:
        """Return the cursor of the next page, or None on the last page."""
        token = response_body(response).get("next") or None
        if token is None:
            return None
        if token in self._seen:
            msg = (
                f"Stream '{self.stream_name}': the API returned cursor {token!r} a second "
                f"time after {self.count} pages, so paging would never end. "
                "Rerun later; if it persists, report it to Customer.io support."
            )
            raise PaginationLoopError(msg)
        self._seen.add(token)
        return token

    def continue_if_empty(self, response: requests.Response) -> bool:
        """Keep paging past an empty page while the API still returns a cursor."""
        return bool(response_body(response).get("next"))


def response_body(response: requests.Response) -> dict:
    """Return the JSON object parsed (once) during response validation."""
    body = getattr(response, "cio_body", None)
    if body is None:
        body = response.json()
    return body if isinstance(body, dict) else {}


class CustomerIOStream(RESTStream):
    """Base class of every Customer.io App API stream.

    Subclasses set ``path``, ``envelope_key`` (the response key holding the records),
    ``primary_keys``, the schema and, for cursor-paged lists, ``page_size``.
    """

    envelope_key: str = ""
    #: Whether the list is cursor-paged (``start`` in the query, ``next`` in the body).
    paged: bool = False
    #: ``limit`` sent with each request; None where the endpoint documents no limit.
    page_size: int | None = None
    #: Filter records older than the bookmark on the client, for lists the API
    #: cannot filter by time.
    client_side_filter: bool = False

    @property
    def url_base(self) -> str:
        """Return the API root: ``api_url`` if set, otherwise the region's host."""
        api_url = self.config.get("api_url")
        if api_url:
            return api_url.rstrip("/")
        return REGION_URLS[self.config.get("region", "us")]

    @cached_property
    def authenticator(self) -> BearerTokenAuthenticator:
        """Return the bearer-token authenticator for the App API key."""
        return BearerTokenAuthenticator(token=self.config["api_key"])

    @cached_property
    def user_agent(self) -> str:
        """Return the User-Agent header: the setting, or the tap name and version."""
        return self.config.get("user_agent") or f"tap-customerio/{__version__}"

    @property
    def timeout(self) -> float:
        """Return the per-request timeout in seconds."""
        return float(self.config.get("request_timeout", 300))

    @cached_property
    def timestamp_fields(self) -> tuple[str, ...]:
        """Top-level properties typed ``date-time`` that the API sends as Unix seconds."""
        properties = self.schema.get("properties", {})
        return tuple(name for name, prop in properties.items() if prop.get("format") == "date-time")

    # Requests ------------------------------------------------------------------

    def get_new_paginator(self) -> CursorPaginator | None:
        """Return a cursor paginator for paged lists, None for single-page lists."""
        if not self.paged:
            return None
        return CursorPaginator(self.name)

    def get_url_params(self, context: Context | None, next_page_token: t.Any) -> dict:
        """Return ``limit`` and the ``start`` cursor for paged lists."""
        params: dict[str, t.Any] = {}
        if self.page_size is not None:
            params["limit"] = self.page_size
        if next_page_token:
            params["start"] = next_page_token
        return params

    def request_decorator(self, func: t.Callable) -> t.Callable:
        """Wrap a request with the shared rate limiter and the retry policy."""
        limiter: RateLimiter = self._tap.rate_limiter
        stats: RunStats = self._tap.run_stats

        def paced(prepared_request: requests.PreparedRequest, context: Context | None) -> t.Any:
            limiter.acquire()
            stats.add(self.name, "requests")
            return func(prepared_request, context)

        return backoff.on_exception(
            self._retry_wait,
            (
                ConnectionResetError,
                RetriableAPIError,
                requests.exceptions.Timeout,
                requests.exceptions.ConnectionError,
                requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ContentDecodingError,
            ),
            max_tries=int(self.config.get("max_retries", 10)) + 1,
            max_time=float(self.config.get("max_retry_seconds", 900)),
            on_backoff=self.backoff_handler,
            on_giveup=self._give_up,
            jitter=None,
            raise_on_giveup=True,
        )(paced)

    def _retry_wait(self) -> t.Generator[float, t.Any, None]:
        """Yield waits: the server's Retry-After, else exponential with full jitter."""
        attempt = 0
        exception = yield 0.0
        while True:
            attempt += 1
            response = getattr(exception, "response", None)
            retry_after = _retry_after_seconds(response)
            if retry_after is not None:
                self._tap.rate_limiter.pause(retry_after)
                wait = retry_after
            else:
                ceiling = min(MAX_EXPONENTIAL_WAIT_SECONDS, 2.0 ** (attempt - 1))
                wait = random.uniform(ceiling / 2, ceiling)
            exception = yield wait

    def backoff_handler(self, details: dict) -> None:
        """Log one retry with its reason, without the URL's query or credentials."""
        exception = details.get("exception")
        response = getattr(exception, "response", None)
        self._tap.run_stats.add(self.name, "retries")
        if response is not None and response.status_code == 429:
            self._tap.run_stats.add(self.name, "rate_limited")
        reason = (
            f"HTTP {response.status_code}" if response is not None else type(exception).__name__
        )
        self.logger.warning(
            "Stream '%s': %s on %s; retry %d in %.1f s.",
            self.name,
            reason,
            self._request_label(details),
            details["tries"],
            details["wait"],
        )

    def _give_up(self, details: dict) -> None:
        exception = details.get("exception")
        response = getattr(exception, "response", None)
        reason = (
            f"HTTP {response.status_code} {error_detail(response)}".strip()
            if response is not None
            else f"{type(exception).__name__}"
        )
        msg = (
            f"Stream '{self.name}': {self._request_label(details)} still failed after "
            f"{details['tries']} attempts over {details['elapsed']:.0f} s ({reason}). "
            "Rerun later to resume from the last STATE, or raise max_retries or "
            "max_retry_seconds."
        )
        raise RetryBudgetExhaustedError(msg) from None

    @staticmethod
    def _request_label(details: dict) -> str:
        args = details.get("args") or ()
        prepared = args[0] if args else None
        if isinstance(prepared, requests.PreparedRequest):
            path = (prepared.path_url or "").split("?", 1)[0]
            return f"{prepared.method} {path}"
        return "the request"

    # Responses -----------------------------------------------------------------

    def validate_response(self, response: requests.Response) -> None:
        """Classify the response and parse its JSON body once.

        A body that is not a JSON object is retried like a 5xx, because proxies and
        load balancers answer transient failures with HTML pages or cut bodies.
        """
        status = response.status_code
        label = f"{response.request.method} {_path_of(response)}"
        if status in RETRY_STATUSES or status >= 500:
            raise RetriableAPIError(f"HTTP {status} on {label}", response)
        if status == 401:
            region = self.config.get("region", "us")
            other = "eu" if region == "us" else "us"
            msg = (
                f"Customer.io rejected the API key (HTTP 401 on {label}). Check that "
                "api_key is an App API key (not a Track API key) and that the region "
                f"matches the workspace: region is '{region}', try region '{other}' "
                "if the workspace is hosted there."
            )
            raise FatalAPIError(msg)
        if status == 403:
            msg = (
                f"Stream '{self.name}': HTTP 403 on {label}, so the API key's scope "
                "excludes this data (or an IP allowlist blocks this host). Give the key "
                "access to it, or deselect the stream."
            )
            raise FatalAPIError(msg)
        if status == 404 and self.parent_stream_type is not None:
            raise ParentGoneError(label)
        if status >= 400:
            msg = f"Stream '{self.name}': HTTP {status} on {label}: {error_detail(response)}"
            raise FatalAPIError(msg)

        try:
            body = json.loads(response.content)
        except ValueError as exc:
            msg = f"Stream '{self.name}': the body of {label} is not valid JSON ({exc})"
            raise RetriableAPIError(msg, response) from None
        if not isinstance(body, dict) or (self.envelope_key and self.envelope_key not in body):
            msg = f"Stream '{self.name}': the body of {label} has no '{self.envelope_key}' key"
            raise RetriableAPIError(msg, response)
        response.cio_body = body  # type: ignore[attr-defined]

    def parse_response(self, response: requests.Response) -> t.Iterable[dict]:
        """Yield the records under the envelope key; ``null`` means no records."""
        records = response_body(response).get(self.envelope_key)
        if records is None:
            return
        if isinstance(records, dict):
            yield records
            return
        yield from records

    def get_records(self, context: Context | None) -> t.Iterable[dict]:
        """Yield records, skipping a child whose parent was deleted mid-run."""
        try:
            yield from super().get_records(context)
        except ParentGoneError as exc:
            self._tap.run_stats.add(self.name, "skipped_parents")
            self.logger.warning(
                "Stream '%s': skipped %s, because it returned 404 (the parent was "
                "deleted after it was listed).",
                self.name,
                exc,
            )

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        """Convert Unix-seconds fields to ISO 8601 and drop rows older than the bookmark."""
        for name in self.timestamp_fields:
            value = row.get(name)
            if value is not None:
                row[name] = epoch_to_iso(value)
        return row

    def _write_record_message(self, record: dict) -> None:
        """Write a RECORD unless the client-side filter says it has not changed.

        The filter runs here rather than in ``post_process`` because the SDK reads a
        parent's children only for records that leave ``post_process``, and a child can
        change while its parent's update time stays put.
        """
        if self.client_side_filter and self.replication_key:
            start = self._filter_start
            value = record.get(self.replication_key)
            if start is not None and value is not None and value < start:
                return
        super()._write_record_message(record)

    def _write_starting_replication_value(self, context: Context | None) -> None:
        super()._write_starting_replication_value(context)
        self._filter_start = None
        if self.client_side_filter and self.replication_key:
            start = self.get_starting_timestamp(context)
            if start is not None:
                self._filter_start = epoch_to_iso(int(start.timestamp()))


def _retry_after_seconds(response: requests.Response | None) -> float | None:
    if response is None or response.status_code != 429:
        return None
    header = response.headers.get("Retry-After")
    if header is None:
        return None
    try:
        seconds = float(header)
    except ValueError:
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def _path_of(response: requests.Response) -> str:
    path_url = response.request.path_url if response.request is not None else ""
    return (path_url or "").split("?", 1)[0]
