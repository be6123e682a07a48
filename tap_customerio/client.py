"""The HTTP client shared by every stream: auth, region, rate limit, retries, errors."""

from __future__ import annotations

import hashlib
import json
import math
import random
import threading
import time
import typing as t
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from functools import cached_property
from urllib.parse import urlsplit

import backoff
import msgspec
import requests
from singer_sdk.authenticators import BearerTokenAuthenticator
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError
from singer_sdk.helpers._catalog import pop_deselected_record_properties
from singer_sdk.helpers._typing import conform_record_data_types
from singer_sdk.helpers._util import utc_now
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.pagination import BaseAPIPaginator, SinglePagePaginator
from singer_sdk.singerlib import RecordMessage
from singer_sdk.streams import RESTStream

from tap_customerio import __version__
from tap_customerio.conform import (
    compile_record_fitter,
    epoch_to_iso,
    sdk_conformance_redundant,
)
from tap_customerio.prefetch import prefetch_children

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

_decode_json = msgspec.json.Decoder().decode
_encode_sorted_json = msgspec.json.Encoder(order="sorted").encode


def decode_json(content: bytes) -> t.Any:
    """Parse a response body as ``json.loads`` does, with msgspec's faster parser.

    Numbers with a fraction or exponent become floats and integers stay ints, as
    with ``json.loads``. Bodies msgspec rejects but ``json.loads`` accepts (NaN,
    lone surrogates, UTF-16) go to ``json.loads``, so both give the same result.
    """
    try:
        return _decode_json(content)
    except msgspec.DecodeError:
        return json.loads(content)


__all__ = ["CustomerIOStream", "epoch_to_iso", "iso_to_epoch"]

REGION_URLS = {
    "us": "https://api.customer.io/v1",
    "eu": "https://api-eu.customer.io/v1",
}

# The Node client caps Retry-After at 300 s; a larger value is treated as 300 s.
MAX_RETRY_AFTER_SECONDS = 300.0
#: Without Retry-After, retry ``n`` waits between half and all of
#: ``EXPONENTIAL_BASE_SECONDS * 2 ** (n - 1)`` seconds, capped at 60 s.
EXPONENTIAL_BASE_SECONDS = 1.0
MAX_EXPONENTIAL_WAIT_SECONDS = 60.0
#: Seconds between two STATE messages written by child streams (see
#: ``CustomerIOStream._write_state_message``).
CHILD_STATE_INTERVAL_SECONDS = 5.0
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 522, 524})
#: Extra seconds the limiter adds to each one-second window. Network jitter of up to
#: this much between our send time and the server's receive time then cannot make
#: the server count more than ``max_requests_per_second`` requests in one window.
RATE_WINDOW_MARGIN_SECONDS = 0.05
#: Each 429 widens the margin by this much, up to the maximum, because jitter larger
#: than the margin (a busy network or machine) is the likeliest cause of a 429 when
#: the tap alone uses the budget.
RATE_WINDOW_MARGIN_STEP_SECONDS = 0.025
MAX_RATE_WINDOW_MARGIN_SECONDS = 0.25


class ParentGoneError(Exception):
    """A child endpoint returned 404 because its parent was deleted after it was listed."""


class PaginationError(FatalAPIError):
    """The API returned a ``next`` cursor that cannot be followed."""


class PaginationLoopError(PaginationError):
    """The API returned a cursor or a page that it had already returned for this listing."""


class BadBodyError(RetriableAPIError):
    """A 2xx response whose body is not the JSON object the endpoint documents."""

    def __init__(self, stream_name: str, label: str, reason: str, response: requests.Response):
        super().__init__(f"Stream '{stream_name}': {reason} on {label}", response)
        self.reason = reason


class RetryBudgetExhaustedError(FatalAPIError):
    """A request kept failing until the retry budget ran out."""


class SchemaDriftError(FatalAPIError):
    """A primary-key field arrived with a value that its schema type cannot hold."""


