"""The fault matrix: each API fault ends in complete data or in a named one-line error."""

from __future__ import annotations

import time

import pytest

from tap_customerio import client
from tap_customerio.client import (
    PaginationLoopError,
    RetryBudgetExhaustedError,
    SchemaDriftError,
)
from tap_customerio.tap import TapCustomerIO
from tests.helpers import base_config, by_key, run_tap

PARENT_AND_CHILD = ["campaigns", "campaign_actions"]


@pytest.fixture
def fast_backoff(monkeypatch):
    """Shrink exponential waits for tests that check data, not timing."""
    monkeypatch.setattr(client, "EXPONENTIAL_BASE_SECONDS", 0.02)


def assert_complete(sandbox, config, output, streams):
    for stream in streams:
        truth = sandbox.truth(stream, config)
        records = output.records[stream]
        keys = ("campaign_id", "id") if stream == "campaign_actions" else ("id",)
        assert len(records) == len(truth), stream
        assert by_key(records, *keys).keys() == by_key(truth, *keys).keys(), stream


def retry_config(sandbox, **overrides):
    settings = {"max_retries": 4, "max_retry_seconds": 10, "request_timeout": 5}
    settings.update(overrides)
    return base_config(sandbox, **settings)


# 429 storms -----------------------------------------------------------------------


def test_429_storm_with_retry_after(fresh_sandbox):
    fresh_sandbox.add_fault("429", retry_after=1, duration=1.5)
    config = retry_config(fresh_sandbox)

    started = time.monotonic()
    output = run_tap(config, PARENT_AND_CHILD)

    assert_complete(fresh_sandbox, config, output, PARENT_AND_CHILD)
    assert time.monotonic() - started >= 1.5
    # Retry-After paces the retries: one per second, not one per request slot.
    assert fresh_sandbox.request_count(status=429) <= 3
    assert "HTTP 429 on GET /v1/campaigns; retry 1 in 1.0 s" in output.log


def test_429_storm_without_retry_after(fresh_sandbox):
    fresh_sandbox.add_fault("429", duration=1.0)
    config = retry_config(fresh_sandbox)

    output = run_tap(config, PARENT_AND_CHILD)

    assert_complete(fresh_sandbox, config, output, PARENT_AND_CHILD)
    assert 1 <= fresh_sandbox.request_count(status=429) <= 3


def test_daily_quota_gives_up_after_retries(fresh_sandbox):
    fresh_sandbox.add_fault("429")
    config = retry_config(fresh_sandbox, max_retries=2)

    with pytest.raises(RetryBudgetExhaustedError) as caught:
        run_tap(config, ["campaigns"])

    message = str(caught.value)
    assert "GET /v1/campaigns still failed after 3 attempts over" in message
    assert "HTTP 429" in message
    assert "max_retries" in message
    assert fresh_sandbox.request_count(r"^/v1/campaigns$") == 3


def test_retry_budget_counts_seconds(fresh_sandbox):
    fresh_sandbox.add_fault("503")
    config = retry_config(fresh_sandbox, max_retries=50, max_retry_seconds=1.5)

    started = time.monotonic()
    with pytest.raises(RetryBudgetExhaustedError, match=r"over 1\.5 s"):
        run_tap(config, ["campaigns"])

    assert time.monotonic() - started < 3


def test_long_retry_after_stays_in_budget(fresh_sandbox):
    fresh_sandbox.add_fault("429", retry_after=30)
    config = retry_config(fresh_sandbox, max_retry_seconds=1)

    started = time.monotonic()
    with pytest.raises(RetryBudgetExhaustedError):
        run_tap(config, ["campaigns"])

    assert time.monotonic() - started < 3


def test_retry_wait_grows_with_jitter(fresh_sandbox):
    tap = TapCustomerIO(config=base_config(fresh_sandbox), parse_env_config=False)
    stream = tap.streams["campaigns"]

    runs = []
    for _ in range(5):
        waits = stream._retry_wait()
        next(waits)
        runs.append([waits.send(TimeoutError()) for _ in range(8)])

    for run in runs:
        for attempt, wait in enumerate(run, start=1):
            ceiling = min(60.0, 2.0 ** (attempt - 1))
            assert ceiling / 2 <= wait <= ceiling
    assert len({run[3] for run in runs}) > 1


# Server errors, timeouts and resets ----------------------------------------------


@pytest.mark.parametrize("status", ["500", "502", "503", "504"])
def test_server_errors_give_complete_data(fresh_sandbox, fast_backoff, status):
    rule = fresh_sandbox.add_fault(status, share=0.3)
    config = retry_config(fresh_sandbox, max_retries=8)
    streams = [*PARENT_AND_CHILD, "newsletters", "segments"]

    output = run_tap(config, streams)

    assert_complete(fresh_sandbox, config, output, streams)
    assert rule.fired >= 3
    assert f"HTTP {status} on GET" in output.log


