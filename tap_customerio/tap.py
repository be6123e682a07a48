"""The tap: settings, their validation and the stream list."""

from __future__ import annotations

import contextlib
import copy
import io
import ipaddress
import math
import re
import sys
import time
import typing as t
from datetime import datetime, timezone
from decimal import Decimal
from functools import cached_property
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.configuration._dict_config import parse_environment_config
from singer_sdk.exceptions import ConfigValidationError, FatalAPIError
from singer_sdk.helpers._classproperty import classproperty

from tap_customerio.cli_inputs import (
    InputFileError,
    check_catalog_text,
    check_state_text,
    read_config_file,
)
from tap_customerio.client import REGION_URLS, RateLimiter, RunStats
from tap_customerio.prefetch import DEFAULT_MAX_CONCURRENT_REQUESTS, Prefetcher
from tap_customerio.progress import ProgressLog
from tap_customerio.streams import STREAM_TYPES
from tap_customerio.streams.customers import CUSTOMERS_METHODS
from tap_customerio.streams.metrics import (
    DEFAULT_LOOKBACK_DAYS,
    DEFAULT_RESOLUTION,
    DEFAULT_TIMEZONE,
    RESOLUTIONS,
)
from tap_customerio.summary import (
    ActivityRunStats,
    RecordCountingWriter,
    summarize,
    summary_lines,
)

if t.TYPE_CHECKING:
    from singer_sdk.streams import Stream

NUMBER_SETTINGS = (
    "request_timeout",
    "max_requests_per_second",
    "max_concurrent_requests",
    "max_retries",
    "max_retry_seconds",
    "messages_lookback_days",
    "messages_window_days",
    "metrics_lookback_days",
)
#: Slower than one request per 10 s is a mistake, and tiny values overflow the limiter.
MIN_REQUESTS_PER_SECOND = 0.1
MIN_CONCURRENT_REQUESTS = 1
#: More threads than this gain nothing under a 10 requests per second budget.
MAX_CONCURRENT_REQUESTS = 64


def parse_datetime_setting(value: str) -> datetime:
    """Parse an ISO 8601 date or date-time setting; a value without offset is UTC."""
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


def redact_url(url: str) -> str:
    """Return ``url`` with everything between the scheme and the last ``@`` as ``***``.

    This over-redacts rather than under-redacts: it also covers text that does not
    parse as a URL, such as ``user:pw@host/v1`` or a password containing ``/``.
    """
    if "@" not in url:
        return url
    scheme = _SCHEME.match(url)
    prefix = scheme.group(0) if scheme else ""
    return f"{prefix}***@{url.rsplit('@', 1)[1]}"


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
# Characters that requests refuses in a header value, or that would corrupt it.
_HEADER_UNSAFE = re.compile(r"[\x00-\x1f\x7f]|^\s|\s$")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _header_safe(value: str) -> bool:
    if _HEADER_UNSAFE.search(value):
        return False
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def check_settings(config: dict) -> list[str]:
    """Return one line per invalid setting, naming the value and the fix.

    Every line is safe to log: the API key and URL credentials are never quoted.
    """
    if not isinstance(config, dict):
        return ["the settings are not a JSON object: give a mapping of setting names to values."]
    return [
        *_check_api_key(config.get("api_key")),
        *_check_region(config.get("region")),
        *_check_api_url(config.get("api_url")),
        *_check_dates(config),
        *_check_numbers(config),
        *_check_customers_method(config.get("customers_method")),
        *_check_user_agent(config.get("user_agent")),
    ]


def _check_api_key(api_key: t.Any) -> list[str]:
    if not isinstance(api_key, str) or not api_key.strip():
        return [
            "api_key is missing or empty: set it to an App API key from "
            "Settings > API Credentials > App API Keys (env TAP_CUSTOMERIO_API_KEY)."
        ]
    if not _header_safe(api_key):
        return [
            "api_key contains spaces, line breaks or other characters that a key never "
            "has: copy the App API key again, without surrounding whitespace."
        ]
    return []


def _check_region(region: t.Any) -> list[str]:
    if region is None or (isinstance(region, str) and region in REGION_URLS):
        return []
    shown = repr(region)[:40]
    return [
        f"region {shown} is invalid: use 'us' or 'eu' (the data center of the "
        "workspace, shown in Settings > Workspace Settings)."
    ]