class RateLimiter:
    """Keep the whole run under ``rate`` requests in any one-second window.

    Requests are spaced ``1 / rate`` seconds apart, and the request after ``rate``
    others waits until the first of them is more than a second (plus a margin) old.
    One instance is shared by every stream and thread of a run, because Customer.io
    counts the App API budget per workspace, not per endpoint.
    """

    def __init__(self, rate: float, margin: float = RATE_WINDOW_MARGIN_SECONDS) -> None:
        self.interval = 1.0 / rate
        self.margin = margin
        self._lock = threading.Lock()
        self._next_slot = 0.0
        self._recent: deque[list[float]] = deque(maxlen=max(1, math.floor(rate)))

    def acquire(self) -> float:
        """Block until the next request slot; return the seconds spent waiting.

        A thread that wakes after its slot (a busy machine, many worker threads)
        records the later time, so the request ``rate`` places after it is counted
        from when it was really sent.
        """
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next_slot)
            if len(self._recent) == self._recent.maxlen:
                slot = max(slot, self._recent[0][0] + 1.0 + self.margin)
            sent = [slot]
            self._recent.append(sent)
            self._next_slot = slot + self.interval
        wait = slot - now
        if wait > 0:
            time.sleep(wait)
        woke = time.monotonic()
        if woke > slot:
            with self._lock:
                sent[0] = woke
        return wait

    def widen(self) -> None:
        """Add a step to the margin after a 429, up to the maximum."""
        with self._lock:
            self.margin = min(
                self.margin + RATE_WINDOW_MARGIN_STEP_SECONDS, MAX_RATE_WINDOW_MARGIN_SECONDS
            )

    def pause(self, seconds: float) -> None:
        """Hold every stream back for ``seconds`` after the server returned 429."""
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


