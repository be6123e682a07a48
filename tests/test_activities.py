"""Activities: newest-first early stop, inclusive bookmark, retention warning, end_date."""

from __future__ import annotations

import random
import re
from collections import Counter

from sandbox.areas.activities import make_activity, newest_first
from sandbox.workspace import DAY, iso
from tap_customerio.client import iso_to_epoch
from tests.helpers import base_config, by_key, run_tap

PAGE = 100
ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?\+00:00"


def bookmark_of(state: dict) -> str | None:
    return state.get("bookmarks", {}).get("activities", {}).get("replication_key_value")


def activities_state(value: str) -> dict:
    return {
        "bookmarks": {
            "activities": {"replication_key": "timestamp", "replication_key_value": value}
        }
    }


def retention_warnings(log: str) -> list[str]:
    return [line for line in log.splitlines() if "may be missing" in line]


def test_activities_match_truth(sandbox):
    config = base_config(sandbox)
    sandbox.clear_requests()
    output = run_tap(config, ["activities"])
    records = output.records["activities"]
    truth = sandbox.truth("activities", config)

    assert len(records) == len(truth)
    emitted = by_key(records, "id")
    assert len(emitted) == len(records)
    for expected in truth:
        assert emitted[(expected["id"],)] == expected
    total = len(sandbox.workspace.data["activities"])
    assert sandbox.request_count(r"^/v1/activities$") == -(-total // PAGE)
    assert all(r.query["limit"] == "100" for r in sandbox.requests)
    assert bookmark_of(output.last_state) == truth[0]["timestamp"]
    assert "progress_markers" not in output.last_state["bookmarks"]["activities"]


def test_activities_stop_at_bookmark_page(sandbox):
    ordered = newest_first(sandbox.workspace)
    bookmark = ordered[250]["timestamp"]
    first_older = next(i for i, a in enumerate(ordered) if a["timestamp"] < bookmark)
    config = base_config(sandbox)
    sandbox.clear_requests()
    output = run_tap(config, ["activities"], state=activities_state(iso(bookmark)))

    pages = sandbox.request_count(r"^/v1/activities$")
    assert pages == first_older // PAGE + 1
    assert pages < -(-len(ordered) // PAGE)
    expected = sandbox.truth("activities", dict(config, start_date=iso(bookmark)))
    assert {r["id"] for r in output.records["activities"]} == {r["id"] for r in expected}


def test_activities_keep_bookmark_second(fresh_sandbox):
    ws = fresh_sandbox.workspace
    config = base_config(fresh_sandbox)
    first = run_tap(config, ["activities"])
    bookmark = iso_to_epoch(bookmark_of(first.last_state))

    rng = random.Random(3)
    same_second = make_activity(ws, rng, bookmark)
    newer = make_activity(ws, rng, bookmark + 1)
    ws.data["activities"] += [same_second, newer]
    fresh_sandbox.clear_requests()
    second = run_tap(config, ["activities"], state=first.last_state)
    counts = Counter(r["id"] for r in second.records["activities"])

    assert counts[same_second["id"]] == 1
    assert counts[newer["id"]] == 1
    assert all(iso_to_epoch(r["timestamp"]) >= bookmark for r in second.records["activities"])
    assert fresh_sandbox.request_count(r"^/v1/activities$") == 1
    assert bookmark_of(second.last_state) == iso(bookmark + 1)


def test_activities_retention_warning(sandbox):
    now = sandbox.workspace.now
    old_start = iso(now - 40 * DAY)
    recent_start = iso(now - 10 * DAY)
    old = run_tap(base_config(sandbox, start_date=old_start), ["activities"])
    recent = run_tap(base_config(sandbox, start_date=recent_start), ["activities"])

    warnings = retention_warnings(old.log)
    assert len(warnings) == 1
    dates = re.findall(ISO, warnings[0])
    assert dates[0] == old_start
    assert len(dates) == 2
    assert iso_to_epoch(dates[1]) > iso_to_epoch(old_start)
    assert retention_warnings(recent.log) == []
    assert any(iso_to_epoch(r["timestamp"]) < now - 30 * DAY for r in old.records["activities"])


def test_activities_warning_names_bookmark(sandbox):
    bookmark = iso(sandbox.workspace.now - 35 * DAY)
    output = run_tap(base_config(sandbox), ["activities"], state=activities_state(bookmark))

    warnings = retention_warnings(output.log)
    assert len(warnings) == 1
    assert bookmark in warnings[0]
    assert "bookmark" in warnings[0]


def test_activities_end_date_bounds_bookmark(sandbox):
    now = sandbox.workspace.now
    end = now - 5 * DAY
    config = base_config(sandbox, start_date=iso(now - 20 * DAY), end_date=iso(end))
    output = run_tap(config, ["activities"])
    records = output.records["activities"]
    truth = sandbox.truth("activities", config)

    assert {r["id"] for r in records} == {r["id"] for r in truth}
    assert all(iso_to_epoch(r["timestamp"]) <= end for r in records)
    assert bookmark_of(output.last_state) == truth[0]["timestamp"]
    assert iso_to_epoch(bookmark_of(output.last_state)) <= end
