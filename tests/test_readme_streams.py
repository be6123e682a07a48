"""The README stream table is generated from the stream classes and stays true."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tap_customerio.client import CustomerIOStream
from tap_customerio.streams import STREAM_TYPES
from tests.helpers import base_config, run_tap
from tests.test_sync_log import summary_rows

ROOT = Path(__file__).resolve().parent.parent
#: Top-level fields that identify or contact a person wherever they occur.
PERSONAL_FIELDS = {
    "email",
    "user_email",
    "created_by",
    "customer_id",
    "customer_identifiers",
    "cio_id",
    "phone",
}


def load_updater():
    """Import scripts/update_readme_streams.py, which is not a package module."""
    path = ROOT / "scripts" / "update_readme_streams.py"
    spec = importlib.util.spec_from_file_location("update_readme_streams", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def table_rows(table: str) -> dict[str, list[str]]:
    rows = {}
    for line in table.splitlines()[2:]:
        cells = [cell.strip() for cell in line.strip("|").split(" | ")]
        rows[cells[0].strip("`")] = cells
    return rows


def test_streams_table_current():
    updater = load_updater()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")

    assert updater.replace_table(readme, updater.streams_table()) == readme


def test_streams_table_lists_every_stream():
    rows = table_rows(load_updater().streams_table())

    assert list(rows) == [stream_class.name for stream_class in STREAM_TYPES]
    for stream_class in STREAM_TYPES:
        assert f"/v1{stream_class.path}`" in rows[stream_class.name][1]


def test_streams_table_methods():
    rows = table_rows(load_updater().streams_table())

    assert rows["customers"][4] == "FULL_TABLE"
    assert rows["campaigns"][4] == "INCREMENTAL: client-side filter"
    assert rows["messages"][4] == "INCREMENTAL: server-side window"
    assert rows["activities"][4] == "INCREMENTAL: newest first, stops at the bookmark"
    assert rows["newsletter_metrics"][4].startswith("INCREMENTAL: server-side window")
    assert rows["customers"][1] == "`POST /v1/customers`, `POST /v1/customers/attributes`"


def test_stale_streams_table_detected():
    updater = load_updater()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    stale = readme.replace("| `customers` | `POST", "| `people` | `POST")

    assert stale != readme
    assert updater.replace_table(stale, updater.streams_table()) == readme


def test_missing_annotation_rejected():
    updater = load_updater()

    class UndocumentedStream(CustomerIOStream):
        name = "undocumented"
        path = "/undocumented"
        primary_keys = ("id",)
        replication_key = "updated"

    with pytest.raises(ValueError, match="incremental_method"):
        updater.streams_table([UndocumentedStream])
    UndocumentedStream.client_side_filter = True
    with pytest.raises(ValueError, match="has no personal_data"):
        updater.streams_table([UndocumentedStream])


@pytest.mark.parametrize("stream_class", STREAM_TYPES, ids=lambda c: c.name)
def test_personal_fields_documented(stream_class):
    fields = set(stream_class.schema["properties"]) & PERSONAL_FIELDS

    if fields:
        assert not stream_class.personal_data.startswith("no"), sorted(fields)


def test_one_request_streams_cost(sandbox):
    names = [c.name for c in STREAM_TYPES if c.request_cost == "1 per run"]

    output = run_tap(base_config(sandbox), names)

    rows = summary_rows(output.log)
    assert len(names) >= 10
    for name in names:
        assert rows[name]["requests"] == "1", name