def iso_to_epoch(value: str) -> int:
    """Convert an ISO 8601 date-time (naive means UTC) to Unix seconds."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return int(parsed.timestamp())


def remove_userinfo(url: t.Any) -> t.Any:
    """Return ``url`` without the ``user:password@`` part of its authority.

    Only the authority (between ``://`` and the first ``/``, ``?`` or ``#``) is
    changed, so an ``@`` in the path or query stays. A password may contain an
    unencoded ``@``, so everything up to the last ``@`` is removed. Values that are
    not strings are returned unchanged.
    """
    if not isinstance(url, str):
        return url
    scheme, separator, rest = url.partition("://")
    if not separator:
        return url
    end = len(rest)
    for delimiter in "/?#":
        position = rest.find(delimiter)
        if position != -1:
            end = min(end, position)
    authority = rest[:end]
    if "@" not in authority:
        return url
    return f"{scheme}://{authority.rsplit('@', 1)[1]}{rest[end:]}"


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

    The SDK detects only a cursor repeated on consecutive pages, so a cycle such as
    A, B, A would loop forever. This paginator remembers every cursor of the
    listing. It also remembers a digest of every non-empty page, which catches a
    server that hands out fresh cursors to the same page again.
    """

    def __init__(self, stream_name: str) -> None:
        super().__init__(None)
        self.stream_name = stream_name
        self._seen: set[str] = set()
        self._pages: set[str] = set()

    def get_next(self, response: requests.Response) -> str | None:
        """Return the cursor of the next page, or None on the last page."""
        body = response_body(response)
        token = body.get("next")
        if token is None or token == "" or token is False:
            return None
        if isinstance(token, int) and not isinstance(token, bool):
            token = str(token)
        if not isinstance(token, str):
            msg = (
                f"Stream '{self.stream_name}': the API returned a next cursor of type "
                f"{type(token).__name__} after {self.count} pages, which cannot be "
                "followed. Rerun later; if it persists, report it to Customer.io support."
            )
            raise PaginationError(msg)
        if token in self._seen:
            msg = (
                f"Stream '{self.stream_name}': the API returned cursor {token[:40]!r} a "
                f"second time after {self.count} pages, so paging would never end. "
                "Rerun later; if it persists, report it to Customer.io support."
            )
            raise PaginationLoopError(msg)
        self._check_page_repeat(body)
        self._seen.add(token)
        return token

    def _check_page_repeat(self, body: dict) -> None:
        page = {key: value for key, value in body.items() if key != "next"}
        # NOTE: empty pages are not compared, because a filtered listing may return
        # several of them, so fresh cursors to empty pages forever still loop.
        if not any(value for value in page.values() if isinstance(value, (list, dict))):
            return
        try:
            text = _encode_sorted_json(page)
        except (TypeError, ValueError, msgspec.EncodeError):
            text = json.dumps(page, sort_keys=True, default=str).encode("utf-8")
        digest = hashlib.sha256(text).hexdigest()
        if digest in self._pages:
            msg = (
                f"Stream '{self.stream_name}': the API returned the same page again "
                f"under a new cursor after {self.count} pages, so paging would never "
                "end. Rerun later; if it persists, report it to Customer.io support."
            )
            raise PaginationLoopError(msg)
        self._pages.add(digest)

    def continue_if_empty(self, response: requests.Response) -> bool:
        """Keep paging past an empty page while the API still returns a cursor."""
        return bool(response_body(response).get("next"))


def response_body(response: requests.Response) -> dict:
    """Return the JSON object parsed (once) during response validation."""
    body = getattr(response, "cio_body", None)
    if body is None:
        try:
            body = response.json()
        except ValueError:
            return {}
    return body if isinstance(body, dict) else {}


class CustomerIOStream(RESTStream):
    """Base class of every Customer.io App API stream.

    Subclasses set ``path``, ``envelope_key`` (the response key holding the records),
    ``primary_keys``, the schema and, for cursor-paged lists, ``page_size``. Fields
    the API adds later are passed on (the schema allows additional properties), and
    fields whose type changed are fitted to the schema by ``tap_customerio.conform``.
    """

    envelope_key: str = ""
    #: Whether the list is cursor-paged (``start`` in the query, ``next`` in the body).
    paged: bool = False
    #: ``limit`` sent with each request; None where the endpoint documents no limit.
    page_size: int | None = None
    #: Whether ``null`` under the envelope key documents the end of the listing
    #: (ESP suppressions); elsewhere a ``null`` page inside a listing is retried.
    null_ends_listing: bool = False
    #: Filter records older than the bookmark on the client, for lists the API
    #: cannot filter by time.
    client_side_filter: bool = False
    #: Inclusive bounds of the client-side filter for the current partition, as ISO 8601.
    _filter_start: str | None = None
    _filter_end: str | None = None

    def __init_subclass__(cls, **kwargs: t.Any) -> None:
        """Let every stream schema pass on top-level fields that the API adds later."""
        super().__init_subclass__(**kwargs)
        schema = cls.__dict__.get("schema")
        if isinstance(schema, dict):
            schema.setdefault("additionalProperties", True)

    @property
    def url_base(self) -> str:
        """Return the API root: ``api_url`` if set, otherwise the region's host.

        A ``user:password@`` part of ``api_url`` is dropped: the bearer token is the
        only credential sent, and without it no library error can echo the password.
        """
        api_url = self.config.get("api_url")
        if api_url:
            return remove_userinfo(api_url).rstrip("/")
        return REGION_URLS[self.config.get("region") or "us"]

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

    @cached_property
    def _drift_logged(self) -> set[str]:
        return set()

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
        """Wrap a request with the shared rate limiter and the retry policy.

        The retry budget is ``max_retries`` retries and ``max_retry_seconds`` seconds
        per request, whichever runs out first.
        """
        limiter: RateLimiter = self._tap.rate_limiter
        stats: RunStats = self._tap.run_stats

        def paced(prepared_request: requests.PreparedRequest, context: Context | None) -> t.Any:
            limiter.acquire()
            stats.add(self.name, "requests")
            return func(prepared_request, context)

        retrying = backoff.on_exception(
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
            # backoff's own log lines repeat ours and print raw exception text.
            logger=None,
        )(paced)
        # A response sent ahead by the parent (prefetch.py) is taken from the cache.
        return self._tap.prefetcher.serving(self.name, retrying)

    @cached_property
    def direct_send(self) -> t.Callable:
        """Return the decorated request without the cache, for the worker threads."""
        return self.request_decorator(self._request).direct

    def prefetch_requests(self, context: Context) -> list[requests.PreparedRequest]:
        """Return the requests that a sync of ``context`` starts with, to send ahead.

        The default is the first page, built as ``request_records`` builds it. A
        stream whose first request depends on more than the context overrides this,
        or returns no request.
        """
        paginator = self.get_new_paginator() or SinglePagePaginator()
        return [self._prepare_request(context=context, page=paginator)]

    @cached_property
    def requests_session(self) -> requests.Session:
        """Return the stream's session, with one pooled connection per worker thread."""
        session = self._requests_session or requests.Session()
        size = self._tap.prefetcher.size + 2
        adapter = requests.adapters.HTTPAdapter(pool_connections=size, pool_maxsize=size)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        self._requests_session = session
        return session

    def _retry_wait(self) -> t.Generator[float, t.Any, None]:
        """Yield waits: the server's Retry-After, else exponential with jitter.

        Without Retry-After (a daily quota, a 5xx, a timeout), retry ``n`` waits a
        random time between half and all of ``2 ** (n - 1)`` seconds, at most 60 s.
        """
        attempt = 0
        exception = yield 0.0
        while True:
            attempt += 1
            retry_after = _retry_after_seconds(getattr(exception, "response", None))
            if retry_after is not None:
                wait = retry_after
            else:
                ceiling = min(
                    MAX_EXPONENTIAL_WAIT_SECONDS, EXPONENTIAL_BASE_SECONDS * 2.0 ** (attempt - 1)
                )
                wait = random.uniform(ceiling / 2, ceiling)
            exception = yield wait

    def backoff_handler(self, details: dict) -> None:
        """Log one retry with its reason, without the URL's query or credentials."""
        exception = details.get("exception")
        response = getattr(exception, "response", None)
        self._tap.run_stats.add(self.name, "retries")
        if response is not None and response.status_code == 429:
            self._tap.run_stats.add(self.name, "rate_limited")
            self._tap.rate_limiter.widen()
            if _retry_after_seconds(response) is not None:
                # backoff has already capped the wait at the remaining retry budget.
                self._tap.rate_limiter.pause(details["wait"])
        self.logger.warning(
            "Stream '%s': %s on %s; retry %d in %.1f s.",
            self.name,
            self._failure_reason(exception),
            self._request_label(details),
            details["tries"],
            details["wait"],
        )

    def _give_up(self, details: dict) -> None:
        exception = details.get("exception")
        msg = (
            f"Stream '{self.name}': {self._request_label(details)} still failed after "
            f"{details['tries']} attempts over {details['elapsed']:.1f} s "
            f"({self._failure_reason(exception, detail=True)}). Rerun later to resume "
            "from the last STATE, or raise max_retries or max_retry_seconds."
        )
        raise RetryBudgetExhaustedError(msg) from None

    def _failure_reason(self, exception: BaseException | None, *, detail: bool = False) -> str:
        """Describe a failed attempt in a few words, without raw library messages."""
        response = getattr(exception, "response", None)
        if isinstance(exception, BadBodyError):
            return exception.reason
        if isinstance(exception, RetriableAPIError) and response is not None:
            text = f"HTTP {response.status_code}"
            if detail:
                text = f"{text} {error_detail(response)}".strip()
            return self.scrub(text)
        if isinstance(exception, requests.exceptions.Timeout):
            return f"timed out after {self.timeout:g} s"
        if isinstance(exception, requests.exceptions.ChunkedEncodingError):
            return "connection closed mid-body"
        if isinstance(exception, (requests.exceptions.ConnectionError, ConnectionResetError)):
            return "connection failed"
        return type(exception).__name__

    def scrub(self, text: str) -> str:
        """Return ``text`` with the API key and any URL password replaced by ``***``."""
        secrets = [self.config.get("api_key")]
        api_url = self.config.get("api_url")
        if isinstance(api_url, str) and "@" in api_url:
            userinfo = urlsplit(api_url).netloc.rsplit("@", 1)[0]
            secrets.extend([userinfo, *userinfo.split(":", 1)])
        for secret in sorted((s for s in secrets if isinstance(s, str) and s), key=len)[::-1]:
            text = text.replace(secret, "***")
        return text

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

        A body that is not a JSON object, or has no list (or ``null``) under the
        envelope key, is retried like a 5xx, because proxies and load balancers return
        transient failures with HTML pages or cut bodies.
        """
        status = response.status_code
        label = f"{response.request.method} {_path_of(response)}"
        if status in RETRY_STATUSES or status >= 500:
            raise RetriableAPIError(f"HTTP {status} on {label}", response)
        if status >= 400:
            self._raise_for_client_error(response, label)

        try:
            body = decode_json(response.content)
        except (ValueError, RecursionError) as exc:
            reason = f"invalid JSON body ({type(exc).__name__}: {str(exc)[:80]})"
            raise BadBodyError(self.name, label, reason, response) from None
        key = self.envelope_key
        if not isinstance(body, dict):
            reason = f"JSON body is a {type(body).__name__}, not an object"
            raise BadBodyError(self.name, label, reason, response)
        if key and key not in body:
            raise BadBodyError(self.name, label, f"no '{key}' key in the body", response)
        if key and not isinstance(body[key], (list, dict, type(None))):
            reason = f"a {type(body[key]).__name__} under '{key}' instead of a list"
            raise BadBodyError(self.name, label, reason, response)
        if key and body[key] is None and not self._null_is_empty(response, body):
            reason = f"null under '{key}' on a page inside a listing"
            raise BadBodyError(self.name, label, reason, response)
        response.cio_body = body  # type: ignore[attr-defined]

    def _null_is_empty(self, response: requests.Response, body: dict) -> bool:
        """Tell whether ``null`` under the envelope key can mean an empty list.

        It can on the first and only page of a listing, where APIs written in Go send
        an empty list as ``null``. A ``null`` page after a cursor, or one that still
        returns a ``next`` cursor, would silently drop records, so it is retried.
        """
        if self.null_ends_listing:
            return True
        query = urlsplit(response.request.url or "").query
        after_cursor = any(part.startswith("start=") for part in query.split("&"))
        return not after_cursor and not body.get("next")

    def _raise_for_client_error(self, response: requests.Response, label: str) -> None:
        status = response.status_code
        if status == 401:
            if self.config.get("api_url"):
                where = (
                    "api_url points at the workspace's region: a US workspace uses "
                    "https://api.customer.io/v1, an EU one https://api-eu.customer.io/v1"
                )
            else:
                region = self.config.get("region") or "us"
                other = "eu" if region == "us" else "us"
                where = (
                    f"the region matches the workspace: region is '{region}', try "
                    f"region '{other}' if the workspace is hosted there"
                )
            msg = (
                f"Customer.io rejected the API key (HTTP 401 on {label}). Check that "
                f"api_key is an App API key (not a Track API key) and that {where}."
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
        hint = ""
        if status == 404:
            hint = " Check that api_url (if set) ends with /v1."
        detail = self.scrub(error_detail(response))
        msg = f"Stream '{self.name}': HTTP {status} on {label}: {detail}.{hint}"
        raise FatalAPIError(msg)

    def parse_response(self, response: requests.Response) -> t.Iterable[dict]:
        """Yield the records under the envelope key; ``null`` means no records."""
        records = response_body(response).get(self.envelope_key)
        if records is None:
            return
        if isinstance(records, dict):
            yield records
            return
        skipped = 0
        for record in records:
            if isinstance(record, dict):
                yield record
            else:
                skipped += 1
        if skipped:
            self.logger.warning(
                "Stream '%s': skipped %d list items of %s that are not JSON objects.",
                self.name,
                skipped,
                _path_of(response),
            )

    def get_records(self, context: Context | None) -> t.Iterable[dict]:
        """Yield records, skipping a child whose parent was deleted mid-run."""
        try:
            yield from prefetch_children(self, super().get_records(context), context)
        except ParentGoneError as exc:
            self._tap.run_stats.add(self.name, "skipped_parents")
            self.logger.warning(
                "Stream '%s': skipped %s, because it returned 404 (the parent was "
                "deleted after it was listed).",
                self.name,
                exc,
            )

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        """Fit the record to the schema and convert Unix-seconds fields to ISO 8601.

        A field that does not fit its schema type becomes null with a warning; a
        primary-key field that does not fit stops the run, because the record could
        not be distinguished from others.
        """
        row, report = self._fit_record(row)
        for path, value in report.misfits:
            self._report_misfit(path, value)
        if report.new_fields:
            self._report_new_fields(report.new_fields)
        for name in self.timestamp_fields:
            value = row.get(name)
            if value is not None:
                row[name] = epoch_to_iso(value)
        return row

    @cached_property
    def _fit_record(self) -> t.Callable[[dict], tuple[dict, t.Any]]:
        """Return ``fit_record`` for this stream's schema, compiled once."""
        return compile_record_fitter(self.schema)

    @cached_property
    def _deselected_fields(self) -> bool:
        """Whether the catalog deselects any property (else nothing needs popping)."""
        return not all(self.mask.values())

    @cached_property
    def _sdk_conformance_needed(self) -> bool:
        """Whether the SDK's type conformance could still change a fitted record.

        ``post_process`` fits every record to ``self.schema``; the SDK's pass is
        redundant after it when the catalog keeps that schema and the schema passes
        ``sdk_conformance_redundant``. tests/test_conformance.py checks the claim.
        """
        if self.TYPE_CONFORMANCE_LEVEL == TypeConformanceLevel.NONE:
            return False
        return self.effective_schema != self.schema or not sdk_conformance_redundant(self.schema)

    def _generate_record_messages(self, record: dict) -> t.Generator[RecordMessage, None, None]:
        """Yield the RECORD messages of one record, as the SDK does, minus repeated work.

        The SDK walks the record again to drop deselected properties and to conform
        types. Here the first walk runs only when the catalog deselects something and
        the second only when ``_sdk_conformance_needed``; stream maps run as usual.
        """
        if self._deselected_fields:
            pop_deselected_record_properties(record, self.schema, self.mask)
        if self._sdk_conformance_needed:
            record = conform_record_data_types(
                stream_name=self.name,
                record=record,
                schema=self.effective_schema,
                level=self.TYPE_CONFORMANCE_LEVEL,
                logger=self.logger,
            )
        for stream_map in self.stream_maps:
            mapped_record = stream_map.transform(record)
            if mapped_record is not None:
                yield RecordMessage(
                    stream=stream_map.stream_alias,
                    record=mapped_record,
                    version=self._stream_version,
                    time_extracted=utc_now(),
                )

    def _report_misfit(self, path: str, value: t.Any) -> None:
        expected = self._schema_type(path)
        shown = repr(value)[:60]
        if path in (self.primary_keys or ()):
            msg = (
                f"Stream '{self.name}': primary-key field '{path}' arrived as {shown} "
                f"({type(value).__name__}), which does not fit its schema type "
                f"{expected}. The API changed this field; report it to the tap's "
                "maintainers."
            )
            raise SchemaDriftError(msg)
        if path in self._drift_logged:
            return
        self._drift_logged.add(path)
        self.logger.warning(
            "Stream '%s': field '%s' arrived as %s (%s), which does not fit its schema "
            "type %s; emitted null. Later misfits of this field are not logged.",
            self.name,
            path,
            shown,
            type(value).__name__,
            expected,
        )

    def _report_new_fields(self, names: list[str]) -> None:
        new = sorted(set(names) - self._drift_logged)
        if not new:
            return
        self._drift_logged.update(new)
        self.logger.info(
            "Stream '%s': the API sent fields that are not in the schema, passed on "
            "as they are: %s.",
            self.name,
            ", ".join(new),
        )

    def _schema_type(self, path: str) -> str:
        schema: t.Any = self.schema
        for part in path.replace("[]", ".[]").split("."):
            if not isinstance(schema, dict):
                break
            schema = schema.get("items") if part == "[]" else schema.get("properties", {}).get(part)
        if not isinstance(schema, dict):
            return "unknown"
        types = schema.get("type")
        names = [types] if isinstance(types, str) else list(types or [])
        names = [n for n in names if n != "null"]
        if schema.get("format") == "date-time":
            names = ["date-time"]
        return "/".join(names) or "any"

    @property
    def emit_activate_version_messages(self) -> bool:
        """Emit ACTIVATE_VERSION for full-table streams unless the setting turns it off.

        The SDK's default is off; this tap defaults to on, so a target that supports the
        message removes rows deleted at the source.
        """
        if not self.config.get("emit_activate_version_messages", True):
            return False
        if self.config.get("batch_config"):
            # Rows that a target loads from BATCH files carry no table version, so an
            # ACTIVATE_VERSION would mark every one of them deleted (target-postgres
            # 0.8.1 does this); BATCH runs therefore never send it.
            if not getattr(self, "_batch_version_warned", False):
                self._batch_version_warned = True
                self.logger.warning(
                    "Stream '%s': ACTIVATE_VERSION is not sent in BATCH mode, so rows "
                    "deleted at the source stay in the target.",
                    self.name,
                )
            return False
        return True

    def get_replication_key_signpost(self, context: Context | None = None) -> t.Any:
        """Cap bookmarks at the run's start or at ``end_date``, whichever is earlier."""
        signpost = super().get_replication_key_signpost(context)
        end_date = self.config.get("end_date")
        if signpost is None or not end_date:
            return signpost
        return min(signpost, datetime.fromtimestamp(iso_to_epoch(end_date), tz=timezone.utc))

    def _outside_filter(self, record: dict) -> bool:
        """Return whether the client-side filter drops ``record``.

        A record is kept when its replication key lies between the starting bookmark
        (or ``start_date``) and ``end_date``, both inclusive, or is null.
        """
        if not (self.client_side_filter and self.replication_key):
            return False
        value = record.get(self.replication_key)
        if value is None:
            return False
        start, end = self._filter_start, self._filter_end
        return (start is not None and value < start) or (end is not None and value > end)

    def _write_record_message(self, record: dict) -> None:
        """Write a RECORD unless the client-side filter drops it as unchanged.

        The filter runs here rather than in ``post_process`` because the SDK reads a
        parent's children only for records that leave ``post_process``, and a child can
        change while its parent's update time stays put.
        """
        if self._outside_filter(record):
            return
        super()._write_record_message(record)

    def _write_state_message(self) -> None:
        """Write STATE, from child streams at most every ``CHILD_STATE_INTERVAL_SECONDS``.

        A child stream writes STATE after each parent, and every message contains the
        bookmarks of all parents, so writing each one costs time quadratic in the
        number of parents. ``TapCustomerIO.sync_all`` writes the held STATE at the end.
        """
        if self.parent_stream_type is not None and not self.state_manager.is_flushed:
            now = time.monotonic()
            if now - self._tap.child_state_written < CHILD_STATE_INTERVAL_SECONDS:
                self._tap.child_state_pending = True
                return
            self._tap.child_state_written = now
        super()._write_state_message()

    def _increment_stream_state(
        self, latest_record: dict, *, context: Context | None = None
    ) -> None:
        """Move the bookmark only for records that the client-side filter keeps.

        Otherwise a run whose records all predate the bookmark would move it back,
        and a record after ``end_date`` would move it past ``end_date``.
        """
        if self._outside_filter(latest_record):
            return
        super()._increment_stream_state(latest_record, context=context)

    def _sync_records(
        self, context: Context | None = None, *, write_messages: bool = True
    ) -> t.Generator[dict, t.Any, t.Any]:
        """Yield synced records, filtered on the client for BATCH files too.

        In BATCH mode the SDK writes the yielded records to files and never calls
        ``_write_record_message``, so the same filter applies here.
        """
        for record in super()._sync_records(context, write_messages=write_messages):
            if write_messages or not self._outside_filter(record):
                yield record

    def _write_starting_replication_value(self, context: Context | None) -> None:
        super()._write_starting_replication_value(context)
        self._filter_start = None
        self._filter_end = None
        if self.client_side_filter and self.replication_key:
            start = self.get_starting_timestamp(context)
            if start is not None:
                self._filter_start = epoch_to_iso(int(start.timestamp()))
            end_date = self.config.get("end_date")
            if end_date:
                self._filter_end = epoch_to_iso(iso_to_epoch(end_date))


def _retry_after_seconds(response: requests.Response | None) -> float | None:
    """Return the Retry-After of a 429 in seconds (number or HTTP date), at most 300."""
    if response is None or response.status_code != 429:
        return None
    header = response.headers.get("Retry-After")
    if header is None:
        return None
    try:
        seconds = float(header)
    except ValueError:
        try:
            when = parsedate_to_datetime(header)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - datetime.now(timezone.utc)).total_seconds()
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def _path_of(response: requests.Response) -> str:
    path_url = response.request.path_url if response.request is not None else ""
    return (path_url or "").split("?", 1)[0]
