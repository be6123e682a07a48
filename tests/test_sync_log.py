"""The end-of-run sync summary and the rate-limited progress lines."""

from __future__ import annotations

import itertools
import logging
import math
import re

import pytest

from tap_customerio import progress
from tap_customerio.progress import ProgressLog
from tests.cli import run_cli, write_json
from tests.helpers import base_config, run_tap

SUMMARY = re.compile(
    r"Sync summary: (?P<name>\w+) +(?P<records>\d+) records?, (?P<requests>\d+) requests?, "
    r"(?P<retries>\d+) retr(?:y|ies) \((?P<rate_limited>\d+) after HTTP 429\), "
    r"(?P<skipped>\d+) skipped parents?, (?P<seconds>[\d.]+) s\."
)
TOTAL = re.compile(r"Sync summary: total over (\d+) streams?: (\d+) records?, .*; the sync (.+)\.")


def summary_rows(log: str) -> dict[str, dict[str, str]]:
    rows = {}
    for line in log.splitlines():
        match = SUMMARY.search(line)
        if match:
            assert match["name"] not in rows, f"stream {match['name']} summarised twice"
            rows[match["name"]] = match.groupdict()
    return rows


def total_lines(log: str) -> list[re.Match]:
    return [m for m in map(TOTAL.search, log.splitlines()) if m]


def progress_lines(log: str, stream: str) -> list[str]:
    return [line for line in log.splitlines() if f"Stream '{stream}' progress: " in line]


def fake_clock(step: float):
    """Return a clock that moves ``step`` seconds forward on every call."""
    ticks = itertools.count()
    return lambda: next(ticks) * step


# Summary ----------------------------------------------------------------------


def test_summary_counts_each_stream(sandbox):
    config = base_config(sandbox)
    sandbox.clear_requests()
    output = run_tap(config, ["campaigns", "campaign_actions", "segments"])

    rows = summary_rows(output.log)
    assert set(rows) == {"campaigns", "campaign_actions", "segments"}
    for name in rows:
        assert int(rows[name]["records"]) == len(output.records[name])
        assert rows[name]["retries"] == "0"
    assert int(rows["campaigns"]["requests"]) == sandbox.request_count(r"^/v1/campaigns$")
    assert int(rows["campaign_actions"]["requests"]) == sandbox.request_count(r"/actions$")
    assert int(rows["segments"]["requests"]) == sandbox.request_count(r"^/v1/segments$")


def test_summary_total_logged_once(sandbox):
    output = run_tap(base_config(sandbox), ["campaigns", "segments"])

    totals = total_lines(output.log)
    assert len(totals) == 1
    assert totals[0].group(1) == "2"
    assert int(totals[0].group(2)) == len(output.records["campaigns"]) + len(
        output.records["segments"]
    )
    assert totals[0].group(3) == "completed"


def test_summary_counts_429_retries(fresh_sandbox):
    fresh_sandbox.add_fault("429", path=r"^/v1/segments$", retry_after=0, count=2)

    output = run_tap(base_config(fresh_sandbox), ["segments"])

    row = summary_rows(output.log)["segments"]
    assert row["retries"] == "2"
    assert row["rate_limited"] == "2"
    assert row["requests"] == "3"


def test_summary_counts_skipped_parents(fresh_sandbox):
    gone = fresh_sandbox.workspace.data["campaigns"][1]["id"]

    def delete_parent(ws):
        ws.data["campaigns"] = [c for c in ws.data["campaigns"] if c["id"] != gone]

    fresh_sandbox.after_request(r"^/v1/campaigns$", delete_parent)

    output = run_tap(base_config(fresh_sandbox), ["campaigns", "campaign_actions"])

    assert summary_rows(output.log)["campaign_actions"]["skipped"] == "1"


def test_summary_after_failure(fresh_sandbox):
    fresh_sandbox.add_fault("500", path="/membership")
    # One request at a time, so only the first segment's membership list is requested.
    config = base_config(fresh_sandbox, max_retries=1, max_concurrent_requests=1)

    output = run_tap(config, ["segments", "segment_memberships"], allow_error=True)

    assert output.error is not None
    rows = summary_rows(output.log)
    assert rows["segment_memberships"]["requests"] == "2"
    assert rows["segment_memberships"]["retries"] == "1"
    assert int(rows["segments"]["requests"]) == 1
    totals = total_lines(output.log)
    assert len(totals) == 1
    assert totals[0].group(3) == "stopped with an error"


def test_summary_without_secrets(fresh_sandbox):
    fresh_sandbox.add_fault("echo", path=r"^/v1/segments$")
    config = base_config(fresh_sandbox)

    output = run_tap(config, ["segments"], allow_error=True)

    summary = [line for line in output.log.splitlines() if "Sync summary" in line]
    assert len(summary) == 2
    assert all(fresh_sandbox.api_key not in line for line in summary)