def _check_api_url(api_url: t.Any) -> list[str]:
    if api_url is None or api_url == "":
        return []
    example = "for example 'https://api.customer.io/v1'"
    if not isinstance(api_url, str):
        return [f"api_url is a {type(api_url).__name__}, not text: give a URL, {example}."]
    shown = repr(redact_url(api_url))[:120]
    invalid = f"api_url {shown} is invalid: give a full http(s) URL including /v1, {example}."
    try:
        parts = urlsplit(api_url)
        host = parts.hostname
        _ = parts.port
    except ValueError:
        return [invalid]
    if parts.scheme not in {"http", "https"} or not host or not _header_safe(api_url):
        return [invalid]
    if parts.scheme == "http" and not _is_loopback(host):
        return [
            f"api_url {shown} uses plain http to a non-loopback host, which would "
            "send the API key unencrypted: use https."
        ]
    return []


def _check_dates(config: dict) -> list[str]:
    errors: list[str] = []
    parsed: dict[str, datetime] = {}
    for name in ("start_date", "end_date"):
        value = config.get(name)
        if value is None or value == "":
            continue
        try:
            if not isinstance(value, str):
                raise ValueError(value)
            parsed[name] = parse_datetime_setting(value)
        except (ValueError, OverflowError):
            errors.append(
                f"{name} {repr(value)[:60]} is not an ISO 8601 date-time: use a value "
                "such as '2026-01-31T00:00:00Z'."
            )
    start, end = parsed.get("start_date"), parsed.get("end_date")
    if start is not None and end is not None and end < start:
        errors.append(
            f"end_date {config['end_date']!r} is before start_date "
            f"{config['start_date']!r}: swap them or remove end_date."
        )
    return errors


def _is_real(value: t.Any) -> bool:
    # The SDK reads JSON config files with decimal.Decimal for non-integers.
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return False
    return math.isfinite(value)


def _check_numbers(config: dict) -> list[str]:
    errors: list[str] = []
    positive = {
        "request_timeout": "seconds per request",
        "messages_window_days": "days per deliveries request window",
    }
    for name, unit in positive.items():
        value = config.get(name)
        if value is not None and not (_is_real(value) and value > 0):
            errors.append(
                f"{name} {repr(value)[:40]} is invalid: give a positive number of {unit}."
            )
    rate = config.get("max_requests_per_second")
    if rate is not None and not (_is_real(rate) and rate >= MIN_REQUESTS_PER_SECOND):
        errors.append(
            f"max_requests_per_second {repr(rate)[:40]} is invalid: give a number of "
            f"requests per second of at least {MIN_REQUESTS_PER_SECOND:g}."
        )
    for name in (
        "max_retries",
        "max_retry_seconds",
        "messages_lookback_days",
        "metrics_lookback_days",
    ):
        value = config.get(name)
        if value is not None and not (_is_real(value) and value >= 0):
            errors.append(f"{name} {repr(value)[:40]} is invalid: give a number of 0 or more.")
    concurrency = config.get("max_concurrent_requests")
    if concurrency is not None and not (
        _is_real(concurrency)
        and MIN_CONCURRENT_REQUESTS <= concurrency <= MAX_CONCURRENT_REQUESTS
        and concurrency == int(concurrency)
    ):
        errors.append(
            f"max_concurrent_requests {repr(concurrency)[:40]} is invalid: give a whole "
            f"number from {MIN_CONCURRENT_REQUESTS} to {MAX_CONCURRENT_REQUESTS}."
        )
    retries = config.get("max_retries")
    if _is_real(retries) and retries >= 0 and retries != int(retries):
        errors.append(f"max_retries {retries!r} is invalid: give a whole number of retries.")
    window = config.get("messages_window_days")
    if _is_real(window) and window > 180:
        errors.append(
            f"messages_window_days {window!r} is too large: the API serves at most 6 "
            "months per request, so use 180 or less."
        )
    errors.extend(check_metrics_settings(config))
    return errors


