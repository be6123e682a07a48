"""Object types and objects (with attributes) against the sandbox's ground truth."""

from __future__ import annotations

import math
from urllib.parse import quote

import pytest

from sandbox.areas.objects import HARD_OBJECT_IDS, SHARED_OBJECT_ID
from tap_customerio.streams.objects import ObjectsStream
from tests.helpers import base_config, by_key, run_tap

OBJECT_KEY = ("object_type_id", "object_id")


def test_object_types_match_truth(sandbox):
    config = base_config(sandbox)
    output = run_tap(config, ["object_types"])
    records = output.records["object_types"]
    truth = sandbox.truth("object_types", config)

    assert len(records) == len(truth)
    assert by_key(records, "id") == by_key(truth, "id")
    assert all(isinstance(r["id"], int) for r in records)


@pytest.fixture(scope="module")
def objects_run(sandbox):
    """One run of the objects stream, with the request counts it caused."""
    sandbox.clear_requests()
    config = base_config(sandbox)
    output = run_tap(config, ["objects"])
    counts = {
        "object_types": sandbox.request_count(r"^/v1/object_types$"),
        "search": sandbox.request_count(r"^/v1/objects$"),
        "attributes": sandbox.request_count(r"^/v1/objects/[^/]+/[^/]+/attributes$"),
        "attributes_404": sandbox.request_count(r"/attributes$", status=404),
        "slashed_id": sandbox.request_count(r"^/v1/objects/\d+/a%2Fb%2Fc/attributes$"),
    }
    return config, output, counts


def test_objects_match_truth(sandbox, objects_run):
    config, output, _ = objects_run
    records = output.records["objects"]
    truth = sandbox.truth("objects", config)

    assert len(records) == len(truth)
    assert len(by_key(records, *OBJECT_KEY)) == len(records)
    assert by_key(records, *OBJECT_KEY) == by_key(truth, *OBJECT_KEY)
    assert "object_types" not in output.records


def test_objects_keep_attribute_names(objects_run):
    _, output, _ = objects_run
    attributes = [r["attributes"] for r in output.records["objects"]]

    assert any("plan.tier" in a for a in attributes)
    assert any("account owner" in a for a in attributes)
    assert any(a.get("address") == {"city": "Kraków", "zip": None} for a in attributes)
    assert {} in attributes


def test_objects_ids_url_encoded(objects_run):
    _, output, counts = objects_run
    emitted = {r["object_id"] for r in output.records["objects"]}
    shared = [r for r in output.records["objects"] if r["object_id"] == SHARED_OBJECT_ID]

    assert set(HARD_OBJECT_IDS) <= emitted
    assert len({r["object_type_id"] for r in shared}) == 2
    assert counts["attributes_404"] == 0
    assert counts["slashed_id"] == 1
    assert "skipped object" not in output.log


def test_objects_request_count(sandbox, objects_run):
    _, _, counts = objects_run
    objects = sandbox.workspace.data["objects"]

    assert counts["object_types"] == 1
    assert counts["search"] == len(objects)
    assert counts["attributes"] == sum(len(v) for v in objects.values())


def test_objects_follow_every_page(sandbox, monkeypatch):
    monkeypatch.setattr(ObjectsStream, "page_size", 7)
    sandbox.clear_requests()
    config = base_config(sandbox)
    output = run_tap(config, ["objects"])
    sizes = [len(v) for v in sandbox.workspace.data["objects"].values()]

    assert max(sizes) > 7
    assert 0 in sizes
    assert sandbox.request_count(r"^/v1/objects$") == sum(max(1, math.ceil(n / 7)) for n in sizes)
    keys = by_key(output.records["objects"], *OBJECT_KEY).keys()
    assert keys == by_key(sandbox.truth("objects", config), *OBJECT_KEY).keys()


def test_objects_deleted_after_search(fresh_sandbox):
    type_id, objects = next(iter(fresh_sandbox.workspace.data["objects"].items()))
    deleted_id = objects[0]["object_id"]
    fresh_sandbox.add_fault(
        "404", path=f"^/v1/objects/{type_id}/{quote(deleted_id, safe='')}/attributes$", count=1
    )
    config = base_config(fresh_sandbox)
    output = run_tap(config, ["objects"])
    emitted = by_key(output.records["objects"], *OBJECT_KEY)
    expected = by_key(fresh_sandbox.truth("objects", config), *OBJECT_KEY)

    assert (type_id, deleted_id) not in emitted
    assert emitted.keys() == expected.keys() - {(type_id, deleted_id)}
    assert "skipped object" in output.log


def test_objects_attributes_without_key_retried(fresh_sandbox):
    type_id, objects = next(iter(fresh_sandbox.workspace.data["objects"].items()))
    path = f"^/v1/objects/{type_id}/{quote(objects[0]['object_id'], safe='')}/attributes$"
    fresh_sandbox.add_fault("no_envelope", path=path, count=1)
    config = base_config(fresh_sandbox)
    output = run_tap(config, ["objects"])
    emitted = by_key(output.records["objects"], *OBJECT_KEY)

    assert fresh_sandbox.request_count(path) == 2
    assert emitted == by_key(fresh_sandbox.truth("objects", config), *OBJECT_KEY)
    assert "no 'object' key in the body" in output.log
