"""Top-level lists (one-time sends, broadcasts, transactional, segments) against truth."""

from __future__ import annotations

import pytest

from tests.helpers import base_config, by_key, run_tap

LISTS = {
    "newsletters": "updated",
    "broadcasts": "updated",
    "transactional_messages": "updated_at",
    "segments": "updated_at",
}


@pytest.mark.parametrize("stream", sorted(LISTS))
def test_list_matches_truth(sandbox, stream):
    config = base_config(sandbox)
    output = run_tap(config, [stream])
    records = output.records[stream]
    truth = sandbox.truth(stream, config)

    assert len(records) == len(truth)
    emitted = by_key(records, "id")
    assert emitted.keys() == by_key(truth, "id").keys()
    for expected in truth:
        record = emitted[(expected["id"],)]
        assert record["name"] == expected["name"]
        assert record[LISTS[stream]] == expected[LISTS[stream]]


def test_newsletters_follow_every_page(sandbox):
    sandbox.clear_requests()
    config = base_config(sandbox)
    output = run_tap(config, ["newsletters"])

    pages = sandbox.request_count(r"^/v1/newsletters$")
    count = len(sandbox.workspace.data["newsletters"])
    assert len(output.records["newsletters"]) == count
    assert pages == -(-count // 100)


def test_archived_segments_not_listed(sandbox):
    archived = [s["id"] for s in sandbox.workspace.data["segments"] if s["archived"]]
    output = run_tap(base_config(sandbox), ["segments"])

    assert archived
    assert not {r["id"] for r in output.records["segments"]} & set(archived)
