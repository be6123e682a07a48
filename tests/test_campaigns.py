"""Automations and their actions against the sandbox's ground truth."""

from __future__ import annotations

from tests.helpers import base_config, by_key, run_tap


def test_campaigns_match_truth(sandbox):
    config = base_config(sandbox)
    output = run_tap(config, ["campaigns"])
    records = output.records["campaigns"]
    truth = sandbox.truth("campaigns", config)

    assert len(records) == len(truth)
    emitted = by_key(records, "id")
    for expected in truth:
        record = emitted[(expected["id"],)]
        assert record["name"] == expected["name"]
        assert record["updated"] == expected["updated"]
        assert record["tags"] == expected["tags"]
        assert record["audience"] == expected["audience"]


def test_campaign_actions_cover_every_page(sandbox):
    config = base_config(sandbox)
    output = run_tap(config, ["campaign_actions"])
    records = output.records["campaign_actions"]
    truth = sandbox.truth("campaign_actions", config)

    assert len(records) == len(truth)
    assert by_key(records, "campaign_id", "id").keys() == by_key(truth, "campaign_id", "id").keys()
    assert all(isinstance(r["id"], int) for r in records)
    assert "campaigns" not in output.records


def test_campaigns_start_date_filters_client_side(sandbox):
    updated = sorted(c["updated"] for c in sandbox.workspace.data["campaigns"])
    cutoff = updated[len(updated) // 2]
    from datetime import datetime, timezone

    start = datetime.fromtimestamp(cutoff, tz=timezone.utc).isoformat()
    config = base_config(sandbox, start_date=start)
    output = run_tap(config, ["campaigns"])

    emitted = {r["id"] for r in output.records["campaigns"]}
    expected = {r["id"] for r in sandbox.truth("campaigns", config)}
    assert emitted == expected
    assert len(expected) < len(updated)
