"""Child streams of one-time sends, broadcasts, templates and segments against truth."""

from __future__ import annotations

import contextlib
import io
import json
import math
from collections import Counter
from datetime import datetime, timezone

import pytest
from singer_sdk.exceptions import FatalAPIError

from sandbox import Sandbox
from sandbox.areas.broadcasts import ACTIONS_PAGE
from sandbox.areas.deletions import delete_after_listing
from tap_customerio.tap import TapCustomerIO
from tests.helpers import base_config, by_key, run_tap, selected_catalog

#: Child stream -> (parent id field, parent dataset, child endpoint path below /v1).
CHILDREN = {
    "newsletter_variants": ("newsletter_id", "newsletters", "/newsletters/{}/contents"),
    "newsletter_test_groups": ("newsletter_id", "newsletters", "/newsletters/{}/test_groups"),
    "broadcast_actions": ("broadcast_id", "broadcasts", "/broadcasts/{}/actions"),
    "broadcast_triggers": ("broadcast_id", "broadcasts", "/broadcasts/{}/triggers"),
    "transactional_variants": ("transactional_id", "transactional", "/transactional/{}/contents"),
    "segment_memberships": ("segment_id", "segments", "/segments/{}/membership"),
}
PRIMARY_KEYS = {
    name: (parent_key, "cio_id" if name == "segment_memberships" else "id")
    for name, (parent_key, _, _) in CHILDREN.items()
}


def iso_of(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).isoformat()


@pytest.fixture(scope="module")
def children_run(sandbox):
    """One run of every child stream against the module sandbox."""
    config = base_config(sandbox)
    return config, run_tap(config, list(CHILDREN))


@pytest.mark.parametrize("stream", sorted(CHILDREN))
def test_child_matches_truth(sandbox, children_run, stream):
    config, output = children_run
    records = output.records[stream]
    truth = sandbox.truth(stream, config)
    keys = PRIMARY_KEYS[stream]

    assert truth
    emitted = by_key(records, *keys)
    expected = by_key(truth, *keys)
    assert len(emitted) == len(records), "duplicate primary keys"
    assert emitted.keys() == expected.keys()
    for key, record in expected.items():
        assert emitted[key] == record, key


def test_children_no_duplicate_keys(children_run):
    _, output = children_run
    for stream, keys in PRIMARY_KEYS.items():
        counts = Counter(tuple(r[k] for k in keys) for r in output.records[stream])
        repeated = {key: n for key, n in counts.items() if n > 1}
        assert counts, stream
        assert not repeated, stream


def test_children_only_child_streams_emitted(children_run):
    _, output = children_run
    assert set(output.records) == set(CHILDREN)


def test_child_hard_values_present(children_run):
    _, output = children_run
    members = output.records["segment_memberships"]
    groups = output.records["newsletter_test_groups"]
    triggers = output.records["broadcast_triggers"]

    assert any(m["id"] is None for m in members)
    assert any(m["id"] == "" for m in members)
    assert any(m["email"] is None for m in members)
    assert any(m["email"] and not m["email"].split("@")[0].isascii() for m in members)
    assert any(g["id"] == 0 for g in groups)
    assert any(t["processed_at"] is None for t in triggers)


def test_action_ids_are_integers(sandbox):
    output = run_tap(base_config(sandbox), ["broadcasts", "broadcast_actions"])
    actions = output.records["broadcast_actions"]
    raw = [a for items in sandbox.workspace.data["broadcast_actions"].values() for a in items]

    assert actions
    assert all(isinstance(a["id"], str) for a in raw)
    assert all(type(a["id"]) is int for a in actions)
    referenced = {
        (b["id"], reference["id"])
        for b in output.records["broadcasts"]
        for reference in b["actions"]
    }
    assert referenced == set(by_key(actions, "broadcast_id", "id"))


