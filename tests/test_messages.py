"""Deliveries: window walk, per-window STATE, lookback, end_date and sandbox rules."""

from __future__ import annotations

import contextlib
import io
import json
import math
import random
import time
from collections import Counter

import pytest
import requests

from sandbox.areas.messages import SIX_MONTHS, make_delivery
from sandbox.workspace import DAY, iso
from tap_customerio.client import iso_to_epoch
from tap_customerio.tap import TapCustomerIO
from tests.helpers import base_config, by_key, run_tap, selected_catalog

WINDOW_DAYS = 30


def expected_windows(first: int, last: int, days: float = WINDOW_DAYS) -> list[tuple[int, int]]:
    """Return inclusive windows of ``days`` from ``first`` to ``last``."""
    width = int(days * DAY)
    windows = []
    start = first
    while start <= last:
        end = min(start + width - 1, last)
        windows.append((start, end))
        start = end + 1
    return windows


def bookmark_of(state: dict) -> str | None:
    return state.get("bookmarks", {}).get("messages", {}).get("replication_key_value")


def window_config(sandbox, start_days: int = 400, **overrides) -> dict:
    """Return a config whose windows start on a whole number of days before ``now``."""
    now = sandbox.workspace.now
    settings = {
        "start_date": iso(now - start_days * DAY),
        "end_date": iso(now),
        "messages_window_days": WINDOW_DAYS,
    }
    settings.update(overrides)
    return base_config(sandbox, **settings)


def test_messages_match_truth(sandbox):
    config = window_config(sandbox)
    output = run_tap(config, ["messages"])
    records = output.records["messages"]
    truth = sandbox.truth("messages", config)

    assert len(truth) > 1000
    assert len(records) == len(truth)
    emitted = by_key(records, "id")
    assert len(emitted) == len(records)
    assert emitted.keys() == by_key(truth, "id").keys()
    for expected in truth:
        assert emitted[(expected["id"],)] == expected


def test_messages_hard_cases_intact(sandbox):
    config = window_config(sandbox)
    records = run_tap(config, ["messages"]).records["messages"]

    deleted = [r for r in records if set(r["customer_identifiers"]) == {"cio_id"}]
    secondary = [r for r in records if "secondary:delivered" in r["metrics"]]
    non_ascii = [r for r in records if r["subject"] and not r["subject"].isascii()]
    assert deleted
    assert all(r["customer_id"] is None for r in deleted)
    assert secondary
    assert all(r["metrics"]["secondary:delivered"].endswith("+00:00") for r in secondary)
    assert non_ascii
    assert all(isinstance(r["created"], str) for r in records)


def test_messages_one_request_per_window(sandbox):
    config = window_config(sandbox)
    now = sandbox.workspace.now
    windows = expected_windows(now - 400 * DAY, now)
    largest = max(
        sum(1 for d in sandbox.workspace.data["deliveries"] if s <= d["created"] <= e)
        for s, e in windows
    )
    sandbox.clear_requests()
    run_tap(config, ["messages"])

    assert largest <= 1000
    assert sandbox.request_count(r"^/v1/messages$") == len(windows)
    sent = [(int(r.query["start_ts"]), int(r.query["end_ts"])) for r in sandbox.requests]
    assert sorted(sent) == windows
    assert all(r.query["limit"] == "1000" for r in sandbox.requests)


def test_messages_page_within_window(fresh_sandbox):
    ws = fresh_sandbox.workspace
    rng = random.Random(5)
    busy_day = ws.now - 55 * DAY - 3600
    ws.data["deliveries"].extend(make_delivery(ws, rng, busy_day + i) for i in range(1500))
    config = window_config(fresh_sandbox, start_days=100)
    windows = expected_windows(ws.now - 100 * DAY, ws.now)
    pages = sum(
        max(1, math.ceil(sum(1 for d in ws.data["deliveries"] if s <= d["created"] <= e) / 1000))
        for s, e in windows
    )
    fresh_sandbox.clear_requests()
    output = run_tap(config, ["messages"])

    assert pages > len(windows)
    assert fresh_sandbox.request_count(r"^/v1/messages$") == pages
    ids = [r["id"] for r in output.records["messages"]]
    assert len(ids) == len(set(ids))
    assert set(ids) == {r["id"] for r in fresh_sandbox.truth("messages", config)}