def test_summary_before_cli_error(fresh_sandbox, tmp_path):
    # activities is the first stream of the run, so the 403 comes before any other.
    fresh_sandbox.add_fault("403", path=r"^/v1/activities$")
    config = write_json(tmp_path, "config.json", base_config(fresh_sandbox))

    run = run_cli("--config", config)

    assert run.returncode == 1
    lines = run.stderr.splitlines()
    total = [i for i, line in enumerate(lines) if "Sync summary: total over" in line]
    error = [i for i, line in enumerate(lines) if "| ERROR" in line and "HTTP 403" in line]
    assert len(total) == 1
    assert len(error) == 1
    assert total[0] < error[0]
    assert "the sync stopped with an error" in lines[total[0]]
    assert "Sync summary: activities " in run.stderr
    idle = [
        line
        for line in lines
        if "Sync summary: no requests and no records for 32 streams: " in line
    ]
    assert len(idle) == 1
    assert "customers, esp_suppressions" in idle[0]


# Progress ----------------------------------------------------------------------


def test_progress_burst_limited():
    logger = logging.getLogger("tests.progress")
    clock_now = [0.0]
    log = ProgressLog(logger, interval=60.0, clock=lambda: clock_now[0])
    logged = []
    # 10 000 reports over 10 minutes of fake time, 0.06 s apart.
    for index in range(10_000):
        clock_now[0] = index * 0.06
        if log.report("messages", "step %d", index):
            logged.append(clock_now[0])

    assert len(logged) <= math.floor(clock_now[0] / 60.0)
    assert len(logged) >= 9
    assert all(b - a >= 60.0 for a, b in itertools.pairwise(logged))
    assert logged[0] >= 60.0


def test_progress_interval_per_stream():
    clock_now = [0.0]
    logger = logging.getLogger("tests.progress")
    log = ProgressLog(logger, interval=60.0, clock=lambda: clock_now[0])
    clock_now[0] = 61.0

    assert log.report("messages", "one")
    assert log.report("customers", "one")
    assert not log.report("messages", "two")
    assert log.dropped == {"messages": 1}


def test_progress_quiet_in_short_run(sandbox):
    output = run_tap(base_config(sandbox, messages_window_days=10), ["messages"])

    assert progress_lines(output.log, "messages") == []


def test_progress_messages_windows(sandbox, monkeypatch):
    # Each report moves the clock 25 s on; with a 60 s interval every third is logged.
    monkeypatch.setattr(progress, "monotonic", fake_clock(25.0))
    monkeypatch.setattr(progress, "PROGRESS_INTERVAL_SECONDS", 60.0)

    output = run_tap(base_config(sandbox, messages_window_days=10), ["messages"])

    total = int(re.search(r"in (\d+) windows", output.log).group(1))
    lines = progress_lines(output.log, "messages")
    done = [int(re.search(r"(\d+) of (\d+) windows done", line).group(1)) for line in lines]
    assert total > 30
    assert done == list(range(3, total + 1, 3))
    assert all(f" of {total} windows done" in line for line in lines)
    last = lines[-1]
    records_so_far = int(re.search(r"(\d+) records so far", last).group(1))
    assert records_so_far <= len(output.records["messages"])


def test_progress_customers_batches(sandbox, monkeypatch):
    monkeypatch.setattr(progress, "monotonic", fake_clock(100.0))
    people = len(sandbox.truth("customers"))

    output = run_tap(base_config(sandbox), ["customers"])

    lines = progress_lines(output.log, "customers")
    batches = math.ceil(people / 100)
    assert len(lines) == batches
    assert f"{batches} attribute batches read, {people} people so far." in lines[-1]


def test_progress_membership_pages(sandbox, monkeypatch):
    monkeypatch.setattr(progress, "monotonic", fake_clock(100.0))
    sandbox.clear_requests()

    output = run_tap(base_config(sandbox), ["segments", "segment_memberships"])

    lines = progress_lines(output.log, "segment_memberships")
    pages = sandbox.request_count(r"/membership$")
    assert len(lines) == pages
    members = {}
    for record in output.records["segment_memberships"]:
        members[record["segment_id"]] = members.get(record["segment_id"], 0) + 1
    largest = max(members, key=members.get)
    largest_lines = [line for line in lines if f"segment {largest}:" in line]
    assert len(largest_lines) >= 2
    assert largest_lines[-1].endswith(f"{members[largest]} members so far.")


@pytest.mark.parametrize("interval", [30.0, 120.0])
def test_progress_constant_sets_interval(sandbox, monkeypatch, interval):
    monkeypatch.setattr(progress, "monotonic", fake_clock(25.0))
    monkeypatch.setattr(progress, "PROGRESS_INTERVAL_SECONDS", interval)

    output = run_tap(base_config(sandbox, messages_window_days=10), ["messages"])

    total = int(re.search(r"in (\d+) windows", output.log).group(1))
    every = math.ceil(interval / 25.0)
    assert len(progress_lines(output.log, "messages")) == total // every