def check_metrics_settings(config: dict) -> list[str]:
    """Return one line per invalid metrics setting (resolution and time zone)."""
    errors: list[str] = []
    resolution = config.get("metrics_resolution", DEFAULT_RESOLUTION)
    if resolution not in RESOLUTIONS:
        errors.append(
            f"metrics_resolution {resolution!r} is invalid: use 'hours', 'days', 'weeks' "
            "or 'months'."
        )
    zone = config.get("metrics_timezone", DEFAULT_TIMEZONE)
    try:
        ZoneInfo(str(zone))
    except (ZoneInfoNotFoundError, ValueError):
        errors.append(
            f"metrics_timezone {zone!r} is not an IANA time zone: use a name such as "
            "'UTC', 'America/New_York' or 'Europe/Berlin'."
        )
    return errors


def _check_customers_method(method: t.Any) -> list[str]:
    if method is None or method in CUSTOMERS_METHODS:
        return []
    return [f"customers_method {repr(method)[:40]} is invalid: use 'api' or 'export'."]


def _check_user_agent(user_agent: t.Any) -> list[str]:
    if user_agent is None or (isinstance(user_agent, str) and _header_safe(user_agent)):
        return []
    return [
        "user_agent is invalid: give one line of printable ASCII text without "
        "surrounding spaces, or remove it to send tap-customerio/<version>."
    ]


def _number_from_text(value: str) -> t.Any:
    """Return the int or float that ``value`` spells, or ``value`` itself."""
    for kind in (int, float):
        with contextlib.suppress(ValueError):
            return kind(value)
    return value


def _checked_file(stream: t.IO[str], check: t.Callable[[str, str], None]) -> t.IO[str]:
    """Run ``check`` on the text of an opened input file; return the text, readable again."""
    path = getattr(stream, "name", "-")
    try:
        text = stream.read()
    except (OSError, UnicodeDecodeError) as exc:
        msg = f"file '{path}' cannot be read ({type(exc).__name__}): check the path."
        raise InputFileError(msg) from None
    check(text, path)
    return io.StringIO(text)