def test_messages_boundary_record_once(sandbox):
    now = sandbox.workspace.now
    config = window_config(sandbox)
    window_start = now - 340 * DAY
    deliveries = sandbox.workspace.data["deliveries"]
    on_start = [d["id"] for d in deliveries if d["created"] == window_start]
    on_end = [d["id"] for d in deliveries if d["created"] == window_start - 1]
    windows = expected_windows(now - 400 * DAY, now)
    output = run_tap(config, ["messages"])
    counts = Counter(r["id"] for r in output.records["messages"])

    assert window_start in {start for start, _ in windows}
    assert window_start - 1 in {end for _, end in windows}
    assert on_start
    assert on_end
    for delivery_id in on_start + on_end:
        assert counts[delivery_id] == 1


def test_messages_state_after_each_window(sandbox):
    now = sandbox.workspace.now
    config = window_config(sandbox)
    output = run_tap(config, ["messages"])
    bookmarks = []
    for state in output.states:
        value = bookmark_of(state)
        if value is not None and (not bookmarks or bookmarks[-1] != value):
            bookmarks.append(value)

    windows = expected_windows(now - 400 * DAY, now)
    assert bookmarks == [iso(end) for _, end in windows]
    final = output.last_state["bookmarks"]["messages"]
    assert final == {"replication_key": "created", "replication_key_value": iso(now)}


def run_until_failure(config: dict, streams: list[str], state: dict | None = None):
    """Run the tap, expect it to fail, and return the STATE values it wrote before."""
    catalog = selected_catalog(config, streams)
    stdout = io.StringIO()
    tap = TapCustomerIO(config=config, catalog=catalog, state=state or {}, parse_env_config=False)
    with contextlib.redirect_stdout(stdout), pytest.raises(Exception, match="HTTP 400"):
        tap.sync_all()
    messages = [json.loads(line) for line in stdout.getvalue().splitlines() if line.strip()]
    records = [m["record"] for m in messages if m["type"] == "RECORD"]
    states = [m["value"] for m in messages if m["type"] == "STATE"]
    return records, states


def test_messages_resume_after_failure(fresh_sandbox):
    now = fresh_sandbox.workspace.now
    # One window at a time, so the sixth request is the sixth window's.
    config = window_config(fresh_sandbox, messages_lookback_days=0, max_concurrent_requests=1)
    windows = expected_windows(now - 400 * DAY, now)
    fresh_sandbox.add_fault("400", path=r"^/v1/messages$", after=5, count=1)
    first_records, states = run_until_failure(config, ["messages"])

    assert bookmark_of(states[-1]) == iso(windows[4][1])
    assert "progress_markers" not in json.dumps(states)

    fresh_sandbox.clear_requests()
    output = run_tap(config, ["messages"], state=states[-1])
    remaining = expected_windows(windows[4][1], now)
    assert fresh_sandbox.request_count(r"^/v1/messages$") == len(remaining)
    emitted = {r["id"] for r in first_records} | {r["id"] for r in output.records["messages"]}
    assert emitted == {r["id"] for r in fresh_sandbox.truth("messages", config)}
    assert bookmark_of(output.last_state) == iso(now)


@pytest.mark.parametrize("lookback_days", [7, 45])
def test_messages_second_run_from_lookback(sandbox, lookback_days):
    now = sandbox.workspace.now
    config = window_config(sandbox, messages_lookback_days=lookback_days)
    first = run_tap(config, ["messages"])
    bookmark = iso_to_epoch(bookmark_of(first.last_state))

    second_config = dict(config)
    second_config.pop("end_date")
    sandbox.clear_requests()
    second = run_tap(second_config, ["messages"], state=first.last_state)
    run_end = iso_to_epoch(bookmark_of(second.last_state))

    windows = expected_windows(bookmark - lookback_days * DAY, run_end)
    assert bookmark == now
    assert sandbox.request_count(r"^/v1/messages$") == len(windows)
    assert int(sandbox.requests[0].query["start_ts"]) == now - lookback_days * DAY
    expected = {
        d["id"]
        for d in sandbox.workspace.data["deliveries"]
        if now - lookback_days * DAY <= d["created"] <= run_end
    }
    assert {r["id"] for r in second.records["messages"]} == expected
    assert run_end >= int(time.time()) - 60


