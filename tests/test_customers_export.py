"""People through the Exports API: job, polling, download and the file parser."""

from __future__ import annotations

import gzip

import pytest

from tap_customerio.streams import customers_export
from tap_customerio.streams.customers_export import ExportFormatError, parse_rows
from tap_customerio.tap import check_settings
from tests.helpers import base_config, by_key, run_tap

CSV = (
    "\ufeffcio_id,id,email,address.city,note\r\n"
    'a1,user-1,zoe@exämple.com,Zürich,"two\nlines"\r\n'
    "a2,,,,\r\n"
).encode()


@pytest.fixture
def quick_polls(monkeypatch):
    """Check the export status without the production wait."""
    monkeypatch.setattr(customers_export, "POLL_FIRST_SECONDS", 0.01)


def test_export_matches_truth(fresh_sandbox, quick_polls):
    config = base_config(fresh_sandbox, customers_method="export")
    output = run_tap(config, ["customers"])
    records = output.records["customers"]
    truth = fresh_sandbox.truth("customers", config)

    assert len(truth) > 100
    assert len(records) == len(truth)
    assert by_key(records, "cio_id") == by_key(truth, "cio_id")


def test_export_request_count(fresh_sandbox, quick_polls):
    config = base_config(fresh_sandbox, customers_method="export")
    run_tap(config, ["customers"])

    assert fresh_sandbox.request_count(r"^/v1/customers") == 0
    assert fresh_sandbox.request_count(r"^/v1/exports/customers$") == 1
    assert fresh_sandbox.request_count(r"^/v1/exports/\d+$") == 2
    assert fresh_sandbox.request_count(r"^/v1/exports/\d+/download$") == 1


def test_export_unknown_format_fails(fresh_sandbox, quick_polls):
    fresh_sandbox.workspace.data["export_format"] = "jsonl"
    config = base_config(fresh_sandbox, customers_method="export")

    with pytest.raises(ExportFormatError) as caught:
        run_tap(config, ["customers"])

    message = str(caught.value)
    assert message.startswith("Stream 'customers': the file of export ")
    assert "cio_id column" in message
    assert "customers_method to 'api'" in message
    assert "\n" not in message
    assert "signature" not in message


def test_export_failed_job_fails(fresh_sandbox, quick_polls):
    def fail_jobs(workspace):
        for found in workspace.data["people_exports"].values():
            found["job"]["failed"] = True

    fresh_sandbox.after_request(r"^/v1/exports/customers$", fail_jobs)
    config = base_config(fresh_sandbox, customers_method="export")

    with pytest.raises(Exception, match=r"^Stream 'customers': export \d+ failed"):
        run_tap(config, ["customers"])


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("gzipped", [False, True])
@pytest.mark.parametrize("size", [1, 7, 10_000])
def test_parse_rows_chunks(gzipped, size):
    data = gzip.compress(CSV) if gzipped else CSV
    rows = list(parse_rows("customers", "the file", chunked(data, size)))

    assert [r["cio_id"] for r in rows] == ["a1", "a2"]
    assert rows[0]["attributes"] == {
        "cio_id": "a1",
        "id": "user-1",
        "email": "zoe@exämple.com",
        "address.city": "Zürich",
        "note": "two\nlines",
    }
    assert rows[1]["identifiers"] == {"cio_id": "a2", "id": None, "email": None}
    assert rows[1]["attributes"] == {"cio_id": "a2"}


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'{"cio_id": "a1"}\n', "cio_id column"),
        (b"", "cio_id column"),
        ("cio_id,name\r\na1,J\xf6rg\r\n".encode("latin-1"), "not UTF-8"),
        (gzip.compress(CSV)[:-12], "gzip"),
        (b"cio_id,id\r\na1\r\n", "has a row of 1 fields"),
    ],
)
def test_parse_rows_rejects(data, reason):
    with pytest.raises(ExportFormatError, match=reason) as caught:
        list(parse_rows("customers", "the file", chunked(data, 5)))

    assert "\n" not in str(caught.value)


def test_customers_method_checked():
    errors = check_settings({"api_key": "k", "customers_method": "bulk"})

    assert errors == ["customers_method 'bulk' is invalid: use 'api' or 'export'."]
