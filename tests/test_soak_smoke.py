"""The soak's quick mode loses no record under faults (a correctness check, not a timing)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.soak import StreamInfo, expected_keys, key_of

ROOT = Path(__file__).resolve().parent.parent


def test_quick_soak_loses_nothing(tmp_path):
    report = tmp_path / "soak.md"
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.soak", "--quick", "--output", str(report)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    result = json.loads(report.with_suffix(".json").read_text())
    full, incremental = result["passes"]
    assert (full["kind"], incremental["kind"]) == ("full", "incremental")
    assert full["completed"]
    assert incremental["completed"]
    assert result["lost"] == 0
    assert result["foreign"] == 0
    assert full["expected"] > 0
    assert full["unique"] == full["expected"]
    # The faults fired: the outage outlasted the retry budget and the run resumed.
    assert len(full["runs"]) >= 2
    assert sum(result["retries"].values()) > 0
    assert result["statuses"]["429"] + result["statuses"]["503"] > 0


def test_bookmark_sets_required_records():
    info = StreamInfo(keys=["campaign_id", "id"], replication_key="updated")
    truth = [
        {"campaign_id": 1, "id": 1, "updated": "2026-01-01T00:00:00+00:00"},
        {"campaign_id": 1, "id": 2, "updated": "2026-03-01T00:00:00+00:00"},
        {"campaign_id": 2, "id": 3, "updated": "2026-01-01T00:00:00+00:00"},
    ]
    bookmark = {
        "partitions": [
            {"context": {"campaign_id": 1}, "replication_key_value": "2026-02-01T00:00:00+00:00"}
        ]
    }

    required, allowed = expected_keys(truth, info, bookmark)

    keys = [key_of(record, info.keys) for record in truth]
    assert required == {keys[1], keys[2]}
    assert allowed == set(keys)
