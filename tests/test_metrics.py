"""Metrics streams against the sandbox: periods, values, windows, state and settings."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import requests

from sandbox.areas import metrics as metrics_area
from sandbox.areas.metrics import SERIES, UNLISTED_SERIES
from tap_customerio.tap import check_settings
from tests.helpers import base_config, by_key, run_tap

DAY = 86400

#: Stream -> (parent id columns, request path pattern, API version).
STREAMS = {
    "campaign_metrics": (("campaign_id",), r"^/v1/campaigns/[^/]+/metrics$", 2),
    "campaign_action_metrics": (
        ("campaign_id", "action_id"),
        r"^/v1/campaigns/[^/]+/actions/[^/]+/metrics$",
        2,
    ),
    "campaign_journey_metrics": (("campaign_id",), r"^/v1/campaigns/[^/]+/journey_metrics$", 2),
    "newsletter_metrics": (("newsletter_id",), r"^/v1/newsletters/[^/]+/metrics$", 1),
    "broadcast_metrics": (("broadcast_id",), r"^/v1/broadcasts/[^/]+/metrics$", 1),
    "broadcast_action_metrics": (
        ("broadcast_id", "action_id"),
        r"^/v1/broadcasts/[^/]+/actions/[^/]+/metrics$",
        2,
    ),
    "transactional_metrics": (("transactional_id",), r"^/v1/transactional/[^/]+/metrics$", 1),
}


def iso_days_ago(sandbox, days: float) -> str:
    """Return the sandbox's clock minus ``days`` as an ISO 8601 setting."""
    moment = sandbox.workspace.now - int(days * DAY)
    return datetime.fromtimestamp(moment, tz=timezone.utc).isoformat()


def window_config(sandbox, stream: str, **overrides):
    """Return a config whose window is a month: in the past for version 2, recent for 1."""
    if STREAMS[stream][2] == 2:
        dates = {"start_date": iso_days_ago(sandbox, 40), "end_date": iso_days_ago(sandbox, 10)}
    else:
        dates = {"start_date": iso_days_ago(sandbox, 20)}
    return base_config(sandbox, **dates, **overrides)


def parent_count(sandbox, stream: str) -> int:
    data = sandbox.workspace.data
    counts = {
        "campaign_metrics": len(data["campaigns"]),
        "campaign_action_metrics": sum(len(a) for a in data["campaign_actions"].values()),
        "campaign_journey_metrics": len(data["campaigns"]),
        "newsletter_metrics": len(data["newsletters"]),
        "broadcast_metrics": len(data["broadcasts"]),
        "broadcast_action_metrics": sum(len(a) for a in data["broadcast_actions"].values()),
        "transactional_metrics": len(data["transactional"]),
    }
    return counts[stream]


def sums_per_parent(records, parent_keys) -> dict[tuple, Counter]:
    sums: dict[tuple, Counter] = defaultdict(Counter)
    for record in records:
        parent = tuple(record[k] for k in parent_keys)
        for name in (*SERIES, UNLISTED_SERIES):
            if record.get(name) is not None:
                sums[parent][name] += record[name]
    return sums


@pytest.mark.parametrize("stream", sorted(STREAMS))
def test_metrics_match_truth(sandbox, stream):
    parent_keys, path, _ = STREAMS[stream]
    config = window_config(sandbox, stream)
    sandbox.clear_requests()
    output = run_tap(config, [stream])
    records = output.records[stream]
    truth = sandbox.truth(stream, config)
    keys = (*parent_keys, "period_start", "resolution")

    assert truth
    assert len(by_key(records, *keys)) == len(records)
    assert by_key(records, *keys).keys() == by_key(truth, *keys).keys()
    assert sums_per_parent(records, parent_keys) == sums_per_parent(truth, parent_keys)
    emitted = by_key(records, *keys)
    for expected in truth:
        assert emitted[tuple(expected[k] for k in keys)] == expected
    assert sandbox.request_count(path) == parent_count(sandbox, stream)


@pytest.mark.parametrize("stream", ["campaign_metrics", "campaign_journey_metrics"])
def test_metrics_end_date_bounds_bookmarks(sandbox, stream):
    config = window_config(sandbox, stream)
    output = run_tap(config, [stream])
    end = config["end_date"]
    partitions = output.last_state["bookmarks"][stream]["partitions"]

    assert all(r["period_start"] < end for r in output.records[stream])
    assert len(partitions) == parent_count(sandbox, stream)
    assert all(p["replication_key_value"] < end for p in partitions)


@pytest.mark.parametrize("stream", ["campaign_metrics", "campaign_journey_metrics"])
def test_metrics_keep_unlisted_series(fresh_sandbox, stream):
    fresh_sandbox.workspace.data["metrics_unlisted_series"] = True
    config = window_config(fresh_sandbox, stream)
    output = run_tap(config, [stream])
    schema = output.schemas[stream]["schema"]
    records = output.records[stream]
    truth = fresh_sandbox.truth(stream, config)

    assert UNLISTED_SERIES not in schema["properties"]
    assert schema["additionalProperties"] == {"type": ["integer", "null"]}
    assert all(isinstance(r[UNLISTED_SERIES], int) for r in records)
    assert sums_per_parent(records, ("campaign_id",)) == sums_per_parent(truth, ("campaign_id",))