class TapCustomerIO(Tap):
    """Singer tap for the Customer.io App API."""

    name = "tap-customerio"
    package_name = "tap-customerio"
    message_writer_class = RecordCountingWriter

    config_jsonschema = th.PropertiesList(
        th.Property(
            "api_key",
            th.StringType,
            required=True,
            secret=True,
            title="App API key",
            description="Customer.io App API key, sent as a bearer token.",
        ),
        th.Property(
            "region",
            th.StringType,
            default="us",
            allowed_values=["us", "eu"],
            title="Region",
            description=(
                "Data center of the workspace: 'us' (api.customer.io) or 'eu' (api-eu.customer.io)."
            ),
        ),
        th.Property(
            "api_url",
            th.StringType,
            title="API URL",
            description=("Full base URL including /v1. Overrides region; for proxies and tests."),
        ),
        th.Property(
            "start_date",
            th.DateTimeType,
            title="Start date",
            description=(
                "Earliest data to read for time-based streams (deliveries, activities, "
                "metrics, and the client-side filter of lists with an update time). "
                "When unset, deliveries and metrics start 365 days before the run and "
                "every other stream reads all the data the API returns."
            ),
        ),
        th.Property(
            "end_date",
            th.DateTimeType,
            title="End date",
            description=(
                "Latest data to read for time-based streams, for a backfill. Bookmarks "
                "never move past it. When unset, streams read up to the time of the run."
            ),
        ),
        th.Property(
            "request_timeout",
            th.NumberType,
            default=60,
            title="Request timeout",
            description="Seconds to wait for each HTTP response before retrying.",
        ),
        th.Property(
            "max_requests_per_second",
            th.NumberType,
            default=10,
            title="Max requests per second",
            description=(
                "Request budget this tap may use, shared by all streams. Customer.io "
                "allows 10 per second per workspace, shared with other App API clients."
            ),
        ),
        th.Property(
            "max_concurrent_requests",
            th.IntegerType,
            default=DEFAULT_MAX_CONCURRENT_REQUESTS,
            title="Max concurrent requests",
            description=(
                "Requests in flight at once, all within max_requests_per_second. At "
                "10 per second and 200 ms per request, one at a time reaches only 5 "
                "per second. Records and STATE keep their order; 1 sends one at a time."
            ),
        ),
        th.Property(
            "max_retries",
            th.IntegerType,
            default=10,
            title="Max retries",
            description="Retries of one request after 429, 408, 5xx, timeouts or resets.",
        ),
        th.Property(
            "max_retry_seconds",
            th.NumberType,
            default=900,
            title="Max retry seconds",
            description="Total seconds one request may spend in retries before the run fails.",
        ),
        th.Property(
            "messages_lookback_days",
            th.NumberType,
            default=7,
            title="Deliveries lookback days",
            description=(
                "Days before the deliveries bookmark that each run reads again, because "
                "opens, clicks and conversions keep updating a delivery's metrics."
            ),
        ),
        th.Property(
            "messages_window_days",
            th.NumberType,
            default=30,
            title="Deliveries window days",
            description=(
                "Days per deliveries request window (at most 180). STATE is written "
                "after each window, so a failed run resumes from the last full window."
            ),
        ),
        th.Property(
            "metrics_resolution",
            th.StringType,
            default=DEFAULT_RESOLUTION,
            allowed_values=list(RESOLUTIONS),
            title="Metrics resolution",
            description=(
                "Length of one period of the metrics streams: hours, days, weeks "
                "(starting on Sunday) or months. The version 1 metrics endpoints "
                "(one-time sends, broadcasts, transactional) serve at most 24 hours, "
                "45 days, 12 weeks or 121 months back."
            ),
        ),
        th.Property(
            "metrics_lookback_days",
            th.NumberType,
            default=DEFAULT_LOOKBACK_DAYS,
            title="Metrics lookback days",
            description=(
                "Days before each metrics bookmark that every run reads again, because "
                "opens, clicks and conversions keep adding to a period for weeks."
            ),
        ),
        th.Property(
            "metrics_timezone",
            th.StringType,
            default=DEFAULT_TIMEZONE,
            title="Metrics time zone",
            description=(
                "IANA time zone whose midnights bound the days, weeks and months of the "
                "version 2 metrics streams (automations and their actions). Version 1 "
                "endpoints always use Eastern time and journey metrics UTC. Changing it "
                "shifts period_start, so existing rows are not overwritten."
            ),
        ),
        th.Property(
            "customers_method",
            th.StringType,
            default="api",
            allowed_values=list(CUSTOMERS_METHODS),
            title="Customers method",
            description=(
                "How the customers stream reads people: 'api' searches and reads "
                "attributes 100 people per request; 'export' runs one Exports API job "
                "and downloads its file, with fewer requests but only the file's "
                "columns (no devices, unsubscribed or timestamps). The file format is "
                "inferred, not documented."
            ),
        ),
        th.Property(
            "user_agent",
            th.StringType,
            title="User agent",
            description="User-Agent header. Defaults to tap-customerio/<version>.",
        ),
        th.Property(
            "emit_activate_version_messages",
            th.BooleanType,
            default=True,
            title="Emit ACTIVATE_VERSION messages",
            description=(
                "Send ACTIVATE_VERSION after the SCHEMA of each full-table stream, so a "
                "target that supports it removes rows deleted in Customer.io. Set false "
                "for a target that rejects the message."
            ),
        ),
    ).to_dict()

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """Validate settings with messages that name the value and the fix."""
        for name in NUMBER_SETTINGS:
            value = self._config.get(name)
            if isinstance(value, str):
                self._config[name] = _number_from_text(value)
        errors = check_settings(self._config)
        if errors and raise_errors:
            raise ConfigValidationError("Invalid settings", errors=errors)
        api_url = self._config.get("api_url")
        if isinstance(api_url, str) and redact_url(api_url) != api_url:
            self.logger.warning(
                "api_url contains a user name or password, which the tap never sends "
                "(it authenticates with api_key only): remove them from the URL."
            )
        return errors + super()._validate_config(raise_errors=raise_errors)

    @classproperty
    def _env_var_config(cls) -> dict[str, t.Any]:
        """Return settings from TAP_CUSTOMERIO_* variables, numbers still as text.

        The SDK converts integer settings itself and raises a bare ValueError on text
        such as "ten". Reading them as text lets ``_validate_config`` convert them and
        report a bad value in one line.
        """
        schema = copy.deepcopy(cls.config_jsonschema)
        cls.append_builtin_config(schema)
        for name in NUMBER_SETTINGS:
            schema["properties"][name] = {"type": ["string", "null"]}
        return parse_environment_config(schema, cls._env_var_prefix)

    @classmethod
    def cb_config(cls, ctx: click.Context, param: click.Option, value: tuple[str, ...]) -> t.Any:
        """Read --config files, stopping with a one-line error on a bad file."""
        try:
            for path in value:
                if path != "ENV":
                    read_config_file(path)
        except InputFileError as exc:
            cls.logger.error("%s", exc)
            ctx.exit(1)
        return super().cb_config(ctx, param, value)

    @classmethod
    def invoke(  # type: ignore[override]
        cls,
        *,
        about: bool = False,
        about_format: str | None = None,
        config: t.Any = None,
        state: t.IO[str] | None = None,
        catalog: t.IO[str] | None = None,
    ) -> None:
        """Run the tap; an API failure ends it with its one-line message and exit code 1.

        A failure that the tap explains (retry budget spent, 401, 403, a cursor loop,
        a primary key of the wrong type) needs no traceback: the message names the
        stream, the request and the fix. Anything else keeps the SDK's traceback.
        """
        try:
            if state is not None:
                state = _checked_file(state, check_state_text)
            if catalog is not None:
                catalog = _checked_file(catalog, check_catalog_text)
            super().invoke(
                about=about,
                about_format=about_format,
                config=config,
                state=state,
                catalog=catalog,
            )
        except (InputFileError, FatalAPIError) as exc:
            cls.logger.error("%s", exc)
            sys.exit(1)

    @cached_property
    def rate_limiter(self) -> RateLimiter:
        """Return the limiter shared by every stream of this run."""
        return RateLimiter(float(self.config.get("max_requests_per_second", 10)))

    #: When a child stream last wrote STATE (monotonic seconds), and whether one
    #: has held STATE back since; see ``CustomerIOStream._write_state_message``.
    child_state_written = 0.0
    child_state_pending = False

    @cached_property
    def prefetcher(self) -> Prefetcher:
        """Return the request pool shared by every stream of this run."""
        return Prefetcher(
            int(self.config.get("max_concurrent_requests", DEFAULT_MAX_CONCURRENT_REQUESTS))
        )

    @cached_property
    def run_stats(self) -> RunStats:
        """Return the per-stream counters of this run."""
        return ActivityRunStats()

    @cached_property
    def progress(self) -> ProgressLog:
        """Return the rate-limited progress log shared by the streams of this run."""
        return ProgressLog(self.logger)

    def records_written(self, stream_name: str) -> int:
        """Return how many RECORD messages this run has written for ``stream_name``."""
        writer = self.message_writer
        return writer.written(stream_name) if isinstance(writer, RecordCountingWriter) else 0

    def sync_all(self) -> None:
        """Sync every selected stream, then stop the request pool and log the summary.

        Both happen also after a failure.
        """
        started = time.monotonic()
        outcome = "stopped with an error"
        try:
            super().sync_all()
            outcome = "completed"
        finally:
            self.prefetcher.close()
            if self.child_state_pending:
                # Child streams hold STATE back between writes; this writes the last.
                self.state_writer.write_state(self.state)
            # The writer holds RECORD lines in blocks; they are written also when the
            # sync fails, as the SDK's writer would have.
            flush = getattr(self.message_writer, "flush", None)
            if flush is not None:
                flush()
            self.log_sync_summary(time.monotonic() - started, outcome)

    def log_sync_summary(self, seconds: float, outcome: str) -> None:
        """Log one INFO line per selected stream and a total line, once per run."""
        if getattr(self, "_summary_logged", False):
            return
        self._summary_logged = True
        names = [
            stream.name
            for stream in self.streams.values()
            if stream.selected or stream.has_selected_descendents
        ]
        writer = self.message_writer
        records = writer.records if isinstance(writer, RecordCountingWriter) else {}
        for line in summary_lines(summarize(names, self.run_stats, records), seconds, outcome):
            self.logger.info("%s", line)

    @cached_property
    def run_started(self) -> datetime:
        """Return the time this run started, the upper bound of its time windows."""
        return datetime.fromtimestamp(int(time.time()), tz=timezone.utc)

    def discover_streams(self) -> list[Stream]:
        """Return one instance of every stream class."""
        return [stream_class(tap=self) for stream_class in STREAM_TYPES]
