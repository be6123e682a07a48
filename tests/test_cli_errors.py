"""Bad settings and API failures through the real CLI: one line, exit 1, no traceback."""

from __future__ import annotations

import pytest

from tap_customerio import client
from tap_customerio.client import FatalAPIError
from tests.cli import run_cli, write_json
from tests.helpers import base_config, run_tap, selected_catalog


def assert_one_line_error(run, *needles):
    assert run.returncode != 0
    assert "Traceback" not in run.stderr
    matching = [line for line in run.errors if all(n in line for n in needles)]
    assert len(matching) == 1, run.stderr[-2000:]


BAD_SETTINGS = {
    "missing_key": ({"api_key": None}, ["api_key is missing or empty", "App API key"]),
    "empty_key": ({"api_key": "  "}, ["api_key is missing or empty"]),
    "key_with_newline": ({"api_key": "abc\n"}, ["api_key contains", "copy the App API key"]),
    "unknown_region": ({"region": "ap"}, ["region 'ap' is invalid", "'us' or 'eu'"]),
    "ftp_url": ({"api_url": "ftp://127.0.0.1/v1"}, ["api_url 'ftp://127.0.0.1/v1' is invalid"]),
    "plain_http_remote": (
        {"api_url": "http://api.customer.io/v1"},
        ["api_url 'http://api.customer.io/v1' uses plain http", "use https"],
    ),
    "bad_port": ({"api_url": "http://127.0.0.1:99999/v1"}, ["api_url", "is invalid"]),
    "dates_reversed": (
        {"start_date": "2026-05-01T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"},
        ["end_date '2026-01-01T00:00:00Z' is before start_date", "swap them"],
    ),
    "bad_date": ({"start_date": "last tuesday"}, ["start_date 'last tuesday' is not an ISO 8601"]),
    "text_number": ({"max_retries": "ten"}, ["max_retries 'ten' is invalid"]),
    "zero_rate": ({"max_requests_per_second": 0}, ["max_requests_per_second 0 is invalid"]),
}


@pytest.mark.parametrize("case", sorted(BAD_SETTINGS))
def test_bad_setting_stops_before_requests(fresh_sandbox, tmp_path, case):
    overrides, needles = BAD_SETTINGS[case]
    config = base_config(fresh_sandbox)
    config.update(overrides)
    config = {k: v for k, v in config.items() if v is not None}

    run = run_cli("--config", write_json(tmp_path, "config.json", config))

    assert_one_line_error(run, *needles)
    assert fresh_sandbox.request_count() == 0


@pytest.mark.parametrize(
    ("option", "text", "needles"),
    [
        ("--state", '{"bookmarks": {', ["STATE file", "is not valid JSON", "without --state"]),
        ("--state", "[1, 2]", ["STATE file", "holds a JSON list, not an object"]),
        (
            "--state",
            '{"bookmarks": {"campaigns": {"replication_key": "updated",'
            ' "replication_key_value": "not-a-date"}}}',
            ["STATE file", "bookmark 'not-a-date' for stream 'campaigns'", "ISO 8601"],
        ),
        (
            "--state",
            '{"bookmarks": {"campaign_actions": {"partitions": [{"context": {"campaign_id": 1},'
            ' "replication_key": "updated", "replication_key_value": 12345}]}}}',
            ["STATE file", "bookmark 12345 for stream 'campaign_actions'"],
        ),
        ("--catalog", "{not json}", ["catalog file", "is not valid JSON", "--discover"]),
        ("--catalog", '{"streams": [{"schema": {}}]}', ["catalog file", "tap_stream_id"]),
        ("--config", '{"api_key": ', ["config file", "is not valid JSON"]),
    ],
)
def test_bad_input_file_is_one_line(fresh_sandbox, tmp_path, option, text, needles):
    config = write_json(tmp_path, "config.json", base_config(fresh_sandbox))
    broken = write_json(tmp_path, "broken.json", text)
    args = ["--config", broken] if option == "--config" else ["--config", config, option, broken]

    run = run_cli(*args)

    assert_one_line_error(run, *needles)
    assert fresh_sandbox.request_count() == 0


def test_missing_config_file_is_one_line(tmp_path):
    run = run_cli("--config", str(tmp_path / "absent.json"))

    assert_one_line_error(run, "config file", "cannot be read")