@pytest.mark.parametrize(
    ("resolution", "zone", "days"),
    [
        ("hours", "Asia/Kolkata", 2),
        ("weeks", "Europe/Berlin", 60),
        ("months", "America/Los_Angeles", 200),
    ],
)
def test_v2_resolution_and_timezone(sandbox, resolution, zone, days):
    config = base_config(
        sandbox,
        start_date=iso_days_ago(sandbox, days),
        end_date=iso_days_ago(sandbox, 1),
        metrics_resolution=resolution,
        metrics_timezone=zone,
    )
    sandbox.clear_requests()
    output = run_tap(config, ["campaign_metrics"])
    records = output.records["campaign_metrics"]
    truth = sandbox.truth("campaign_metrics", config)
    query = next(r.query for r in sandbox.requests if r.path.endswith("/metrics"))

    assert by_key(records, "campaign_id", "period_start") == by_key(
        truth, "campaign_id", "period_start"
    )
    assert query["version"] == "2"
    assert query["res"] == resolution
    assert query["tz"] == zone
    local_starts = [
        datetime.fromisoformat(r["period_start"]).astimezone(ZoneInfo(zone)) for r in records
    ]
    assert all(s.minute == 0 for s in local_starts)
    if resolution != "hours":
        assert all(s.hour == 0 for s in local_starts)
    if resolution == "weeks":
        assert {s.strftime("%A") for s in local_starts} == {"Sunday"}
    if resolution == "months":
        assert {s.day for s in local_starts} == {1}


def test_v1_first_run_clamped(sandbox):
    config = base_config(sandbox)
    sandbox.clear_requests()
    output = run_tap(config, ["transactional_metrics"])
    records = output.records["transactional_metrics"]
    steps = {r.query.get("steps") for r in sandbox.requests if r.path.endswith("/metrics")}
    per_template = Counter(r["transactional_id"] for r in records)

    assert steps == {"45"}
    assert set(per_template.values()) == {45}
    assert len(records) == len(sandbox.truth("transactional_metrics", config))
    assert output.log.count("serves at most 45 days") == 1


def test_v1_periods_in_eastern_time(sandbox):
    config = window_config(sandbox, "newsletter_metrics", metrics_resolution="weeks")
    output = run_tap(config, ["newsletter_metrics"])
    eastern = ZoneInfo("America/New_York")
    starts = {
        datetime.fromisoformat(r["period_start"]).astimezone(eastern)
        for r in output.records["newsletter_metrics"]
    }

    assert starts
    assert {(s.strftime("%A"), s.hour, s.minute) for s in starts} == {("Sunday", 0, 0)}
    assert {r["timezone"] for r in output.records["newsletter_metrics"]} == {"America/New_York"}


def test_v2_incremental_rereads_lookback(sandbox):
    first_config = base_config(sandbox, start_date=iso_days_ago(sandbox, 20))
    first = run_tap(first_config, ["campaign_metrics"])
    bookmarks = {
        p["context"]["campaign_id"]: p["replication_key_value"]
        for p in first.last_state["bookmarks"]["campaign_metrics"]["partitions"]
    }
    config = dict(first_config, metrics_lookback_days=7)
    sandbox.clear_requests()
    second = run_tap(config, ["campaign_metrics"], state=first.last_state)
    starts = {
        r.path.split("/")[3]: int(r.query["start"])
        for r in sandbox.requests
        if r.path.endswith("/metrics")
    }
    records = second.records["campaign_metrics"]

    assert len(starts) == len(bookmarks)
    assert sandbox.request_count(STREAMS["campaign_metrics"][1]) == len(bookmarks)
    for campaign_id, bookmark in bookmarks.items():
        expected = datetime.fromisoformat(bookmark) - timedelta(days=7)
        assert starts[str(campaign_id)] == int(expected.timestamp())
    assert len(records) == 8 * len(bookmarks)
    assert len(by_key(records, "campaign_id", "period_start")) == len(records)


def test_v1_incremental_asks_fewer_steps(sandbox):
    first_config = window_config(sandbox, "newsletter_metrics")
    first = run_tap(first_config, ["newsletter_metrics"])
    config = dict(first_config, metrics_lookback_days=3)
    sandbox.clear_requests()
    second = run_tap(config, ["newsletter_metrics"], state=first.last_state)
    steps = {r.query.get("steps") for r in sandbox.requests if r.path.endswith("/metrics")}
    per_newsletter = Counter(r["newsletter_id"] for r in second.records["newsletter_metrics"])

    assert steps == {"4"}
    assert set(per_newsletter.values()) == {4}
    assert len(per_newsletter) == parent_count(sandbox, "newsletter_metrics")


