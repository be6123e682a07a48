"""Second runs of lists that the API cannot filter by time: only changes arrive."""

from __future__ import annotations

import gzip
import json
import random
import time

from sandbox.areas.campaigns import make_action
from tests.helpers import base_config, run_tap


def _touch_campaign(workspace, campaign_id: int, now: int) -> None:
    for campaign in workspace.data["campaigns"]:
        if campaign["id"] == campaign_id:
            campaign["updated"] = now
            campaign["name"] = "Renamed — ünïcode"


def test_second_run_emits_only_changes(fresh_sandbox):
    config = base_config(fresh_sandbox)
    streams = ["campaigns", "campaign_actions"]
    first = run_tap(config, streams)
    workspace = fresh_sandbox.workspace
    campaigns = workspace.data["campaigns"]
    assert len(first.records["campaigns"]) == len(campaigns)

    now = int(time.time()) + 5
    changed = campaigns[0]["id"]
    unchanged = campaigns[1]["id"]
    _touch_campaign(workspace, changed, now)
    new_action = make_action(workspace, random.Random(1), "campaign_id", unchanged, 99001, now)
    new_action["updated"] = now
    workspace.data["campaign_actions"][unchanged].append(new_action)

    second = run_tap(config, streams, state=first.last_state)

    # The bookmark bound is inclusive, so campaigns updated exactly at the old
    # bookmark arrive again; every other unchanged campaign stays out.
    bookmark = first.last_state["bookmarks"]["campaigns"]["replication_key_value"]
    at_bookmark = {r["id"] for r in first.records["campaigns"] if r["updated"] == bookmark}
    emitted = {r["id"]: r for r in second.records["campaigns"]}
    assert set(emitted) == {changed} | at_bookmark
    assert len(emitted) < len(campaigns)
    assert emitted[changed]["name"] == "Renamed — ünïcode"
    partitions = first.last_state["bookmarks"]["campaign_actions"]["partitions"]
    action_bookmarks = {p["context"]["campaign_id"]: p["replication_key_value"] for p in partitions}
    actions_at_bookmark = {
        (r["campaign_id"], r["id"])
        for r in first.records["campaign_actions"]
        if r["updated"] == action_bookmarks[r["campaign_id"]]
    }
    emitted_actions = {(r["campaign_id"], r["id"]) for r in second.records["campaign_actions"]}
    assert emitted_actions == {(unchanged, 99001)} | actions_at_bookmark
    assert len(emitted_actions) < len(first.records["campaign_actions"])


def test_same_state_twice_same_records(fresh_sandbox):
    config = base_config(fresh_sandbox)
    streams = ["campaigns", "campaign_actions", "newsletters", "segments"]
    first = run_tap(config, streams)
    state = first.last_state

    again = run_tap(config, streams, state=state)
    once_more = run_tap(config, streams, state=state)

    assert again.records == once_more.records


def test_state_holds_only_parent_ids(fresh_sandbox):
    output = run_tap(base_config(fresh_sandbox), ["campaign_actions"])
    partitions = output.last_state["bookmarks"]["campaign_actions"]["partitions"]

    assert partitions
    assert all(set(p["context"]) == {"campaign_id"} for p in partitions)
    assert "progress_markers" not in str(output.last_state)


def test_batch_mode_filters_unchanged(fresh_sandbox, tmp_path):
    config = base_config(fresh_sandbox)
    first = run_tap(config, ["campaigns"])
    batch_config = {
        "encoding": {"format": "jsonl", "compression": "gzip"},
        "storage": {"root": f"file://{tmp_path}", "prefix": "batch-"},
    }
    second = run_tap(dict(config, batch_config=batch_config), ["campaigns"], state=first.last_state)

    bookmark = first.last_state["bookmarks"]["campaigns"]["replication_key_value"]
    expected = {r["id"] for r in first.records["campaigns"] if r["updated"] >= bookmark}
    batched = []
    for path in tmp_path.glob("batch-*"):
        with gzip.open(path, "rt") as handle:
            batched.extend(json.loads(line) for line in handle)
    assert [m for m in second.messages if m["type"] == "BATCH"]
    assert {r["id"] for r in batched} == expected
    assert len(expected) < len(first.records["campaigns"])


def test_batch_mode_sends_no_activate_version(fresh_sandbox, tmp_path):
    batch_config = {
        "encoding": {"format": "jsonl", "compression": "gzip"},
        "storage": {"root": f"file://{tmp_path}", "prefix": "batch-"},
    }
    plain = run_tap(base_config(fresh_sandbox), ["segments", "segment_memberships"])
    batched = run_tap(
        base_config(fresh_sandbox, batch_config=batch_config), ["segments", "segment_memberships"]
    )

    assert [m for m in plain.messages if m["type"] == "ACTIVATE_VERSION"]
    assert not [m for m in batched.messages if m["type"] == "ACTIVATE_VERSION"]
    assert "ACTIVATE_VERSION is not sent in BATCH mode" in batched.log
