"""The fast record path gives the same records as the SDK's path it replaces.

The compiled fitter must return what ``fit_record`` returns, the day-cached epoch
conversion what ``datetime`` returns, the msgspec parser what ``json.loads``
returns, and the SDK's recursive conformance must leave fitted records unchanged
wherever the tap skips it.
"""

from __future__ import annotations

import json
import logging
import math
from datetime import datetime, timezone

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from singer_sdk.helpers._typing import conform_record_data_types
from singer_sdk.helpers.conform import TypeConformanceLevel

from sandbox.workspace import Workspace
from tap_customerio.client import decode_json
from tap_customerio.conform import (
    _int_epoch_to_iso,
    compile_record_fitter,
    fit_record,
    sdk_conformance_redundant,
)
from tap_customerio.streams import STREAM_TYPES

from .helpers import base_config, run_tap, selected_catalog

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SCHEMAS = {cls.name: cls.schema for cls in STREAM_TYPES}
WORKSPACE = Workspace.generate(seed=11, now=1_790_000_000)
DELIVERY = WORKSPACE.data["deliveries"][0]
CAMPAIGN = WORKSPACE.data["campaigns"][0]
LOGGER = logging.getLogger("test_conformance")

leaves = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["12", " 7 ", "true", "2026-02-30T00:00:00Z", "1700000000", '{"a": 1}'])
)
json_values = st.recursive(
    leaves,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(["id", "email", "cio_id", "x", "sent"]), children)
    ),
    max_leaves=10,
)


def records(base: dict):
    names = sorted({*base, "brand_new"})
    return st.dictionaries(st.sampled_from(names), json_values, max_size=6).map(
        lambda changes: {**base, **changes}
    )


def same(left, right) -> bool:
    """Equality that treats NaN as equal to NaN (the fit keeps NaN where untyped)."""
    return json.dumps(left, sort_keys=True) == json.dumps(right, sort_keys=True)


@FUZZ
@given(stream=st.sampled_from(sorted(SCHEMAS)), record=records(DELIVERY))
@example(stream="messages", record={**DELIVERY, "created": "1700000000", "metrics": "{}"})
@example(stream="messages", record={**DELIVERY, "customer_identifiers": {"id": 7, "x": 1}})
def test_compiled_fit_matches_fit_record(stream, record):
    schema = SCHEMAS[stream]

    fast, fast_report = compile_record_fitter(schema)(dict(record))
    slow, slow_report = fit_record(dict(record), schema)

    assert same(fast, slow)
    assert [path for path, _ in fast_report.misfits] == [path for path, _ in slow_report.misfits]
    assert fast_report.new_fields == slow_report.new_fields


@FUZZ
@given(stream=st.sampled_from(sorted(SCHEMAS)), record=records(CAMPAIGN) | records(DELIVERY))
def test_sdk_conformance_redundant_after_fit(stream, record):
    schema = SCHEMAS[stream]
    fitted, _ = fit_record(record, schema)

    conformed = conform_record_data_types(
        stream, fitted, schema, TypeConformanceLevel.RECURSIVE, LOGGER
    )

    assert sdk_conformance_redundant(schema)
    assert same(conformed, fitted)


def test_sdk_conformance_needed_where_keys_dropped():
    closed = {"type": "object", "properties": {"a": {"type": ["object"], "properties": {}}}}
    untyped = {"type": "object", "additionalProperties": True, "properties": {"a": {}}}

    assert not sdk_conformance_redundant(closed)
    assert not sdk_conformance_redundant(untyped)


@FUZZ
@given(st.integers(-62_135_596_800 - 86_400, 253_402_300_799 + 86_400))
@example(0)
@example(-1)
@example(253_402_300_799)
@example(-62_135_596_800)
def test_epoch_text_matches_datetime(seconds):
    try:
        expected = datetime.fromtimestamp(seconds, tz=timezone.utc).isoformat()
    except (OverflowError, OSError, ValueError):
        expected = None

    assert _int_epoch_to_iso(seconds) == expected


@FUZZ
@given(json_values)
@example(float("nan"))
@example(2**80)
def test_decode_matches_json_loads(value):
    text = json.dumps({"messages": [value]}).encode()

    assert same(decode_json(text), json.loads(text))


def test_decode_falls_back_for_lone_surrogate():
    text = b'{"subject": "\\ud800", "n": NaN}'

    decoded = decode_json(text)

    assert decoded["subject"] == "\ud800"
    assert math.isnan(decoded["n"])


def test_stock_and_fast_records_equal(sandbox):
    import benchmarks.stock_tap as stock

    config = base_config(sandbox, start_date="2000-01-01T00:00:00Z")
    fast = run_tap(config, ["messages", "customers", "campaigns"]).records
    saved = stock.apply_stock_path()
    try:
        slow = run_tap(config, ["messages", "customers", "campaigns"]).records
    finally:
        stock.restore(saved)

    assert fast.keys() == slow.keys() == {"messages", "customers", "campaigns"}
    for name in fast:
        # Deliveries windows are read concurrently, so their order varies between runs.
        assert sorted(fast[name], key=repr) == sorted(slow[name], key=repr), name


def test_deselected_fields_removed(sandbox):
    config = base_config(sandbox, start_date="2000-01-01T00:00:00Z")
    catalog = selected_catalog(config, ["messages"])
    entry = next(e for e in catalog["streams"] if e["tap_stream_id"] == "messages")
    for metadata in entry["metadata"]:
        if metadata["breadcrumb"] in (
            ["properties", "subject"],
            ["properties", "customer_identifiers", "properties", "email"],
        ):
            metadata["metadata"]["selected"] = False

    emitted = run_tap(config, catalog=catalog).records["messages"]

    assert len(emitted) == len(sandbox.truth("messages", config))
    assert all("subject" not in r for r in emitted)
    assert all("email" not in (r["customer_identifiers"] or {}) for r in emitted)
    assert any("id" in (r["customer_identifiers"] or {}) for r in emitted)
