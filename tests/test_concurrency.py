"""Concurrent requests: same records, order, STATE and requests as one at a time."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from sandbox import Sandbox
from sandbox.areas.deletions import delete_after_listing
from sandbox.workspace import DAY, iso
from tap_customerio.client import (
    MAX_RATE_WINDOW_MARGIN_SECONDS,
    RATE_WINDOW_MARGIN_SECONDS,
    RateLimiter,
    iso_to_epoch,
)
from tap_customerio.prefetch import ChainDone, Prefetcher, ordered_map, run_chains
from tap_customerio.tap import check_settings
from tests.helpers import base_config, by_key, run_tap
from tests.test_faults import busiest_second
from tests.test_messages import bookmark_of, expected_windows, run_until_failure, window_config

#: Streams whose records the SDK emits in one defined order (parents, then each
#: parent's children in turn).
ORDERED_GROUPS = {
    "automations": [
        "campaigns",
        "campaign_actions",
        "campaign_metrics",
        "campaign_action_metrics",
        "campaign_journey_metrics",
    ],
    "sends": [
        "newsletters",
        "newsletter_variants",
        "newsletter_test_groups",
        "newsletter_metrics",
        "broadcasts",
        "broadcast_actions",
        "broadcast_triggers",
        "broadcast_metrics",
        "broadcast_action_metrics",
        "transactional_messages",
        "transactional_variants",
        "transactional_metrics",
    ],
    "people": ["segments", "segment_memberships", "object_types", "objects", "customers"],
}


def request_counts(sandbox: Sandbox) -> Counter:
    return Counter((r.method, r.path) for r in sandbox.requests)


def run_both(sandbox: Sandbox, streams: list[str] | None, state: dict | None = None, **settings):
    """Run the tap one request at a time, then concurrently; return both outputs."""
    outputs, requests = [], []
    for concurrency in (1, 8):
        config = base_config(sandbox, max_concurrent_requests=concurrency, **settings)
        sandbox.clear_requests()
        outputs.append(run_tap(config, streams, state=state))
        requests.append(request_counts(sandbox))
    assert requests[0] == requests[1]
    return outputs


@pytest.mark.parametrize("group", sorted(ORDERED_GROUPS))
def test_concurrent_same_records_in_order(sandbox, group):
    streams = ORDERED_GROUPS[group]
    sequential, concurrent = run_both(sandbox, streams)

    for stream in streams:
        assert sequential.records[stream], stream
        assert concurrent.records[stream] == sequential.records[stream], stream
    assert concurrent.last_state == sequential.last_state


def test_concurrent_same_state_on_second_run(sandbox):
    streams = ORDERED_GROUPS["automations"] + ["broadcasts", "broadcast_actions"]
    first = run_tap(base_config(sandbox, max_concurrent_requests=1), streams)
    sequential, concurrent = run_both(sandbox, streams, state=first.last_state)

    for stream in streams:
        assert concurrent.records[stream] == sequential.records[stream], stream
    assert concurrent.last_state == sequential.last_state
    assert concurrent.last_state["bookmarks"]["campaign_metrics"]["partitions"]


def test_concurrent_messages_same_records(sandbox):
    now = sandbox.workspace.now
    settings = {"start_date": iso(now - 400 * DAY), "end_date": iso(now)}
    sequential, concurrent = run_both(sandbox, ["messages"], **settings)
    windows = expected_windows(now - 400 * DAY, now)

    def per_window(records):
        grouped = {}
        for record in records:
            created = record["created"]
            index = next(i for i, (_, end) in enumerate(windows) if created <= iso(end))
            grouped.setdefault(index, []).append(record)
        return grouped

    assert len(windows) > 8
    assert per_window(concurrent.records["messages"]) == per_window(sequential.records["messages"])
    assert concurrent.last_state == sequential.last_state
    bookmarks = [bookmark_of(s) for s in concurrent.states if bookmark_of(s)]
    assert sorted(set(bookmarks)) == [iso(end) for _, end in windows]
    assert bookmarks == sorted(bookmarks)
    assert all("progress_markers" not in json.dumps(s) for s in concurrent.states)


def test_concurrent_messages_resume(fresh_sandbox):
    now = fresh_sandbox.workspace.now
    config = window_config(fresh_sandbox, messages_lookback_days=0)
    windows = expected_windows(now - 400 * DAY, now)
    fresh_sandbox.add_fault("400", path=r"^/v1/messages$", after=5, count=1)
    first_records, states = run_until_failure(config, ["messages"])

    bookmarks = [bookmark_of(s) for s in states if bookmark_of(s)]
    assert bookmarks == sorted(bookmarks)
    assert set(bookmarks) <= {iso(end) for _, end in windows}
    assert "progress_markers" not in json.dumps(states)
    done = sum(1 for _, end in windows if bookmarks and iso(end) <= bookmarks[-1])
    # Every window of the saved prefix was emitted in full before the failure.
    first_ids = {r["id"] for r in first_records}
    truth = fresh_sandbox.truth("messages", config)
    saved_end = iso(windows[done - 1][1]) if done else ""
    assert {r["id"] for r in truth if r["created"] <= saved_end} <= first_ids
    assert done < len(windows)

    fresh_sandbox.clear_requests()
    output = run_tap(config, ["messages"], state=states[-1] if states else None)
    resumed = {r["id"] for r in output.records["messages"]}
    assert first_ids | resumed == {r["id"] for r in truth}
    assert bookmark_of(output.last_state) == iso(now)
    # Read twice: the bookmark's second (start_ts is inclusive) and the windows that
    # were in flight when the run stopped.
    low = windows[done - 1][1] if done else windows[0][0]
    high = windows[min(done + 8, len(windows)) - 1][1]
    twice = [iso_to_epoch(r["created"]) for r in first_records if r["id"] in resumed]
    assert all(low <= created <= high for created in twice)


BROADCAST_CHILDREN = {
    "broadcast_actions": "/v1/broadcasts/{}/actions",
    "broadcast_triggers": "/v1/broadcasts/{}/triggers",
    "broadcast_metrics": "/v1/broadcasts/{}/metrics",
}


def test_concurrent_deleted_parents_skipped(fresh_sandbox):
    ws = fresh_sandbox.workspace
    deleted_id = ws.data["broadcasts"][1]["id"]
    delete_after_listing(ws, "broadcasts", deleted_id)
    config = base_config(fresh_sandbox, max_concurrent_requests=8)
    output = run_tap(config, ["broadcasts", *BROADCAST_CHILDREN, "broadcast_action_metrics"])

    assert deleted_id in {b["id"] for b in output.records["broadcasts"]}
    for stream, path in BROADCAST_CHILDREN.items():
        child_path = path.format(deleted_id)
        assert f"skipped GET {child_path}," in output.log, stream
        assert fresh_sandbox.request_count(f"^{child_path}$", status=404) == 1, stream
    for stream in ("broadcast_actions", "broadcast_metrics", "broadcast_action_metrics"):
        ids = {r["broadcast_id"] for r in output.records[stream]}
        assert ids, stream
        assert deleted_id not in ids, stream
    for stream in ("broadcast_actions", "broadcast_triggers"):
        truth = fresh_sandbox.truth(stream, config)
        assert truth, stream
        records = output.records[stream]
        assert by_key(records, "broadcast_id", "id") == by_key(truth, "broadcast_id", "id")


def test_concurrent_child_forbidden_stops_run(fresh_sandbox):
    fresh_sandbox.add_fault("403", path="/actions$")
    config = base_config(fresh_sandbox, max_concurrent_requests=8, max_retry_seconds=5)

    with pytest.raises(Exception, match=r"^Stream 'campaign_actions': HTTP 403") as caught:
        run_tap(config, ["campaigns", "campaign_actions"])

    assert "deselect the stream" in str(caught.value)
    sent = fresh_sandbox.request_count("/actions$")
    assert 1 <= sent <= Prefetcher(8).lookahead + 1


def test_concurrent_default_rate_no_429():
    with Sandbox(seed=11, rate_limit=10, latency_ms=60) as limited:
        config = base_config(limited)
        del config["max_requests_per_second"]
        output = run_tap(config, ["campaigns", "campaign_actions", "campaign_metrics"])

        arrivals = [r.at for r in limited.requests]
        assert limited.request_count(status=429) == 0
        assert len(arrivals) > 20
        assert busiest_second(arrivals) <= 10
        assert len(output.records["campaign_metrics"]) > 0


def test_ordered_map_order_and_error():
    prefetcher = Prefetcher(4)
    try:
        results = list(ordered_map(prefetcher, range(50), lambda n: n * n))
        assert results == [n * n for n in range(50)]

        def fail_at_7(n):
            if n == 7:
                raise ValueError(n)
            return n

        seen = []
        with pytest.raises(ValueError, match="7"):
            seen.extend(ordered_map(prefetcher, range(20), fail_at_7))
        assert seen == list(range(7))
    finally:
        prefetcher.close()


def test_run_chains_error_finishes_earlier():
    prefetcher = Prefetcher(3)

    def chain(index):
        def pages():
            for page in range(3):
                if index == 2 and page == 1:
                    raise ValueError(index)
                yield (index, page)

        return pages

    events = []
    try:
        with pytest.raises(ValueError, match="2"):
            events.extend(run_chains(prefetcher, [chain(i) for i in range(6)], 3))
    finally:
        prefetcher.close()
    done = [e.index for e in events if isinstance(e, ChainDone)]
    pages = [e[1] for e in events if not isinstance(e, ChainDone)]
    assert sorted(done) == [0, 1]
    assert [p for p in pages if p[0] < 2] == sorted(p for p in pages if p[0] < 2)
    assert {p for p in pages if p[0] < 2} == {(i, n) for i in (0, 1) for n in range(3)}
    assert all(p[0] <= 2 for p in pages)


@pytest.mark.parametrize("value", [0, -1, 2.5, "eight", 65])
def test_concurrency_setting_checked(value):
    errors = check_settings({"api_key": "k", "max_concurrent_requests": value})
    assert any(e.startswith("max_concurrent_requests") for e in errors)


def test_limiter_margin_widens_on_429():
    limiter = RateLimiter(10)
    widened = []
    for _ in range(20):
        limiter.widen()
        widened.append(limiter.margin)

    assert widened[0] == pytest.approx(RATE_WINDOW_MARGIN_SECONDS + 0.025)
    assert widened == sorted(widened)
    assert widened[-1] == pytest.approx(MAX_RATE_WINDOW_MARGIN_SECONDS)