def test_metrics_skip_deleted_parent(fresh_sandbox):
    fresh_sandbox.add_fault("404", path=r"^/v1/campaigns/1/metrics$")
    config = window_config(fresh_sandbox, "campaign_metrics")
    output = run_tap(config, ["campaign_metrics"])
    emitted = {r["campaign_id"] for r in output.records["campaign_metrics"]}
    expected = {c["id"] for c in fresh_sandbox.workspace.data["campaigns"]} - {1}

    assert emitted == expected
    assert "skipped GET /v1/campaigns/1/metrics" in output.log


@pytest.mark.parametrize(
    ("setting", "value", "fragment"),
    [
        ("metrics_resolution", "daily", "metrics_resolution 'daily' is invalid"),
        ("metrics_timezone", "Mars/Olympus", "metrics_timezone 'Mars/Olympus' is not an IANA"),
        ("metrics_timezone", "../etc", "metrics_timezone '../etc' is not an IANA"),
        ("metrics_lookback_days", -1, "metrics_lookback_days -1 is invalid"),
    ],
)
def test_metrics_settings_rejected(setting, value, fragment):
    errors = check_settings({"api_key": "key", setting: value})

    assert len(errors) == 1
    assert fragment in errors[0]


def test_metrics_settings_defaults_valid():
    assert check_settings({"api_key": "key"}) == []
    assert check_settings({"api_key": "key", "metrics_timezone": "Asia/Kolkata"}) == []


@pytest.mark.parametrize(
    ("path", "query", "status"),
    [
        ("/campaigns/1/metrics", {"version": 2, "start": 0, "end": 86400}, 400),
        ("/campaigns/1/metrics", {"version": 2, "res": "days", "end": 86400}, 400),
        (
            "/campaigns/1/metrics",
            {"version": 2, "res": "days", "start": 0, "end": 1, "tz": "X/Y"},
            400,
        ),
        ("/campaigns/2/metrics", {"version": 2, "res": "days", "start": 0, "end": 86400}, 404),
        ("/campaigns/1/journey_metrics", {"start": 0, "end": 86400}, 400),
        ("/campaigns/1/journey_metrics", {"resolution": "daily", "start": 0}, 400),
        ("/newsletters/200/metrics", {"version": 2, "res": "days", "start": 0, "end": 1}, 400),
        ("/newsletters/200/metrics", {"period": "days", "steps": 46}, 400),
        ("/newsletters/200/metrics", {"period": "fortnights"}, 400),
        ("/broadcasts/9999/metrics", {"period": "days"}, 404),
    ],
)
def test_sandbox_metrics_rules(sandbox, path, query, status):
    response = requests.get(
        sandbox.url + path,
        params=query,
        headers={"Authorization": f"Bearer {sandbox.api_key}"},
        timeout=10,
    )

    assert response.status_code == status


@pytest.mark.parametrize(("steps", "length"), [(1, 2), (0, 24), (5, 5)])
def test_sandbox_v1_steps(sandbox, steps, length):
    response = requests.get(
        f"{sandbox.url}/transactional/1/metrics",
        params={"period": "hours", "steps": steps},
        headers={"Authorization": f"Bearer {sandbox.api_key}"},
        timeout=10,
    )
    series = response.json()["metric"]["series"]

    assert {len(values) for values in series.values()} == {length}


def test_v2_unexpected_length_skipped(fresh_sandbox, monkeypatch):
    serve = metrics_area.metric_response

    def ignore_version(ws, request, parent, *, v2_allowed):
        request.query = {k: v for k, v in request.query.items() if k != "version"}
        return serve(ws, request, parent, v2_allowed=v2_allowed)

    monkeypatch.setattr(metrics_area, "metric_response", ignore_version)
    config = window_config(fresh_sandbox, "campaign_metrics")
    output = run_tap(config, ["campaign_metrics"])
    periods = len(fresh_sandbox.truth("campaign_metrics", config)) // parent_count(
        fresh_sandbox, "campaign_metrics"
    )

    assert "campaign_metrics" not in output.records
    assert "returned 45 periods where the window" in output.log
    assert f"has {periods}, so the periods cannot be labelled" in output.log


def test_metrics_empty_window_no_request(sandbox):
    first_config = window_config(sandbox, "campaign_metrics")
    first = run_tap(first_config, ["campaign_metrics"])
    config = dict(first_config, end_date=iso_days_ago(sandbox, 30), metrics_lookback_days=0)
    sandbox.clear_requests()
    second = run_tap(config, ["campaign_metrics"], state=first.last_state)

    assert "campaign_metrics" not in second.records
    assert sandbox.request_count(STREAMS["campaign_metrics"][1]) == 0
    assert second.log.count("because its window is empty") == parent_count(
        sandbox, "campaign_metrics"
    )