def test_timeout_retried(fresh_sandbox, fast_backoff):
    fresh_sandbox.add_fault("slow", path=r"^/v1/campaigns$", seconds=1.5, count=1)
    config = retry_config(fresh_sandbox, request_timeout=0.5)

    output = run_tap(config, ["campaigns"])

    assert_complete(fresh_sandbox, config, output, ["campaigns"])
    assert "timed out after 0.5 s on GET /v1/campaigns" in output.log


def test_reset_mid_body_retried(fresh_sandbox, fast_backoff):
    fresh_sandbox.add_fault("reset", path="/actions", count=3)
    config = retry_config(fresh_sandbox)

    output = run_tap(config, PARENT_AND_CHILD)

    assert_complete(fresh_sandbox, config, output, PARENT_AND_CHILD)
    assert "connection" in output.log


# Broken bodies ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("truncated", "invalid JSON body"),
        ("html", "invalid JSON body"),
        ("empty", "invalid JSON body"),
        ("no_envelope", "no 'actions' key in the body"),
    ],
)
def test_broken_body_retried(fresh_sandbox, fast_backoff, mode, reason):
    fresh_sandbox.add_fault(mode, path="/actions", count=3)
    config = retry_config(fresh_sandbox)

    output = run_tap(config, PARENT_AND_CHILD)

    assert_complete(fresh_sandbox, config, output, PARENT_AND_CHILD)
    assert reason in output.log


def test_null_list_means_no_records(fresh_sandbox):
    fresh_sandbox.add_fault("null_list", path=r"^/v1/campaigns$", count=1)
    config = retry_config(fresh_sandbox)

    output = run_tap(config, PARENT_AND_CHILD)

    assert output.records["campaigns"] == []
    assert fresh_sandbox.request_count(r"^/v1/campaigns$") == 1
    assert fresh_sandbox.request_count("/actions") == 0


