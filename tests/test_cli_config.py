"""The CLI reads settings from a JSON file as Meltano writes it."""

from __future__ import annotations

import json
import subprocess
import sys


def test_decimal_settings_accepted(tmp_path, sandbox):
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "api_key": sandbox.api_key,
                "api_url": sandbox.url,
                "max_requests_per_second": 12.5,
                "request_timeout": 30.0,
            }
        )
    )
    completed = subprocess.run(
        [sys.executable, "-m", "tap_customerio", "--config", str(config), "--discover"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr[-2000:]
    streams = {s["tap_stream_id"] for s in json.loads(completed.stdout)["streams"]}
    assert "campaigns" in streams
