"""The benchmark harness completes its smallest scenario (a smoke check, not a timing)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_smoke_scenario_completes(tmp_path):
    report = tmp_path / "smoke.md"
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--scenario", "smoke", "--output", str(report)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr[-2000:]
    results = json.loads(report.with_suffix(".json").read_text())
    assert len(results) == 1
    assert results[0]["records"] > 0
    assert results[0]["requests"] > 0
    assert "| smoke | tap |" in report.read_text()