def test_null_page_retried(fresh_sandbox):
    actions = fresh_sandbox.workspace.data["campaign_actions"]
    campaign_id = max(actions, key=lambda key: len(actions[key]))
    assert len(actions[campaign_id]) > 20
    path = f"^/v1/campaigns/{campaign_id}/actions$"
    fresh_sandbox.add_fault("null_list", path=path, after=1, count=1)
    config = retry_config(fresh_sandbox)

    output = run_tap(config, PARENT_AND_CHILD)

    emitted = [r for r in output.records["campaign_actions"] if r["campaign_id"] == campaign_id]
    assert len(emitted) == len(actions[campaign_id])
    assert fresh_sandbox.request_count(path) == -(-len(actions[campaign_id]) // 10) + 1
    assert "null under 'actions' on a page inside a listing" in output.log


def test_null_single_page_empty(fresh_sandbox):
    campaign_id = fresh_sandbox.workspace.data["campaigns"][0]["id"]
    path = f"^/v1/campaigns/{campaign_id}/actions$"
    fresh_sandbox.workspace.data["campaign_actions"][campaign_id] = []
    fresh_sandbox.add_fault("null_list", path=path)
    config = retry_config(fresh_sandbox)

    output = run_tap(config, PARENT_AND_CHILD)

    assert fresh_sandbox.request_count(path) == 1
    assert not [r for r in output.records["campaign_actions"] if r["campaign_id"] == campaign_id]
    assert output.error is None


# Paging that never ends ----------------------------------------------------------


@pytest.mark.parametrize("mode", ["cursor_cycle", "next_repeat", "endless"])
def test_paging_loop_stops(fresh_sandbox, mode):
    fresh_sandbox.add_fault(mode, path=r"^/v1/newsletters$")
    config = retry_config(fresh_sandbox)

    started = time.monotonic()
    with pytest.raises(PaginationLoopError) as caught:
        run_tap(config, ["newsletters"])

    assert str(caught.value).startswith("Stream 'newsletters': the API returned")
    assert "\n" not in str(caught.value)
    assert fresh_sandbox.request_count("/newsletters") <= 4
    assert time.monotonic() - started < 5


# Schema drift ------------------------------------------------------------------------


def test_new_field_kept(fresh_sandbox):
    for campaign in fresh_sandbox.workspace.data["campaigns"]:
        campaign["journey_score"] = {"value": 0.5, "unit": "%"}
    config = retry_config(fresh_sandbox)

    output = run_tap(config, ["campaigns"])

    records = output.records["campaigns"]
    assert records
    assert all(r["journey_score"] == {"value": 0.5, "unit": "%"} for r in records)
    assert "passed on as they are: journey_score" in output.log


def test_changed_types_fitted_to_schema(fresh_sandbox):
    campaigns = fresh_sandbox.workspace.data["campaigns"]
    first, second = campaigns[0], campaigns[1]
    first["id"] = str(first["id"])
    first["active"] = "true"
    first["start_hour"] = "7"
    first["audience"] = '{"type": 2}'
    second["updated"] = "2026-03-01T12:00:00Z"
    second["name"] = 404
    second["tags"] = "promo"
    config = retry_config(fresh_sandbox)

    output = run_tap(config, ["campaigns"])

    records = by_key(output.records["campaigns"], "id")
    assert len(records) == len(campaigns)
    fitted = records[(int(first["id"]),)]
    assert fitted["active"] is True
    assert fitted["start_hour"] == 7
    assert fitted["audience"] == {"type": 2}
    changed = records[(second["id"],)]
    assert changed["updated"] == "2026-03-01T12:00:00+00:00"
    assert changed["name"] == "404"
    assert changed["tags"] is None
    assert "field 'tags' arrived as 'promo' (str)" in output.log


def test_integer_id_sent_as_text(fresh_sandbox):
    config = retry_config(fresh_sandbox)
    expected = by_key(fresh_sandbox.truth("campaign_actions", config), "campaign_id", "id")
    data = fresh_sandbox.workspace.data
    for campaign in data["campaigns"]:
        campaign["id"] = str(campaign["id"])
    # The sandbox finds actions by the campaign's id as it is stored.
    data["campaign_actions"] = {str(k): v for k, v in data["campaign_actions"].items()}

    output = run_tap(config, PARENT_AND_CHILD)

    assert all(isinstance(r["id"], int) for r in output.records["campaigns"])
    emitted = by_key(output.records["campaign_actions"], "campaign_id", "id")
    assert emitted.keys() == expected.keys()


def test_unusable_primary_key_stops(fresh_sandbox):
    fresh_sandbox.workspace.data["campaigns"][2]["id"] = "cmp-7"
    config = retry_config(fresh_sandbox)

    with pytest.raises(SchemaDriftError) as caught:
        run_tap(config, ["campaigns"])

    message = str(caught.value)
    assert "Stream 'campaigns': primary-key field 'id' arrived as 'cmp-7'" in message
    assert "integer" in message


# Parents and scopes --------------------------------------------------------------------


def test_deleted_parent_skipped(fresh_sandbox):
    workspace = fresh_sandbox.workspace
    gone = workspace.data["campaigns"][1]["id"]
    config = retry_config(fresh_sandbox)
    expected = [
        r for r in fresh_sandbox.truth("campaign_actions", config) if r["campaign_id"] != gone
    ]

    def delete_parent(ws):
        ws.data["campaigns"] = [c for c in ws.data["campaigns"] if c["id"] != gone]

    fresh_sandbox.after_request(r"^/v1/campaigns$", delete_parent)
    output = run_tap(config, PARENT_AND_CHILD)

    assert len(output.records["campaigns"]) == len(workspace.data["campaigns"]) + 1
    emitted = by_key(output.records["campaign_actions"], "campaign_id", "id")
    assert emitted.keys() == by_key(expected, "campaign_id", "id").keys()
    assert f"skipped GET /v1/campaigns/{gone}/actions, because it returned 404" in output.log


def test_child_forbidden_names_stream(fresh_sandbox):
    fresh_sandbox.add_fault("403", path="/actions$")
    # One request at a time: with more, the children of later campaigns are already
    # in flight (tests/test_concurrency.py covers that case).
    config = retry_config(fresh_sandbox, max_concurrent_requests=1)

    with pytest.raises(Exception, match=r"^Stream 'campaign_actions': HTTP 403") as caught:
        run_tap(config, PARENT_AND_CHILD)

    assert "deselect the stream" in str(caught.value)
    assert fresh_sandbox.request_count("/actions") == 1


# The shared rate limiter ----------------------------------------------------------------


def busiest_second(timestamps):
    """Return the most requests that arrived within any window shorter than 1 s."""
    ordered = sorted(timestamps)
    most = 0
    for index, start in enumerate(ordered):
        inside = [t for t in ordered[index:] if t - start < 1.0]
        most = max(most, len(inside))
    return most


ALL_LISTS = [*PARENT_AND_CHILD, "newsletters", "broadcasts", "transactional_messages", "segments"]


def test_default_rate_never_hits_server_limit():
    from sandbox import Sandbox

    with Sandbox(seed=11, rate_limit=10) as limited:
        config = retry_config(limited)
        del config["max_requests_per_second"]
        output = run_tap(config, ALL_LISTS)

        arrivals = [r.at for r in limited.requests]
        assert limited.request_count(status=429) == 0
        assert len(arrivals) > 15
        assert busiest_second(arrivals) <= 10
        assert_complete(limited, config, output, PARENT_AND_CHILD)


def test_configured_rate_holds_across_streams(fresh_sandbox):
    config = retry_config(fresh_sandbox, max_requests_per_second=8)

    run_tap(config, ALL_LISTS)

    arrivals = [r.at for r in fresh_sandbox.requests]
    paths = {r.path.split("/")[2] for r in fresh_sandbox.requests}
    assert len(paths) >= 5
    assert len(arrivals) > 16
    assert busiest_second(arrivals) <= 8
