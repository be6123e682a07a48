"""Load the tap's output into a real PostgreSQL server through target-postgres.

Each test pipes the tap CLI into ``meltanolabs-target-postgres`` (a pinned PyPI
release in its own virtual environment) and reads the tables back with psql. The
streams come from the discovered catalog, so a stream added to the tap is checked
without editing this file.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pytest

from sandbox import Sandbox
from tests.helpers import base_config
from tests.postgres_fixtures import (
    Postgres,
    discover_catalog,
    new_schema_name,
    postgres,
    run_pipeline,
    target_postgres,
)

__all__ = ["postgres", "target_postgres"]  # fixtures used by the tests below

TIMESTAMP = {"timestamp without time zone", "timestamp with time zone"}
INTEGER = {"bigint", "integer", "smallint"}
BOOLEAN = {"boolean"}
JSON = {"jsonb", "json"}
NUMERIC = {"numeric", "double precision", "real"}
TEXT = {"text", "character varying"}
# Arrays are checked by their element type: information_schema names an
# array column's type "ARRAY" and its element type in udt_name ("_int8").
INTEGER_ARRAY = {"_int8", "_int4", "_int2"}
TEXT_ARRAY = {"_text", "_varchar"}
JSON_ARRAY = {"_jsonb", "_json"}

#: A hand-picked column per kind of value for each stream: what a user joins and
#: filters on. Every other column is checked against its JSON schema.
REPRESENTATIVE_COLUMNS: dict[str, dict[str, set[str]]] = {
    "campaigns": {
        "id": INTEGER,
        "created": TIMESTAMP,
        "active": BOOLEAN,
        "audience": JSON,
        "object_attribute_triggers": JSON,
        "tags": TEXT_ARRAY,
        "trigger_segment_ids": INTEGER_ARRAY,
        "actions": JSON_ARRAY,
    },
    "campaign_actions": {"campaign_id": INTEGER, "id": INTEGER, "updated": TIMESTAMP},
    "newsletters": {"id": INTEGER, "created": TIMESTAMP, "content_ids": INTEGER_ARRAY},
    "newsletter_variants": {"newsletter_id": INTEGER, "id": INTEGER, "fake_bcc": BOOLEAN},
    "newsletter_test_groups": {"newsletter_id": INTEGER, "winner": BOOLEAN},
    "broadcasts": {"id": INTEGER, "updated": TIMESTAMP, "active": BOOLEAN},
    "broadcast_actions": {"broadcast_id": INTEGER, "id": INTEGER, "created": TIMESTAMP},
    "broadcast_triggers": {"broadcast_id": INTEGER, "processed_at": TIMESTAMP},
    "transactional_messages": {"id": INTEGER, "updated_at": TIMESTAMP, "link_tracking": BOOLEAN},
    "transactional_variants": {"transactional_id": INTEGER, "id": INTEGER},
    "segments": {"id": INTEGER, "conditions": JSON, "progress": NUMERIC, "updated_at": TIMESTAMP},
    "segment_memberships": {"segment_id": INTEGER, "cio_id": TEXT},
}

LOG_PROBLEM = re.compile(r"\| (WARNING|ERROR|CRITICAL)\s*\|")
DELETED_AT = "_sdc_deleted_at"


# Schema and value helpers -------------------------------------------------------------


def json_types(schema: dict) -> set[str]:
    """Return the non-null JSON types a property schema allows, anyOf included."""
    types: set[str] = set()
    declared = schema.get("type", [])
    types.update([declared] if isinstance(declared, str) else declared)
    for option in schema.get("anyOf", []):
        types |= json_types(option)
    types.discard("null")
    return types


def is_date_time(schema: dict) -> bool:
    """Tell whether a property schema is a date-time string."""
    options = [schema, *schema.get("anyOf", [])]
    return any(option.get("format") == "date-time" for option in options)


def expected_column_type(schema: dict) -> tuple[str, set[str]] | None:
    """Return which information_schema field to check and the SQL types a schema promises.

    Returns None for a schema shape the table above does not cover.
    """
    types = json_types(schema)
    if is_date_time(schema):
        return "data_type", TIMESTAMP
    if schema.get("format") == "date":
        return "data_type", {"date"}
    if types & {"object", "array"} and len(types) > 1:
        return "data_type", JSON
    if "string" in types and len(types) > 1:
        # target-postgres stores a union of scalars in its widest type, text.
        return "data_type", TEXT
    if types == {"array"}:
        items = json_types(schema.get("items", {}))
        if items == {"integer"}:
            return "udt_name", INTEGER_ARRAY
        if items == {"string"}:
            return "udt_name", TEXT_ARRAY
        return "udt_name", JSON_ARRAY | {"jsonb", "json"}
    simple = {
        frozenset({"integer"}): INTEGER,
        frozenset({"boolean"}): BOOLEAN,
        frozenset({"object"}): JSON,
        frozenset({"number"}): NUMERIC,
        frozenset({"integer", "number"}): NUMERIC,
        frozenset({"string"}): TEXT,
    }
    expected = simple.get(frozenset(types))
    return None if expected is None else ("data_type", expected)


def comparable(value: object, schema: dict) -> object:
    """Bring a truth value and a loaded value to one form: UTC datetimes, floats."""
    if value is None:
        return None
    if is_date_time(schema) and isinstance(value, str):
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
        return parsed
    if (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and "number" in json_types(schema)
    ):
        return float(value)
    return value


# Loading ------------------------------------------------------------------------------


@dataclass
class Stream:
    """One catalog entry: name, primary key, replication method and properties."""

    name: str
    keys: list[str]
    full_table: bool
    properties: dict[str, dict]

    def key_of(self, record: dict) -> tuple:
        """Return the primary key, with date-times in one comparable form."""
        return tuple(comparable(record.get(k), self.properties.get(k, {})) for k in self.keys)


def catalog_streams(catalog: dict) -> dict[str, Stream]:
    """Index the discovered catalog by stream name."""
    streams = {}
    for entry in catalog["streams"]:
        root = next(m["metadata"] for m in entry["metadata"] if m["breadcrumb"] == [])
        method = entry.get("replication_method") or root.get("forced-replication-method")
        streams[entry["tap_stream_id"]] = Stream(
            name=entry["tap_stream_id"],
            keys=list(entry.get("key_properties") or root.get("table-key-properties") or []),
            full_table=method == "FULL_TABLE",
            properties=entry["schema"]["properties"],
        )
    return streams


@dataclass
class Snapshot:
    """The tables of one schema after a run, with the sandbox truth at that time."""

    rows: dict[str, list[dict]] = field(default_factory=dict)
    columns: dict[str, dict[str, dict]] = field(default_factory=dict)
    truth: dict[str, list[dict]] = field(default_factory=dict)


def take_snapshot(
    db: Postgres, schema: str, streams: dict[str, Stream], source: Sandbox, config: dict
) -> Snapshot:
    """Read every stream's table and the matching sandbox truth."""
    snapshot = Snapshot()
    for name in streams:
        snapshot.truth[name] = source.truth(name, config)
        snapshot.columns[name] = db.columns(schema, name)
        snapshot.rows[name] = db.table_rows(schema, name) if snapshot.columns[name] else []
    return snapshot


