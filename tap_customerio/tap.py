"""The tap: settings, their validation and the stream list."""

from __future__ import annotations

import contextlib
import ipaddress
import time
import typing as t
from datetime import datetime, timezone
from decimal import Decimal
from functools import cached_property
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError

from tap_customerio.client import REGION_URLS, RateLimiter, RunStats
from tap_customerio.streams import STREAM_TYPES
from tap_customerio.streams.metrics import (
    DEFAULT_LOOKBACK_DAYS,
    DEFAULT_RESOLUTION,
    DEFAULT_TIMEZONE,
    RESOLUTIONS,
)

if t.TYPE_CHECKING:
    from singer_sdk.streams import Stream

NUMBER_SETTINGS = (
    "request_timeout",
    "max_requests_per_second",
    "max_retries",
    "max_retry_seconds",
    "messages_lookback_days",
    "messages_window_days",
    "metrics_lookback_days",
)


def parse_datetime_setting(value: str) -> datetime:
    """Parse an ISO 8601 date or date-time setting; a value without offset is UTC."""
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


def redact_url(url: str) -> str:
    """Return ``url`` with any ``user:password@`` part replaced by ``***@``."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return parts._replace(netloc=f"***@{host}").geturl()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_number(value: object) -> bool:
    # The SDK reads JSON config files with decimal.Decimal for non-integers.
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def check_settings(config: dict) -> list[str]:
    """Return one line per invalid setting, naming the value and the fix."""
    errors: list[str] = []

    api_key = config.get("api_key")
    if not isinstance(api_key, str) or not api_key.strip():
        errors.append(
            "api_key is missing or empty: set it to an App API key from "
            "Settings > API Credentials > App API Keys (env TAP_CUSTOMERIO_API_KEY)."
        )

    region = config.get("region", "us")
    if region not in REGION_URLS:
        errors.append(
            f"region {region!r} is invalid: use 'us' or 'eu' (the data center of the "
            "workspace, shown in Settings > Workspace Settings)."
        )

    api_url = config.get("api_url")
    if api_url:
        parts = urlsplit(str(api_url))
        shown = redact_url(str(api_url))
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            errors.append(
                f"api_url {shown!r} is invalid: give a full http(s) URL including /v1, "
                "for example 'https://api.customer.io/v1'."
            )
        elif parts.scheme == "http" and not _is_loopback(parts.hostname):
            errors.append(
                f"api_url {shown!r} uses plain http to a non-loopback host, which would "
                "send the API key unencrypted: use https."
            )

    for name in ("start_date", "end_date"):
        value = config.get(name)
        if value in (None, ""):
            continue
        try:
            parse_datetime_setting(str(value))
        except ValueError:
            errors.append(
                f"{name} {value!r} is not an ISO 8601 date-time: use a value such as "
                "'2026-01-31T00:00:00Z'."
            )
    start, end = config.get("start_date"), config.get("end_date")
    dates_valid = start and end and not errors
    if dates_valid and parse_datetime_setting(str(end)) < parse_datetime_setting(str(start)):
        errors.append(
            f"end_date {end!r} is before start_date {start!r}: swap them or remove end_date."
        )

    positive = {
        "request_timeout": "seconds per request",
        "max_requests_per_second": "requests per second",
        "messages_window_days": "days per deliveries request window",
    }
    for name, unit in positive.items():
        value = config.get(name)
        if value is not None and not (_is_number(value) and value > 0):
            errors.append(f"{name} {value!r} is invalid: give a positive number of {unit}.")
    non_negative = (
        "max_retries",
        "max_retry_seconds",
        "messages_lookback_days",
        "metrics_lookback_days",
    )
    for name in non_negative:
        value = config.get(name)
        if value is not None and not (_is_number(value) and value >= 0):
            errors.append(f"{name} {value!r} is invalid: give a number of 0 or more.")
    window = config.get("messages_window_days")
    if _is_number(window) and window > 180:
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


class TapCustomerIO(Tap):
    """Singer tap for the Customer.io App API."""

    name = "tap-customerio"
    package_name = "tap-customerio"

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
            "user_agent",
            th.StringType,
            title="User agent",
            description="User-Agent header. Defaults to tap-customerio/<version>.",
        ),
    ).to_dict()

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """Validate settings with messages that name the value and the fix."""
        for name in NUMBER_SETTINGS:
            value = self._config.get(name)
            if isinstance(value, str):
                with contextlib.suppress(ValueError):
                    self._config[name] = float(value) if "." in value else int(value)
        errors = check_settings(self._config)
        if errors and raise_errors:
            raise ConfigValidationError("Invalid settings", errors=errors)
        return errors + super()._validate_config(raise_errors=raise_errors)

    @cached_property
    def rate_limiter(self) -> RateLimiter:
        """Return the limiter shared by every stream of this run."""
        return RateLimiter(float(self.config.get("max_requests_per_second", 10)))

    @cached_property
    def run_stats(self) -> RunStats:
        """Return the per-stream counters of this run."""
        return RunStats()

    @cached_property
    def run_started(self) -> datetime:
        """Return the time this run started, the upper bound of its time windows."""
        return datetime.fromtimestamp(int(time.time()), tz=timezone.utc)

    def discover_streams(self) -> list[Stream]:
        """Return one instance of every stream class."""
        return [stream_class(tap=self) for stream_class in STREAM_TYPES]
