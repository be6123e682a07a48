"""Incremental sync across every stream: end_date, backfills, STATE, resumes and reruns."""

from __future__ import annotations

import copy
import itertools
import random
import time
from collections import Counter
from datetime import datetime, timedelta

import pytest

from sandbox.areas.activities import make_activity, newest_first
from sandbox.areas.campaigns import make_action
from sandbox.areas.messages import make_delivery
from sandbox.workspace import DAY, iso
from tap_customerio.client import iso_to_epoch
from tap_customerio.tap import TapCustomerIO
from tests.helpers import base_config, run_tap

TAP = TapCustomerIO(config={"api_key": "unused"}, parse_env_config=False)
STREAMS = TAP.streams
CLIENT_FILTERED = sorted(n for n, s in STREAMS.items() if getattr(s, "client_side_filter", False))
METRICS = sorted(n for n in STREAMS if n.endswith("_metrics"))
TIME_BASED = sorted(n for n, s in STREAMS.items() if s.replication_method == "INCREMENTAL")
FULL_TABLE = sorted(n for n, s in STREAMS.items() if s.replication_method == "FULL_TABLE")
#: Days each stream reads again before its bookmark, with the default settings.
LOOKBACK_DAYS = {"messages": 7, **dict.fromkeys(METRICS, 30)}


def replication_key(stream: str) -> str:
    return STREAMS[stream].replication_key


def keys_of(stream: str, record: dict) -> tuple:
    return tuple(record[k] for k in STREAMS[stream].primary_keys)


def parent_ids(stream: str, record: dict) -> dict:
    """Return the STATE partition context a record of a child stream belongs to."""
    return {k: record[k] for k in STREAMS[stream].primary_keys if k.endswith("_id")}


def bookmarks(state: dict, stream: str) -> dict[tuple, str]:
    """Return the bookmark of each partition of ``stream`` (key () when unpartitioned)."""
    entry = state.get("bookmarks", {}).get(stream, {})
    found = {}
    if "replication_key_value" in entry:
        found[()] = entry["replication_key_value"]
    for partition in entry.get("partitions", []):
        if "replication_key_value" in partition:
            found[tuple(sorted(partition["context"].items()))] = partition["replication_key_value"]
    return found


def bookmark_for(state: dict, stream: str, record: dict) -> str | None:
    marks = bookmarks(state, stream)
    if () in marks:
        return marks[()]
    return marks.get(tuple(sorted(parent_ids(stream, record).items())))


def epoch(value: str) -> int:
    return iso_to_epoch(value)


def recent_config(sandbox, **overrides) -> dict:
    """Return a config that starts 60 days back, which keeps runs of every stream short."""
    return base_config(sandbox, start_date=iso(sandbox.workspace.now - 60 * DAY), **overrides)


def truth_keys(sandbox, stream: str, config: dict) -> set[tuple]:
    return {keys_of(stream, r) for r in sandbox.truth(stream, config)}


def emitted_keys(output, stream: str) -> set[tuple]:
    return {keys_of(stream, r) for r in output.records[stream]}


@pytest.fixture(scope="module")
def full_run(sandbox):
    """One run of every stream."""
    return run_tap(recent_config(sandbox))


# end_date and backfills ---------------------------------------------------------


