"""People: search plus batched attribute reads, request economy and hard cases."""

from __future__ import annotations

import math

import pytest

from sandbox import Sandbox
from tap_customerio.prefetch import Prefetcher
from tests.helpers import base_config, by_key, run_tap

SEARCH = r"^/v1/customers$"
ATTRIBUTES = r"^/v1/customers/attributes$"


def test_customers_match_truth(sandbox):
    config = base_config(sandbox)
    output = run_tap(config, ["customers"])
    records = output.records["customers"]
    truth = sandbox.truth("customers", config)

    assert len(records) == len(truth)
    emitted = by_key(records, "cio_id")
    assert len(emitted) == len(records)
    for expected in truth:
        assert emitted[(expected["cio_id"],)] == expected


def test_customers_hard_cases_intact(sandbox):
    records = run_tap(base_config(sandbox), ["customers"]).records["customers"]
    attributes = [r["attributes"] for r in records]

    assert any("id" not in a for a in attributes)
    assert any("address.city" in a for a in attributes)
    assert any("favourite colour" in a for a in attributes)
    assert any(not a["first_name"].isascii() for a in attributes)
    assert any("+" in a.get("email", "") for a in attributes)
    assert any("identifiers" not in r for r in records)
    assert all(isinstance(v, str) for a in attributes for v in a.values())
    assert all(r["cio_id"] == r["attributes"]["cio_id"] for r in records)
    unsegmented = [p for p in sandbox.workspace.data["people"] if not p["_segment_ids"]]
    assert unsegmented
    assert {p["identifiers"]["cio_id"] for p in unsegmented} <= {r["cio_id"] for r in records}


@pytest.mark.parametrize("people", [250, 2150])
@pytest.mark.parametrize("concurrency", [1, 8])
def test_customers_request_counts(people, concurrency):
    scale = {"people": people, "deliveries": 10}
    with Sandbox(seed=3, rate_limit=None, scale=scale) as server:
        config = base_config(server, max_concurrent_requests=concurrency)
        output = run_tap(config, ["customers"])
        searches = server.request_count(SEARCH)
        reads = server.request_count(ATTRIBUTES)
        order = ["search" if r.path == "/v1/customers" else "read" for r in server.requests]
        search_limits = {r.query.get("limit") for r in server.requests if r.path == "/v1/customers"}

    assert len({r["cio_id"] for r in output.records["customers"]}) == people
    assert searches == math.ceil(people / 1000)
    assert reads == math.ceil(people / 100)
    assert search_limits == {"1000"}
    positions = [i for i, kind in enumerate(order) if kind == "search"]
    if concurrency == 1:
        # Each search page is read out (at most 10 attribute reads) before the next page.
        assert positions == [i * 11 for i in range(searches)]
    else:
        # The next page is searched at most the lookahead's batches early.
        lookahead = Prefetcher(concurrency).lookahead
        for page, position in enumerate(positions):
            reads_before = position - page
            assert reads_before >= page * 10 - lookahead