def assert_clean_log(log: str, label: str) -> None:
    problems = [line for line in log.splitlines() if LOG_PROBLEM.search(line)]
    assert not problems, f"{label} logged {len(problems)} problem(s):\n" + "\n".join(problems[:20])


@dataclass
class TwoRuns:
    """A first load, a sandbox change, and a second load with the first run's STATE."""

    streams: dict[str, Stream]
    first: Snapshot
    second: Snapshot
    renamed_campaign: dict
    removed_member: dict
    target_logs: list[tuple[str, str]]


def rename_campaign(source: Sandbox) -> dict:
    """Rename the first campaign and move its update time past every bookmark."""
    campaign = source.workspace.data["campaigns"][0]
    campaign["name"] = "Renamed — ünïcode"
    campaign["updated"] = int(time.time()) + 5
    return campaign


def remove_member(source: Sandbox) -> dict:
    """Remove one person from the largest segment, as leaving a segment does."""
    members = source.workspace.data["segment_members"]
    segment_id = max(members, key=lambda s: len(members[s]))
    member = members[segment_id].pop(len(members[segment_id]) // 2)
    return dict(member, segment_id=segment_id)


@pytest.fixture(scope="module")
def two_runs(postgres, target_postgres, tmp_path_factory):
    """Load every stream, change the sandbox, and load again from the STATE."""
    workdir = tmp_path_factory.mktemp("load")
    schema = new_schema_name("load")
    target_config = postgres.target_config(schema)
    with Sandbox(seed=11, rate_limit=None) as source:
        config = base_config(source, emit_activate_version_messages=True)
        catalog = discover_catalog(config, workdir)
        streams = catalog_streams(catalog)
        try:
            first_run = run_pipeline(
                target_postgres, config, catalog, target_config, workdir / "first"
            )
            first = take_snapshot(postgres, schema, streams, source, config)

            renamed = rename_campaign(source)
            removed = remove_member(source)
            second_run = run_pipeline(
                target_postgres,
                config,
                catalog,
                target_config,
                workdir / "second",
                state=first_run.state,
            )
            second = take_snapshot(postgres, schema, streams, source, config)
        finally:
            postgres.drop_schema(schema)
    yield TwoRuns(
        streams=streams,
        first=first,
        second=second,
        renamed_campaign=dict(renamed),
        removed_member=removed,
        target_logs=[
            ("first run target", first_run.target_log),
            ("second run target", second_run.target_log),
        ],
    )


# Tests --------------------------------------------------------------------------------


def test_load_target_logs_clean(two_runs):
    for label, log in two_runs.target_logs:
        assert_clean_log(log, label)


def test_load_row_counts(two_runs):
    first = two_runs.first
    assert two_runs.streams, "the catalog has no streams"
    for name, stream in two_runs.streams.items():
        assert first.columns[name], f"no table was created for stream {name}"
        truth_keys = sorted(map(stream.key_of, first.truth[name]), key=repr)
        loaded_keys = sorted(map(stream.key_of, first.rows[name]), key=repr)
        assert len(first.rows[name]) == len(first.truth[name]), f"row count of {name}"
        assert loaded_keys == truth_keys, f"primary keys of {name} differ from the sandbox"


def test_load_values(two_runs):
    first = two_runs.first
    for name, stream in two_runs.streams.items():
        rows = {stream.key_of(row): row for row in first.rows[name]}
        for record in first.truth[name]:
            row = rows[stream.key_of(record)]
            for column, schema in stream.properties.items():
                expected = comparable(record.get(column), schema)
                loaded = comparable(row.get(column), schema)
                assert loaded == expected, (
                    f"{name}.{column} of {stream.key_of(record)}: loaded {row.get(column)!r}, "
                    f"the tap emitted {record.get(column)!r}"
                )


def test_load_column_types(two_runs):
    columns = two_runs.first.columns
    unchecked = []
    for name, stream in two_runs.streams.items():
        for column, schema in stream.properties.items():
            assert column in columns[name], f"{name}.{column} has no column"
            expected = expected_column_type(schema)
            if expected is None:
                unchecked.append(f"{name}.{column}")
                continue
            field_name, allowed = expected
            actual = columns[name][column][field_name]
            assert actual in allowed, (
                f"{name}.{column}: schema {schema} loaded as {actual}, expected one of "
                f"{sorted(allowed)}"
            )
    assert not unchecked, f"no expected SQL type for the schema of {unchecked}"


def test_load_date_times_as_timestamps(two_runs):
    columns = two_runs.first.columns
    date_times = [
        (name, column)
        for name, stream in two_runs.streams.items()
        for column, schema in stream.properties.items()
        if is_date_time(schema)
    ]
    assert date_times, "no stream declares a date-time property"
    for name, column in date_times:
        assert columns[name][column]["data_type"] in TIMESTAMP, f"{name}.{column}"


def test_load_representative_columns(two_runs):
    columns = two_runs.first.columns
    for name, expected in REPRESENTATIVE_COLUMNS.items():
        assert name in two_runs.streams, f"stream {name} is missing from the catalog"
        for column, allowed in expected.items():
            info = columns[name][column]
            actual = info["udt_name"] if info["data_type"] == "ARRAY" else info["data_type"]
            assert actual in allowed, f"{name}.{column} loaded as {actual}"


def test_second_run_no_duplicates(two_runs):
    first, second = two_runs.first, two_runs.second
    for name, stream in two_runs.streams.items():
        keys = [stream.key_of(row) for row in second.rows[name]]
        assert len(keys) == len(set(keys)), f"{name} holds duplicate primary keys"
        assert len(second.rows[name]) == len(first.rows[name]), f"row count of {name} changed"


def test_second_run_updates_row(two_runs):
    renamed = two_runs.renamed_campaign
    rows = {row["id"]: row for row in two_runs.second.rows["campaigns"]}
    row = rows[renamed["id"]]
    assert row["name"] == renamed["name"]
    loaded = datetime.fromisoformat(row["updated"]).replace(tzinfo=timezone.utc)
    assert int(loaded.timestamp()) == renamed["updated"]


def test_activate_version_soft_deletes(two_runs):
    # target-postgres documents hard_delete=false as its default: rows missing from
    # a new table version get a time in _sdc_deleted_at instead of being removed.
    second = two_runs.second
    full_table = [s for s in two_runs.streams.values() if s.full_table]
    assert any(s.name == "segment_memberships" for s in full_table)
    for stream in full_table:
        live = [row for row in second.rows[stream.name] if row[DELETED_AT] is None]
        live_keys = sorted(map(stream.key_of, live), key=repr)
        truth_keys = sorted(map(stream.key_of, second.truth[stream.name]), key=repr)
        assert live_keys == truth_keys, f"live rows of {stream.name} differ from the sandbox"

    removed = two_runs.removed_member
    memberships = two_runs.streams["segment_memberships"]
    rows = {memberships.key_of(r): r for r in second.rows["segment_memberships"]}
    row = rows[memberships.key_of(removed)]
    assert row[DELETED_AT] is not None, "the removed member is not marked deleted"


def test_activate_version_hard_delete(postgres, target_postgres, fresh_sandbox, tmp_path: Path):
    schema = new_schema_name("hard")
    target_config = postgres.target_config(schema, hard_delete=True)
    config = base_config(fresh_sandbox, emit_activate_version_messages=True)
    catalog = discover_catalog(config, tmp_path)
    streams = catalog_streams(catalog)
    # One stream keeps the test short; the SDK still reads the parent for the ids.
    # The soft-delete test above covers every full-table stream.
    for entry in catalog["streams"]:
        root = next(m for m in entry["metadata"] if m["breadcrumb"] == [])
        root["metadata"]["selected"] = entry["tap_stream_id"] == "segment_memberships"
    memberships = streams["segment_memberships"]
    try:
        first = run_pipeline(target_postgres, config, catalog, target_config, tmp_path / "1")
        removed = remove_member(fresh_sandbox)
        run_pipeline(
            target_postgres, config, catalog, target_config, tmp_path / "2", state=first.state
        )
        rows = postgres.table_rows(schema, "segment_memberships")
    finally:
        postgres.drop_schema(schema)

    truth = fresh_sandbox.truth("segment_memberships", config)
    assert sorted(map(memberships.key_of, rows), key=repr) == sorted(
        map(memberships.key_of, truth), key=repr
    )
    assert memberships.key_of(removed) not in set(map(memberships.key_of, rows))


def test_batch_jsonl_gzip_loads(postgres, target_postgres, sandbox, tmp_path: Path):
    schema = new_schema_name("batch")
    batch_config = {
        "encoding": {"format": "jsonl", "compression": "gzip"},
        "storage": {"root": (tmp_path / "batches").as_uri(), "prefix": "batch-"},
    }
    (tmp_path / "batches").mkdir()
    config = base_config(sandbox, batch_config=batch_config)
    catalog = discover_catalog(config, tmp_path)
    streams = catalog_streams(catalog)
    try:
        run = run_pipeline(
            target_postgres, config, catalog, postgres.target_config(schema), tmp_path / "run"
        )
        counts = {name: postgres.count(schema, name) for name in streams}
    finally:
        postgres.drop_schema(schema)

    assert list((tmp_path / "batches").glob("batch-*.json.gz")), "the tap wrote no batch files"
    assert_clean_log(run.target_log, "target")
    for name in streams:
        assert counts[name] == len(sandbox.truth(name, config)), f"row count of {name}"
