"""The sandbox's fault rules do what their options say, so the fault tests can trust them."""

from __future__ import annotations

import time

import requests

from sandbox.paging import decode_cursor


def get(sandbox, path, **params):
    headers = {"Authorization": f"Bearer {sandbox.api_key}"}
    return requests.get(f"{sandbox.url}{path}", headers=headers, params=params, timeout=5)


def statuses(sandbox, path, times):
    return [get(sandbox, path).status_code for _ in range(times)]


def test_fault_count_limits_firing(fresh_sandbox):
    fresh_sandbox.add_fault("500", count=2)

    assert statuses(fresh_sandbox, "/campaigns", 4) == [500, 500, 200, 200]


def test_fault_after_lets_requests_through(fresh_sandbox):
    fresh_sandbox.add_fault("503", after=2, count=1)

    assert statuses(fresh_sandbox, "/campaigns", 4) == [200, 200, 503, 200]


def test_fault_path_filters(fresh_sandbox):
    fresh_sandbox.add_fault("502", path=r"/newsletters$")

    assert get(fresh_sandbox, "/campaigns").status_code == 200
    assert get(fresh_sandbox, "/newsletters").status_code == 502


def test_fault_share_fires_on_some(fresh_sandbox):
    fresh_sandbox.add_fault("500", share=0.5)

    results = statuses(fresh_sandbox, "/campaigns", 40)

    assert 5 < results.count(500) < 35
    assert results.count(200) == 40 - results.count(500)


def test_fault_duration_expires(fresh_sandbox):
    fresh_sandbox.add_fault("429", duration=0.3, retry_after=2)

    first = get(fresh_sandbox, "/campaigns")
    time.sleep(0.4)
    second = get(fresh_sandbox, "/campaigns")

    assert first.status_code == 429
    assert first.headers["Retry-After"] == "2"
    assert second.status_code == 200


def test_fault_429_without_retry_after(fresh_sandbox):
    fresh_sandbox.add_fault("429")

    response = get(fresh_sandbox, "/campaigns")

    assert response.status_code == 429
    assert "Retry-After" not in response.headers


def test_rules_count_requests_another_rule_answered(fresh_sandbox):
    fresh_sandbox.add_fault("500", count=2)
    fresh_sandbox.add_fault("503", after=2, count=1)

    assert statuses(fresh_sandbox, "/campaigns", 4) == [500, 500, 503, 200]


def test_broken_bodies(fresh_sandbox):
    for mode in ("truncated", "html", "empty", "no_envelope", "null_list"):
        fresh_sandbox.add_fault(mode, count=1)
        response = get(fresh_sandbox, "/campaigns")
        fresh_sandbox.clear_faults()

        assert response.status_code == 200, mode
        if mode == "null_list":
            assert response.json()["campaigns"] is None
        elif mode == "no_envelope":
            assert "campaigns" not in response.json()
        else:
            assert not response.text.startswith('{"campaigns":[') or mode == "truncated"
    full = get(fresh_sandbox, "/campaigns").content
    fresh_sandbox.add_fault("truncated", count=1)
    assert len(get(fresh_sandbox, "/campaigns").content) < len(full)


def test_reset_cuts_body(fresh_sandbox):
    fresh_sandbox.add_fault("reset", count=1)

    try:
        get(fresh_sandbox, "/campaigns")
    except requests.exceptions.RequestException as exc:
        error = exc
    else:
        error = None

    assert isinstance(error, requests.exceptions.ChunkedEncodingError | requests.ConnectionError)


def test_slow_delays_answer(fresh_sandbox):
    fresh_sandbox.add_fault("slow", seconds=0.3, count=1)

    started = time.monotonic()
    response = get(fresh_sandbox, "/campaigns")

    assert response.status_code == 200
    assert time.monotonic() - started >= 0.3


def test_request_log_keeps_arrival_time(fresh_sandbox):
    fresh_sandbox.add_fault("slow", seconds=0.3, count=1)

    before = time.time()
    get(fresh_sandbox, "/campaigns")

    assert fresh_sandbox.requests[-1].at - before < 0.2


def test_echo_returns_authorization(fresh_sandbox):
    fresh_sandbox.add_fault("echo", count=1)

    response = get(fresh_sandbox, "/campaigns")

    assert response.status_code == 400
    assert fresh_sandbox.api_key in response.text


def follow(sandbox, path, pages):
    cursors = []
    start = ""
    for _ in range(pages):
        body = get(sandbox, path, **({"start": start} if start else {})).json()
        start = body["next"]
        cursors.append(start)
    return cursors


def test_cursor_cycle_alternates(fresh_sandbox):
    fresh_sandbox.add_fault("cursor_cycle", path="/newsletters")

    cursors = follow(fresh_sandbox, "/newsletters", 4)

    assert cursors[0] == cursors[2]
    assert cursors[1] == cursors[3]
    assert cursors[0] != cursors[1]
    assert {decode_cursor(c) for c in cursors} == {0}


def test_next_repeat_repeats(fresh_sandbox):
    fresh_sandbox.add_fault("next_repeat", path="/newsletters")

    cursors = follow(fresh_sandbox, "/newsletters", 3)

    assert len(set(cursors)) == 1


def test_endless_gives_fresh_cursors(fresh_sandbox):
    fresh_sandbox.add_fault("endless", path="/newsletters")

    cursors = follow(fresh_sandbox, "/newsletters", 4)

    assert len(set(cursors)) == 4
    assert {decode_cursor(c) for c in cursors} == {0}


def test_after_request_runs_once(fresh_sandbox):
    calls = []
    fresh_sandbox.after_request(r"^/v1/campaigns$", lambda ws: calls.append(len(ws.data)))

    get(fresh_sandbox, "/newsletters")
    get(fresh_sandbox, "/campaigns")
    get(fresh_sandbox, "/campaigns")

    assert len(calls) == 1