def test_wrong_region_key_suggests_other_region(fresh_sandbox, tmp_path):
    config = base_config(fresh_sandbox, api_key="key-of-an-eu-workspace")

    run = run_cli("--config", write_json(tmp_path, "config.json", config))

    assert_one_line_error(run, "HTTP 401", "https://api-eu.customer.io/v1")
    assert fresh_sandbox.request_count() == 1


def test_401_without_api_url_names_region(fresh_sandbox, monkeypatch):
    # Point the US region at the sandbox, so the region branch runs without api_url.
    monkeypatch.setitem(client.REGION_URLS, "us", fresh_sandbox.url)
    config = base_config(fresh_sandbox, api_key="key-of-an-eu-workspace")
    del config["api_url"]

    with pytest.raises(FatalAPIError) as caught:
        run_tap(config, ["segments"])

    assert "region is 'us', try region 'eu'" in str(caught.value)


def test_forbidden_stream_is_one_line(fresh_sandbox, tmp_path):
    fresh_sandbox.add_fault("403", path=r"/segments$")
    config = base_config(fresh_sandbox)
    catalog = selected_catalog(config, ["campaigns", "segments"])

    run = run_cli(
        "--config",
        write_json(tmp_path, "config.json", config),
        "--catalog",
        write_json(tmp_path, "catalog.json", catalog),
    )

    assert_one_line_error(run, "Stream 'segments': HTTP 403", "deselect the stream")
    assert run.records("campaigns")


def test_env_config_with_number_text(fresh_sandbox, tmp_path):
    catalog = selected_catalog(base_config(fresh_sandbox), ["campaigns"])
    env = {
        "TAP_CUSTOMERIO_API_KEY": fresh_sandbox.api_key,
        "TAP_CUSTOMERIO_API_URL": fresh_sandbox.url,
        "TAP_CUSTOMERIO_MAX_REQUESTS_PER_SECOND": "50",
        "TAP_CUSTOMERIO_REQUEST_TIMEOUT": "7.5",
        "TAP_CUSTOMERIO_MAX_RETRIES": "2",
    }

    run = run_cli("--config", "ENV", "--catalog", write_json(tmp_path, "c.json", catalog), env=env)

    assert run.returncode == 0, run.stderr[-2000:]
    assert len(run.records("campaigns")) == len(fresh_sandbox.truth("campaigns"))


def test_env_config_bad_number_is_one_line(fresh_sandbox):
    env = {
        "TAP_CUSTOMERIO_API_KEY": fresh_sandbox.api_key,
        "TAP_CUSTOMERIO_API_URL": fresh_sandbox.url,
        "TAP_CUSTOMERIO_MAX_RETRIES": "a few",
    }

    run = run_cli("--config", "ENV", env=env)

    assert_one_line_error(run, "max_retries 'a few' is invalid")
    assert fresh_sandbox.request_count() == 0


def test_give_up_leaves_resumable_state(fresh_sandbox, tmp_path):
    fresh_sandbox.add_fault("503", path=r"^/v1/segments$")
    config = base_config(fresh_sandbox, max_retries=1, max_retry_seconds=3)
    config_path = write_json(tmp_path, "config.json", config)
    streams = ["broadcasts", "campaigns", "segments"]
    catalog_path = write_json(tmp_path, "catalog.json", selected_catalog(config, streams))

    failed = run_cli("--config", config_path, "--catalog", catalog_path)

    assert_one_line_error(failed, "Stream 'segments': GET /v1/segments still failed after 2")
    last_state = failed.states[-1]
    assert set(last_state["bookmarks"]) >= {"broadcasts", "campaigns"}
    assert "segments" not in last_state["bookmarks"]

    fresh_sandbox.clear_faults()
    state_path = write_json(tmp_path, "state.json", last_state)
    resumed = run_cli("--config", config_path, "--catalog", catalog_path, "--state", state_path)

    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert len(resumed.records("segments")) == len(fresh_sandbox.truth("segments"))
    final = resumed.states[-1]["bookmarks"]
    for stream in ("broadcasts", "campaigns"):
        kept = last_state["bookmarks"][stream]["replication_key_value"]
        assert final[stream]["replication_key_value"] == kept