def test_transactional_variant_ids_are_integers(children_run):
    _, output = children_run
    variants = output.records["transactional_variants"]
    assert all(type(v["id"]) is int for v in variants)
    assert {v["type"] for v in variants} <= {"email", "push"}


def test_broadcast_actions_follow_next(sandbox):
    sandbox.clear_requests()
    run_tap(base_config(sandbox), ["broadcast_actions"])

    sizes = {b: len(a) for b, a in sandbox.workspace.data["broadcast_actions"].items()}
    assert max(sizes.values()) > ACTIONS_PAGE
    for broadcast_id, size in sizes.items():
        pages = sandbox.request_count(f"^/v1/broadcasts/{broadcast_id}/actions$")
        assert pages == max(1, math.ceil(size / ACTIONS_PAGE)), broadcast_id


@pytest.mark.parametrize(
    "stream",
    [
        "newsletter_variants",
        "newsletter_test_groups",
        "broadcast_triggers",
        "transactional_variants",
    ],
)
def test_unpaged_child_one_request_per_parent(sandbox, stream):
    parent_key, dataset, path = CHILDREN[stream]
    sandbox.clear_requests()
    output = run_tap(base_config(sandbox), [stream])

    parent_ids = {r[parent_key] for r in sandbox.truth(stream)}
    assert output.records[stream]
    for parent_id in parent_ids:
        assert sandbox.request_count("^/v1" + path.format(parent_id) + "$") == 1
    pattern = "^/v1" + path.format("[^/]+") + "$"
    assert sandbox.request_count(pattern) == len(sandbox.workspace.data[dataset])


def test_memberships_walk_every_page(sandbox):
    sandbox.clear_requests()
    output = run_tap(base_config(sandbox), ["segment_memberships"])

    cap = sandbox.workspace.counts["membership_page_cap"]
    members = sandbox.workspace.data["segment_members"]
    listed = {r["id"] for r in sandbox.truth("segments")}
    sizes = {segment_id: len(members[segment_id]) for segment_id in listed}
    assert max(sizes.values()) > 2 * cap
    assert 0 in sizes.values()
    assert cap in sizes.values()
    assert cap + 1 in sizes.values()
    for segment_id, size in sizes.items():
        pages = sandbox.request_count(f"^/v1/segments/{segment_id}/membership$")
        assert pages == max(1, math.ceil(size / cap)), segment_id
    assert len(output.records["segment_memberships"]) == sum(sizes.values())


def test_memberships_request_max_limit(sandbox):
    sandbox.clear_requests()
    run_tap(base_config(sandbox), ["segment_memberships"])

    limits = {r.query.get("limit") for r in sandbox.requests if r.path.endswith("/membership")}
    assert limits == {"30000"}


def test_memberships_small_page_cap():
    with Sandbox(seed=3, rate_limit=None, scale={"membership_page_cap": 7}) as server:
        config = base_config(server)
        output = run_tap(config, ["segment_memberships"])
        pages = server.request_count(r"^/v1/segments/1/membership$")
        truth = server.truth("segment_memberships", config)

    size = len(server.workspace.data["segment_members"][1])
    assert pages == math.ceil(size / 7)
    records = output.records["segment_memberships"]
    assert by_key(records, "segment_id", "cio_id") == by_key(truth, "segment_id", "cio_id")
    assert len(records) == len(truth)


def test_deleted_parents_skipped(fresh_sandbox):
    ws = fresh_sandbox.workspace
    deleted_ids = {
        dataset: ws.data[dataset][0]["id"]
        for dataset in ("newsletters", "broadcasts", "transactional", "segments")
    }
    for dataset, parent_id in deleted_ids.items():
        delete_after_listing(ws, dataset, parent_id)
    config = base_config(fresh_sandbox)
    output = run_tap(config, ["broadcasts", *CHILDREN])

    assert deleted_ids["broadcasts"] in {b["id"] for b in output.records["broadcasts"]}
    for stream, (parent_key, dataset, path) in CHILDREN.items():
        deleted_id = deleted_ids[dataset]
        child_path = "/v1" + path.format(deleted_id)
        records = output.records[stream]
        truth = fresh_sandbox.truth(stream, config)
        keys = PRIMARY_KEYS[stream]
        assert f"skipped GET {child_path}," in output.log, stream
        assert fresh_sandbox.request_count(f"^{child_path}$", status=404) == 1, stream
        assert truth, stream
        assert deleted_id not in {r[parent_key] for r in records}, stream
        assert by_key(records, *keys) == by_key(truth, *keys), stream