@pytest.mark.parametrize("stream", CLIENT_FILTERED)
def test_end_date_bounds_list(sandbox, stream):
    key = replication_key(stream)
    values = sorted({epoch(r[key]) for r in sandbox.truth(stream, {}) if r[key] is not None})
    start, end = values[(len(values) - 2) // 4], values[(3 * len(values) - 2) // 4]
    config = base_config(sandbox, start_date=iso(start), end_date=iso(end))
    output = run_tap(config, [stream])
    records = output.records[stream]

    assert start < end < values[-1]
    assert emitted_keys(output, stream) == truth_keys(sandbox, stream, config)
    assert len(records) == len(emitted_keys(output, stream))
    # Both bounds are inclusive: records exactly on them arrive.
    assert {epoch(r[key]) for r in records} >= {start, end}
    for state in output.states:
        assert all(epoch(v) <= end for v in bookmarks(state, stream).values())
    final = bookmarks(output.last_state, stream)
    assert final
    assert max(epoch(v) for v in final.values()) == end


def test_backfill_every_time_based_stream(sandbox):
    now = sandbox.workspace.now
    start, end = now - 40 * DAY, now - 10 * DAY
    config = base_config(sandbox, start_date=iso(start), end_date=iso(end))
    output = run_tap(config, TIME_BASED)

    for stream in TIME_BASED:
        assert emitted_keys(output, stream) == truth_keys(sandbox, stream, config), stream
        key = replication_key(stream)
        assert all(epoch(r[key]) <= end for r in output.records[stream] if r[key]), stream
        for state in output.states:
            assert all(epoch(v) <= end for v in bookmarks(state, stream).values()), stream


def test_end_date_caps_signpost(sandbox):
    end = sandbox.workspace.now - 10 * DAY
    tap = TapCustomerIO(config=base_config(sandbox, end_date=iso(end)), parse_env_config=False)

    for stream in TIME_BASED:
        signpost = tap.streams[stream].get_replication_key_signpost(None)
        assert int(signpost.timestamp()) == end, stream


# STATE --------------------------------------------------------------------------


def test_final_state_holds_only_ids(full_run):
    state = full_run.last_state
    assert set(state["bookmarks"]) >= set(TIME_BASED)
    for stream, entry in state["bookmarks"].items():
        assert set(entry) <= {"replication_key", "replication_key_value", "partitions"}, stream
        for partition in entry.get("partitions", []):
            assert set(partition) <= {"context", "replication_key", "replication_key_value"}
            context = partition["context"]
            assert context, stream
            if STREAMS[stream].parent_stream_type is not None:
                assert all(k.endswith("_id") for k in context), (stream, context)
            assert all(isinstance(v, (int, str)) for v in context.values()), (stream, context)
    for stream in TIME_BASED:
        assert bool(bookmarks(state, stream)) == bool(full_run.records[stream]), stream
    assert "progress_markers" not in str(state)
    assert "signpost" not in str(state)


def test_state_partitioned_per_parent(full_run):
    state = full_run.last_state
    for stream in TIME_BASED:
        parent = STREAMS[stream].parent_stream_type
        partitions = state["bookmarks"][stream].get("partitions", [])
        if parent is None:
            assert not partitions, stream
            continue
        contexts = [tuple(sorted(p["context"].items())) for p in partitions]
        names = {k for k in STREAMS[stream].primary_keys if k.endswith("_id")}
        assert contexts, stream
        assert all({name for name, _ in c} == names for c in contexts), stream
        assert len(set(contexts)) == len(contexts), stream
        # Every parent with records has a bookmark of its own.
        with_records = {
            tuple(sorted(parent_ids(stream, r).items())) for r in full_run.records[stream]
        }
        assert with_records == set(bookmarks(state, stream)), stream


# ACTIVATE_VERSION ---------------------------------------------------------------


def test_full_table_activate_version(full_run):
    versions: dict[str, set[int]] = {}
    for message in full_run.messages:
        if message["type"] == "ACTIVATE_VERSION":
            versions.setdefault(message["stream"], set()).add(message["version"])

    assert set(versions) == set(FULL_TABLE)
    for stream, found in versions.items():
        assert len(found) == 1, stream
        records = [m for m in full_run.messages if m["type"] == "RECORD" and m["stream"] == stream]
        assert {m.get("version") for m in records} <= found, stream


def test_activate_version_before_records(full_run):
    seen_activate: set[str] = set()
    for message in full_run.messages:
        if message["type"] == "ACTIVATE_VERSION":
            seen_activate.add(message["stream"])
        elif message["type"] == "RECORD" and message["stream"] in FULL_TABLE:
            assert message["stream"] in seen_activate, message["stream"]


def test_child_activate_version_per_partition(full_run, sandbox):
    count = Counter(m["stream"] for m in full_run.messages if m["type"] == "ACTIVATE_VERSION")
    segments = len(sandbox.truth("segments", {}))

    assert count["segment_memberships"] == segments
    assert count["workspaces"] == 1


def test_activate_version_setting_off(sandbox):
    config = base_config(sandbox, emit_activate_version_messages=False)
    output = run_tap(config, ["workspaces", "segment_memberships"])

    assert output.records["workspaces"]
    assert not [m for m in output.messages if m["type"] == "ACTIVATE_VERSION"]


# Two runs -----------------------------------------------------------------------


def mutate(workspace, moment: int) -> dict:
    """Change the workspace after a first run; return what a second run must emit."""
    rng = random.Random(42)
    data = workspace.data
    changed_campaign = data["campaigns"][0]
    changed_campaign["updated"] = moment
    changed_campaign["name"] = "Geändert — 変更"

    quiet_campaign = data["campaigns"][1]["id"]
    action = make_action(workspace, rng, "campaign_id", quiet_campaign, 99001, moment)
    action["updated"] = moment
    data["campaign_actions"].setdefault(quiet_campaign, []).append(action)

    fresh = make_delivery(workspace, rng, moment)
    late = make_delivery(workspace, rng, moment - 2 * DAY)
    data["deliveries"] += [fresh, late]

    activity = make_activity(workspace, rng, moment)
    data["activities"].append(activity)

    newsletter = dict(data["newsletters"][-1], id=9998, created=moment, updated=moment)
    newsletter["deduplicate_id"] = f"9998:{moment}"
    data["newsletters"].append(newsletter)
    data["newsletter_variants"][9998] = []
    data["newsletter_test_groups"][9998] = []

    broadcast = data["broadcasts"][0]["id"]
    trigger = {"id": 99777, "broadcast_id": broadcast, "created_at": moment, "processed_at": None}
    data["broadcast_triggers"][broadcast].insert(0, trigger)

    return {
        "campaigns": {(changed_campaign["id"],)},
        "campaign_actions": {(quiet_campaign, 99001)},
        "messages": {(fresh["id"],), (late["id"],)},
        "activities": {(activity["id"],)},
        "newsletters": {(9998,)},
        "broadcast_triggers": {(broadcast, 99777)},
        "newsletter_metrics": {(9998,)},
    }


def test_second_run_reads_changes_only(fresh_sandbox):
    config = recent_config(fresh_sandbox)
    first = run_tap(config, TIME_BASED)
    state = first.last_state
    moment = int(time.time())
    expected = mutate(fresh_sandbox.workspace, moment)
    time.sleep(1)
    fresh_sandbox.clear_requests()
    second = run_tap(config, TIME_BASED, state=state)

    # Every change arrives.
    for stream, keys in expected.items():
        if stream == "newsletter_metrics":
            emitted = {(r["newsletter_id"],) for r in second.records[stream]}
        else:
            emitted = emitted_keys(second, stream)
        assert keys <= emitted, stream
    renamed = [r for r in second.records["campaigns"] if r["name"] == "Geändert — 変更"]
    assert len(renamed) == 1

    # Lists without a time filter arrive again only where they changed or sit exactly
    # on their bookmark; the lists themselves are read again in full.
    for stream in CLIENT_FILTERED:
        for record in second.records[stream]:
            old = bookmark_for(state, stream, record)
            assert old is None or record[replication_key(stream)] >= old, stream
    assert fresh_sandbox.request_count(r"^/v1/campaigns$") == 1

    # Deliveries: no window before the bookmark minus the lookback.
    delivery_mark = epoch(bookmarks(state, "messages")[()])
    starts = [int(r.query["start_ts"]) for r in fresh_sandbox.requests if r.path == "/v1/messages"]
    assert min(starts) == delivery_mark - 7 * DAY
    assert {r["id"] for r in second.records["messages"]} == {
        d["id"]
        for d in fresh_sandbox.workspace.data["deliveries"]
        if d["created"] >= delivery_mark - 7 * DAY
    }

    # Activities: no page past the one holding the bookmark.
    activity_mark = epoch(bookmarks(state, "activities")[()])
    ordered = newest_first(fresh_sandbox.workspace)
    first_older = next(i for i, a in enumerate(ordered) if a["timestamp"] < activity_mark)
    assert fresh_sandbox.request_count(r"^/v1/activities$") == first_older // 100 + 1

    # Metrics: no period before the bookmark minus the lookback.
    for stream in METRICS:
        assert second.records[stream], stream
        for record in second.records[stream]:
            mark = datetime.fromisoformat(
                bookmark_for(state, stream, record) or record["period_start"]
            )
            lowest = mark - timedelta(days=LOOKBACK_DAYS[stream])
            assert datetime.fromisoformat(record["period_start"]) >= lowest, stream
    for request in fresh_sandbox.requests:
        stream, context = metrics_request(request.path)
        if stream is None or "start" not in request.query:
            continue
        mark = bookmarks(state, stream).get(tuple(sorted(context.items())))
        if mark is None:
            # Only the new action has no bookmark yet.
            assert context.get("action_id") == 99001, request.path
            continue
        assert int(request.query["start"]) == epoch(mark) - LOOKBACK_DAYS[stream] * DAY


def metrics_request(path: str) -> tuple[str | None, dict]:
    """Return the metrics stream and partition context of a request path."""
    parts = path.strip("/").split("/")[1:]
    if not parts[-1].endswith("metrics") or parts[0] not in {"campaigns", "broadcasts"}:
        return None, {}
    parent = "campaign" if parts[0] == "campaigns" else "broadcast"
    context = {f"{parent}_id": int(parts[1])}
    if len(parts) == 5:
        context["action_id"] = int(parts[3])
        return f"{parent}_action_metrics", context
    if parts[-1] == "journey_metrics":
        return "campaign_journey_metrics", context
    return f"{parent}_metrics", context


def test_same_state_same_records(sandbox, full_run):
    config = recent_config(sandbox)
    state = full_run.last_state

    again = run_tap(config, TIME_BASED, state=state)
    once_more = run_tap(config, TIME_BASED, state=state)

    for stream in TIME_BASED:
        first = sorted(again.records[stream], key=lambda r: keys_of(stream, r))
        second = sorted(once_more.records[stream], key=lambda r: keys_of(stream, r))
        assert first == second, stream
        if stream != "messages":
            # The deliveries bookmark is the run's start, so only it may differ.
            assert bookmarks(again.last_state, stream) == bookmarks(once_more.last_state, stream)
    assert again.records["messages"]
    assert again.records["campaign_metrics"]


# Interruptions ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "after"),
    [
        (r"^/v1/messages$", 1),
        (r"^/v1/campaigns/[^/]+/actions$", 4),
        (r"^/v1/newsletters/[^/]+/metrics$", 6),
    ],
)
def test_resume_after_interruption(fresh_sandbox, path, after):
    config = recent_config(fresh_sandbox)
    fresh_sandbox.add_fault("400", path=path, after=after, count=1)
    interrupted = run_tap(config, TIME_BASED, allow_error=True)
    state = interrupted.last_state
    resumed = run_tap(config, TIME_BASED, state=copy.deepcopy(state))

    assert interrupted.error is not None
    assert "progress_markers" not in str(resumed.last_state)
    for stream in TIME_BASED:
        first, second = emitted_keys(interrupted, stream), emitted_keys(resumed, stream)
        assert first | second == truth_keys(fresh_sandbox, stream, config), stream
        lookback = LOOKBACK_DAYS.get(stream, 0) * DAY
        for record in interrupted.records[stream]:
            if keys_of(stream, record) not in second:
                continue
            old = bookmark_for(state, stream, record)
            if old is not None:
                assert epoch(record[replication_key(stream)]) >= epoch(old) - lookback, stream


