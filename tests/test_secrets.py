"""The API key and URL credentials never reach logs, errors, records, STATE or --about."""

from __future__ import annotations

import traceback

import pytest
import requests

from sandbox import Sandbox
from tests.cli import run_cli, write_json
from tests.helpers import base_config, run_tap, selected_catalog

API_KEY = "sk-app-7f3e9c21d4b8a6e5"
URL_USER = "proxyuser"
URL_PASSWORD = "hunter2-Zq9"  # noqa: S105 (a test value)
SECRETS = (API_KEY, URL_USER, URL_PASSWORD)


@pytest.fixture
def keyed_sandbox():
    with Sandbox(seed=11, rate_limit=None, api_key=API_KEY) as server:
        yield server


def url_with_credentials(sandbox):
    return sandbox.url.replace("http://", f"http://{URL_USER}:{URL_PASSWORD}@")


def assert_no_secret(*texts):
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


def test_debug_run_with_faults_leaks_nothing(keyed_sandbox, tmp_path):
    keyed_sandbox.add_fault("500", share=0.3, count=3)
    keyed_sandbox.add_fault("429", count=2, retry_after=0)
    keyed_sandbox.add_fault("truncated", path="/actions", count=1)
    keyed_sandbox.add_fault("reset", path="/newsletters", count=1)
    config = base_config(keyed_sandbox, api_url=url_with_credentials(keyed_sandbox), max_retries=8)
    config_path = write_json(tmp_path, "config.json", config)
    env = {"TAP_CUSTOMERIO_LOGLEVEL": "DEBUG"}

    run = run_cli("--config", config_path, env=env, timeout=120)

    assert run.returncode == 0, run.stderr[-2000:]
    # The run really went through faults at DEBUG, with urllib3's request lines.
    assert "| DEBUG" in run.stderr
    assert "urllib3.connectionpool" in run.stderr
    assert "retry 1 in" in run.stderr
    assert run.records("campaigns")
    assert run.states
    assert all(r.api_key_ok for r in keyed_sandbox.requests)
    assert_no_secret(run.stdout, run.stderr)


def test_about_and_discover_leak_nothing(keyed_sandbox, tmp_path):
    config = base_config(keyed_sandbox, api_url=url_with_credentials(keyed_sandbox))
    config_path = write_json(tmp_path, "config.json", config)

    runs = [
        run_cli("--about", "--config", config_path),
        run_cli("--about", "--format", "json", "--config", config_path),
        run_cli("--about", "--format", "markdown", "--config", config_path),
        run_cli("--discover", "--config", config_path),
    ]

    for run in runs:
        assert run.returncode == 0, run.stderr[-2000:]
        assert run.stdout.strip()
        assert_no_secret(run.stdout, run.stderr)


def test_echoed_key_scrubbed_from_error(keyed_sandbox, tmp_path):
    keyed_sandbox.add_fault("echo", path=r"^/v1/segments$")
    raw = requests.get(
        f"{keyed_sandbox.url}/segments",
        headers={"Authorization": f"Bearer {API_KEY}"},
        timeout=5,
    )
    assert API_KEY in raw.text
    config = base_config(keyed_sandbox, api_url=url_with_credentials(keyed_sandbox))

    with pytest.raises(Exception) as caught:
        run_tap(config, ["segments"])

    text = "".join(traceback.format_exception(caught.value))
    assert "HTTP 400 on GET /v1/segments" in str(caught.value)
    assert "***" in str(caught.value)
    assert_no_secret(text)

    catalog = selected_catalog(config, ["segments"])
    run = run_cli(
        "--config",
        write_json(tmp_path, "config.json", config),
        "--catalog",
        write_json(tmp_path, "catalog.json", catalog),
        env={"TAP_CUSTOMERIO_LOGLEVEL": "DEBUG"},
    )
    assert run.returncode == 1
    assert "HTTP 400 on GET /v1/segments" in run.stderr
    assert_no_secret(run.stdout, run.stderr)


def test_give_up_error_leaks_nothing(keyed_sandbox):
    keyed_sandbox.add_fault("503")
    config = base_config(
        keyed_sandbox,
        api_url=url_with_credentials(keyed_sandbox),
        max_retries=1,
        max_retry_seconds=2,
    )

    output = None
    with pytest.raises(Exception) as caught:
        output = run_tap(config, ["campaigns"])

    assert output is None
    assert "still failed after 2 attempts" in str(caught.value)
    assert_no_secret("".join(traceback.format_exception(caught.value)))


def test_records_and_state_leak_nothing(keyed_sandbox):
    config = base_config(keyed_sandbox, api_url=url_with_credentials(keyed_sandbox))

    output = run_tap(config, ["campaigns", "campaign_actions", "newsletters"])

    assert output.records["campaign_actions"]
    assert_no_secret(repr(output.messages), output.log)