def test_broadcast_actions_bookmark_per_broadcast(sandbox):
    config = base_config(sandbox)
    first = run_tap(config, ["broadcast_actions"])
    partitions = first.last_state["bookmarks"]["broadcast_actions"]["partitions"]
    bookmarks = {
        p["context"]["broadcast_id"]: p["replication_key_value"]
        for p in partitions
        if "replication_key_value" in p
    }
    second = run_tap(config, ["broadcast_actions"], state=first.last_state)

    actions = sandbox.workspace.data["broadcast_actions"]
    assert len(bookmarks) == sum(1 for items in actions.values() if items)
    expected = {
        (broadcast_id, int(a["id"]))
        for broadcast_id, items in actions.items()
        for a in items
        if broadcast_id in bookmarks and iso_of(a["updated"]) >= bookmarks[broadcast_id]
    }
    emitted = set(by_key(second.records["broadcast_actions"], "broadcast_id", "id"))
    assert emitted == expected
    assert len(emitted) < len(first.records["broadcast_actions"])


def test_broadcast_action_change_reread(fresh_sandbox):
    config = base_config(fresh_sandbox)
    first = run_tap(config, ["broadcast_actions"])
    ws = fresh_sandbox.workspace
    broadcast = ws.data["broadcasts"][0]
    changed = ws.data["broadcast_actions"][broadcast["id"]][3]
    changed["updated"] = ws.now
    second = run_tap(config, ["broadcast_actions"], state=first.last_state)

    emitted = by_key(second.records["broadcast_actions"], "broadcast_id", "id")
    assert (broadcast["id"], int(changed["id"])) in emitted
    assert emitted[(broadcast["id"], int(changed["id"]))]["updated"] == iso_of(ws.now)


def test_broadcast_triggers_start_date(sandbox):
    created = sorted(
        t["created_at"]
        for items in sandbox.workspace.data["broadcast_triggers"].values()
        for t in items
    )
    config = base_config(sandbox, start_date=iso_of(created[len(created) // 2]))
    output = run_tap(config, ["broadcast_triggers"])

    emitted = by_key(output.records["broadcast_triggers"], "broadcast_id", "id")
    expected = by_key(sandbox.truth("broadcast_triggers", config), "broadcast_id", "id")
    assert emitted == expected
    assert 0 < len(expected) < len(created)


def test_memberships_emitted_per_page(fresh_sandbox):
    cap = fresh_sandbox.workspace.counts["membership_page_cap"]
    first_page = fresh_sandbox.workspace.data["segment_members"][1][:cap]
    fresh_sandbox.add_fault("400", path=r"^/v1/segments/1/membership$", after=1)
    config = base_config(fresh_sandbox)
    catalog = selected_catalog(config, ["segment_memberships"])
    stdout = io.StringIO()
    tap = TapCustomerIO(config=config, catalog=catalog, state={}, parse_env_config=False)

    with contextlib.redirect_stdout(stdout), pytest.raises(FatalAPIError):
        tap.sync_all()

    messages = [json.loads(line) for line in stdout.getvalue().splitlines() if line.strip()]
    written = [m["record"]["cio_id"] for m in messages if m["type"] == "RECORD"]
    assert fresh_sandbox.request_count(r"^/v1/segments/1/membership$", status=400) == 1
    assert written == [member["cio_id"] for member in first_page]