# Edge cases ---------------------------------------------------------------------


def test_future_start_date(sandbox, full_run):
    future = iso(int(time.time()) + 30 * DAY)
    config = base_config(sandbox, start_date=future)
    output = run_tap(config, TIME_BASED, state=full_run.last_state)

    assert output.error is None
    assert not any(output.records.get(s) for s in TIME_BASED)
    for stream in TIME_BASED:
        assert bookmarks(output.last_state, stream) == bookmarks(full_run.last_state, stream)


def test_future_start_date_no_state(sandbox):
    future = iso(int(time.time()) + 30 * DAY)
    output = run_tap(base_config(sandbox, start_date=future), TIME_BASED)

    assert not any(output.records.get(s) for s in TIME_BASED)
    for stream in TIME_BASED:
        assert all(v <= future for v in bookmarks(output.last_state, stream).values()), stream


def test_empty_window_keeps_bookmarks(sandbox, full_run):
    moment = iso(sandbox.workspace.now - 100 * DAY)
    config = base_config(sandbox, start_date=moment, end_date=moment)
    output = run_tap(config, TIME_BASED, state=full_run.last_state)

    assert not any(output.records.get(s) for s in TIME_BASED)
    for stream in TIME_BASED:
        assert bookmarks(output.last_state, stream) == bookmarks(full_run.last_state, stream)


def test_messages_bookmark_past_retention(sandbox):
    now = sandbox.workspace.now
    mark = now - 400 * DAY
    state = {
        "bookmarks": {
            "messages": {"replication_key": "created", "replication_key_value": iso(mark)}
        }
    }
    config = base_config(sandbox, end_date=iso(now))
    sandbox.clear_requests()
    output = run_tap(config, ["messages"], state=state)
    # Windows are read concurrently, so the log lists them in arrival order.
    windows = sorted(
        (int(r.query["start_ts"]), int(r.query["end_ts"]))
        for r in sandbox.requests
        if r.path == "/v1/messages" and "start" not in r.query
    )

    assert windows[0][0] == mark - 7 * DAY
    assert all(end - start < 30 * DAY for start, end in windows)
    assert all(b[0] == a[1] + 1 for a, b in itertools.pairwise(windows))
    expected = sandbox.truth("messages", dict(config, start_date=iso(mark - 7 * DAY)))
    assert {r["id"] for r in output.records["messages"]} == {r["id"] for r in expected}