def test_messages_end_date_bounds_bookmark(sandbox):
    now = sandbox.workspace.now
    end = now - 100 * DAY
    config = window_config(sandbox, end_date=iso(end))
    output = run_tap(config, ["messages"])
    records = output.records["messages"]

    assert {r["id"] for r in records} == {r["id"] for r in sandbox.truth("messages", config)}
    assert any(iso_to_epoch(r["created"]) == end for r in records)
    assert all(iso_to_epoch(r["created"]) <= end for r in records)
    assert bookmark_of(output.last_state) == iso(end)
    for state in output.states:
        value = bookmark_of(state)
        assert value is None or iso_to_epoch(value) <= end

    sandbox.clear_requests()
    again = run_tap(config, ["messages"], state=output.last_state)
    assert bookmark_of(again.last_state) == iso(end)
    assert sandbox.request_count(r"^/v1/messages$") == 1


def test_messages_default_start_365_days(sandbox):
    config = base_config(sandbox)
    output = run_tap(config, ["messages"])
    run_started = iso_to_epoch(bookmark_of(output.last_state))
    expected = sandbox.truth("messages", dict(config, start_date=iso(run_started - 365 * DAY)))

    assert {r["id"] for r in output.records["messages"]} == {r["id"] for r in expected}
    assert len(output.records["messages"]) < len(sandbox.workspace.data["deliveries"])


# Sandbox window rules -----------------------------------------------------------


def list_window(sandbox, **params) -> set[str]:
    """Return the ids of every delivery one window request returns, over all pages."""
    headers = {"Authorization": f"Bearer {sandbox.api_key}"}
    ids: set[str] = set()
    start = None
    while True:
        query = dict(params, limit=1000)
        if start:
            query["start"] = start
        url = f"{sandbox.url}/messages"
        response = requests.get(url, params=query, headers=headers, timeout=10)
        assert response.status_code == 200
        body = response.json()
        ids |= {d["id"] for d in body["messages"]}
        start = body["next"]
        if not start:
            return ids


def deliveries_between(sandbox, start: int, end: int) -> set[str]:
    deliveries = sandbox.workspace.data["deliveries"]
    return {d["id"] for d in deliveries if start <= d["created"] <= end}


@pytest.mark.parametrize(
    ("params", "bounds"),
    [
        # No bounds: the last 6 months.
        ({}, lambda now, t: (now - SIX_MONTHS, now)),
        # Only end_ts: the 6 months before it.
        ({"end_ts": -200}, lambda now, t: (t - SIX_MONTHS, t)),
        # Only start_ts: up to now.
        ({"start_ts": -10}, lambda now, t: (t, now)),
        # Longer than 6 months: the most recent 6 months of the range.
        ({"start_ts": -450, "end_ts": -200}, lambda now, t: (t - SIX_MONTHS, t)),
    ],
)
def test_sandbox_messages_window_rules(sandbox, params, bounds):
    anchor = sandbox.workspace.now
    query = {name: anchor + days * DAY for name, days in params.items()}
    before = int(time.time())
    served = list_window(sandbox, **query)
    after = int(time.time())
    bound = query.get("end_ts", query.get("start_ts"))

    earliest_start, earliest_end = bounds(before, bound)
    latest_start, latest_end = bounds(after, bound)
    assert served
    assert deliveries_between(sandbox, latest_start, earliest_end) <= served
    assert served <= deliveries_between(sandbox, earliest_start, latest_end)


def test_sandbox_messages_limit_max(sandbox):
    headers = {"Authorization": f"Bearer {sandbox.api_key}"}
    url = f"{sandbox.url}/messages"
    response = requests.get(url, params={"limit": 1001}, headers=headers, timeout=10)
    assert response.status_code == 400
