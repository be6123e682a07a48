"""Property-based tests of parsers, timestamp conversion, paging and settings checks.

Seeds come from the sandbox's hard cases: its records (non-ASCII names, null nested
objects, tag arrays, ids sent as text), its cursors and its broken bodies.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest
import requests
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sandbox.paging import encode_cursor
from sandbox.workspace import Workspace
from tap_customerio.client import (
    BadBodyError,
    CursorPaginator,
    PaginationError,
    PaginationLoopError,
    epoch_to_iso,
)
from tap_customerio.conform import MISFIT, fit_record, fit_value
from tap_customerio.streams import STREAM_TYPES
from tap_customerio.tap import TapCustomerIO, check_settings

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

WORKSPACE = Workspace.generate(seed=7, now=1_790_000_000)
CAMPAIGN = WORKSPACE.data["campaigns"][0]
ACTION = next(a for actions in WORKSPACE.data["campaign_actions"].values() for a in actions)
SCHEMAS = {cls.name: cls.schema for cls in STREAM_TYPES}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)

# Datetime's range in Unix seconds: 0001-01-01 to 9999-12-31.
MIN_EPOCH, MAX_EPOCH = -62_135_596_800, 253_402_300_799


# Timestamps --------------------------------------------------------------------------


@FUZZ
@given(st.integers() | st.floats() | st.booleans() | st.text(max_size=20) | st.none())
@example(CAMPAIGN["created"])
@example(1_700_000_000_000)  # milliseconds
@example(float("nan"))
@example(MAX_EPOCH + 1)
def test_epoch_to_iso_never_raises(value):
    result = epoch_to_iso(value)

    if isinstance(value, bool) or not isinstance(value, (int, float)):
        assert result is value
    else:
        assert result is None or isinstance(result, str)


@FUZZ
@given(st.integers(MIN_EPOCH, MAX_EPOCH))
@example(CAMPAIGN["updated"])
@example(0)
def test_epoch_to_iso_round_trips(value):
    result = epoch_to_iso(value)

    parsed = datetime.fromisoformat(result)
    assert parsed.tzinfo is not None
    assert parsed.utcoffset().total_seconds() == 0
    assert int((parsed - datetime(1970, 1, 1, tzinfo=timezone.utc)).total_seconds()) == value


# Record fitting ------------------------------------------------------------------------


def mutated(record, name, value):
    return {**record, name: value}


@FUZZ
@given(
    stream=st.sampled_from(sorted(SCHEMAS)),
    name=st.sampled_from(sorted(set(CAMPAIGN) | set(ACTION) | {"brand_new"})),
    value=json_values,
)
@example(stream="campaigns", name="id", value="12")
@example(stream="campaigns", name="updated", value="2026-02-30T00:00:00Z")
@example(stream="campaigns", name="audience", value='{"type": 1}')
@example(stream="campaign_actions", name="created", value=1_700_000_000_000)
def test_fit_record_never_raises_and_is_stable(stream, name, value):
    base = ACTION if stream == "campaign_actions" else CAMPAIGN
    record = mutated(base, name, value)

    fitted, report = fit_record(record, SCHEMAS[stream])

    json.dumps(fitted, allow_nan=False)
    assert set(fitted) == set(record)
    refitted, second = fit_record(fitted, SCHEMAS[stream])
    assert refitted == fitted
    assert second.misfits == []
    for path, _ in report.misfits:
        assert path.split(".")[0].split("[")[0] in SCHEMAS[stream]["properties"]


@FUZZ
@given(json_values)
def test_fit_value_keeps_any_type(value):
    assert fit_value(value, {}) == value
    assert fit_value(value, {"type": ["null"]}) == value


@FUZZ
@given(st.integers() | st.text(max_size=12) | st.floats(allow_nan=False))
@example("0018")
@example(" 7 ")
@example("7.0")
@example(7.0)
def test_fit_integer_is_int_or_misfit(value):
    fitted = fit_value(value, {"type": ["integer", "null"]})

    assert fitted is MISFIT or (isinstance(fitted, int) and not isinstance(fitted, bool))


# Response parsing --------------------------------------------------------------------


@pytest.fixture(scope="module")
def actions_stream():
    config = {"api_key": "fuzz-key", "api_url": "http://127.0.0.1:9/v1"}
    return TapCustomerIO(config=config, parse_env_config=False).streams["campaign_actions"]


def make_response(content: bytes) -> requests.Response:
    response = requests.Response()
    response.status_code = 200
    response._content = content
    response.request = requests.Request(
        "GET", "http://127.0.0.1:9/v1/campaigns/1/actions"
    ).prepare()
    return response


PAGE = json.dumps({"actions": [ACTION], "next": encode_cursor(10)}).encode()


@FUZZ
@given(
    st.binary(max_size=200)
    | json_values.map(lambda v: json.dumps(v).encode())
    | json_values.map(lambda v: json.dumps({"actions": v, "next": ""}).encode())
)
@example(PAGE)
@example(PAGE[: len(PAGE) // 2])
@example(b"<html><body>Bad gateway</body></html>")
@example(b"")
@example(b'{"meta":{}}')
@example(b'{"actions":null,"next":"MDoxMA=="}')
@example(b'{"actions":"oops"}')
@example(b"[" * 5000)
def test_parse_response_yields_only_objects(actions_stream, content):
    response = make_response(content)

    try:
        actions_stream.validate_response(response)
    except BadBodyError as exc:
        assert "\n" not in str(exc)
        return
    records = list(actions_stream.parse_response(response))

    assert all(isinstance(record, dict) for record in records)


# Pagination ----------------------------------------------------------------------------

tokens = (
    st.none()
    | st.just("")
    | st.sampled_from(["A", "B", "C", encode_cursor(10), encode_cursor(20)])
    | st.integers(0, 3)
    | st.booleans()
    | st.lists(st.integers(), max_size=2)
    | st.dictionaries(st.text(max_size=2), st.integers(), max_size=1)
)


def drive(paginator, bodies, limit):
    """Advance ``paginator`` over ``bodies`` (repeating); return pages read or the error."""
    for index in range(limit):
        if paginator.finished:
            return index
        body = bodies[index % len(bodies)]
        try:
            paginator.advance(SimpleNamespace(cio_body=body))
        except PaginationError as exc:
            return exc
    return None


@FUZZ
@given(st.lists(tokens, min_size=1, max_size=8), st.booleans())
@example(["A", "B", "A"], True)
@example([encode_cursor(10)], False)
@example(["A", "B", ""], True)
def test_paginator_terminates(next_values, fresh_pages):
    """Repeating the same bodies forever must end: finished, or a pagination error."""
    bodies = [
        {"actions": [{"page": index if fresh_pages else 0}], "next": value}
        for index, value in enumerate(next_values)
    ]

    outcome = drive(CursorPaginator("fuzz"), bodies, limit=2 * len(bodies) + 2)

    assert outcome is not None


@FUZZ
@given(st.lists(st.sampled_from(["A", "B", "C", "D", ""]), min_size=1, max_size=10))
@example(["A", "B", "A"])
@example(["A", "A"])
def test_paginator_loop_error_at_first_repeat(next_values):
    """With distinct pages, the paginator stops exactly at the first repeated cursor."""
    bodies = [{"actions": [{"page": i}], "next": value} for i, value in enumerate(next_values)]
    expected_error = None
    seen = set()
    for index, value in enumerate(next_values):
        if value == "":
            break
        if value in seen:
            expected_error = index
            break
        seen.add(value)

    paginator = CursorPaginator("fuzz")
    outcome = drive(paginator, bodies, limit=len(bodies))

    if expected_error is None:
        assert paginator.finished or outcome is None
    else:
        assert isinstance(outcome, PaginationLoopError)
        assert paginator.count == expected_error + 1


# Settings ------------------------------------------------------------------------------

SETTING_NAMES = [
    "api_key",
    "region",
    "api_url",
    "start_date",
    "end_date",
    "request_timeout",
    "max_requests_per_second",
    "max_retries",
    "max_retry_seconds",
    "messages_lookback_days",
    "messages_window_days",
    "user_agent",
]
url_like = st.builds(
    "{}://{}PWSECRET{}@{}{}".format,
    st.sampled_from(["http", "https", "ftp", "", "HTTP"]),
    st.text(max_size=4),
    st.text(max_size=4),
    st.sampled_from(["127.0.0.1", "localhost", "[::1", "example.com", "", "127.0.0.1:99999"]),
    st.sampled_from(["/v1", "", "/v1?x=1", "/v1#"]),
)
setting_values = (
    json_values
    | url_like
    | st.text(max_size=10).map("SECRET{}".format)
    | st.sampled_from(["2026-01-31T00:00:00Z", "2026-02-30", "9999-12-31T23:59:59-23:59"])
    | st.floats()
)


@FUZZ
@given(st.dictionaries(st.sampled_from(SETTING_NAMES) | st.text(max_size=6), setting_values))
@example({"api_url": "user:PWSECRET@127.0.0.1/v1"})
@example({"api_url": "http://u:PWSECRET@[::1/v1", "api_key": "PWSECRET"})
@example({"start_date": "0001-01-01T00:00:00+01:00", "end_date": "0001-01-01"})
@example({"max_requests_per_second": 1e-320, "request_timeout": float("inf")})
@example({"region": ["us"], "max_retries": True})
def test_check_settings_never_raises(config):
    errors = check_settings(config)

    assert isinstance(errors, list)
    for error in errors:
        assert isinstance(error, str)
        assert "\n" not in error
    # Other settings may quote their own value; a key or URL credentials never appear.
    secrets = []
    api_url = config.get("api_url")
    if isinstance(api_url, str) and "@" in api_url:
        secrets.append(("api_url", api_url.rsplit("@", 1)[0].split("://", 1)[-1]))
    if isinstance(config.get("api_key"), str):
        secrets.append(("api_key", config["api_key"]))
    for owner, secret in secrets:
        quoted_elsewhere = any(secret in repr(v) for k, v in config.items() if k != owner)
        # Only marked secrets: a short or plain one can occur in the message text.
        if "SECRET" in secret and not quoted_elsewhere:
            assert all(secret not in error for error in errors)


@FUZZ
@given(st.text(min_size=1, max_size=30))
@example("sandbox-app-api-key")
@example("key with space\n")
def test_check_settings_never_quotes_key(key):
    secret = f"SECRETKEY{key}"

    errors = check_settings({"api_key": secret, "api_url": f"https://me:{secret}@example.com/v1"})

    assert all("SECRETKEY" not in error for error in errors)
