"""Workspace settings, ESP suppressions and exports against the sandbox's ground truth."""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone

import pytest

from sandbox.areas.workspace import SENDERS_DEFAULT_LIMIT, WEBHOOK_SECRETS
from tap_customerio.streams.suppressions import EspSuppressionsStream
from tap_customerio.streams.workspace import remove_userinfo
from tests.helpers import base_config, by_key, run_tap

#: Every stream this module covers, with its primary key.
STREAM_KEYS = {
    "object_types": ("id",),
    "objects": ("object_type_id", "object_id"),
    "collections": ("id",),
    "snippets": ("name",),
    "sender_identities": ("id",),
    "reporting_webhooks": ("id",),
    "subscription_topics": ("id",),
    "workspaces": ("id",),
    "ip_addresses": ("ip_address",),
    "esp_suppressions": ("suppression_type", "email"),
    "exports": ("id",),
}

#: Paths read exactly once per run when every stream above is selected.
SINGLE_REQUEST_PATHS = [
    r"^/v1/object_types$",
    r"^/v1/collections$",
    r"^/v1/snippets$",
    r"^/v1/reporting_webhooks$",
    r"^/v1/subscription_topics$",
    r"^/v1/workspaces$",
    r"^/v1/info/ip_addresses$",
    r"^/v1/exports$",
    r"^/v1/esp/suppression/bounces$",
    r"^/v1/esp/suppression/blocks$",
    r"^/v1/esp/suppression/spam_reports$",
    r"^/v1/esp/suppression/invalid_emails$",
]


@pytest.fixture(scope="module")
def full_run(sandbox):
    """One run of every stream above, with the request counts of that run."""
    sandbox.clear_requests()
    config = base_config(sandbox)
    output = run_tap(config, list(STREAM_KEYS))
    counts = {path: sandbox.request_count(path) for path in SINGLE_REQUEST_PATHS}
    counts["senders"] = sandbox.request_count(r"^/v1/sender_identities$")
    counts["search"] = sandbox.request_count(r"^/v1/objects$")
    counts["attributes"] = sandbox.request_count(r"/attributes$")
    counts["all"] = sandbox.request_count("")
    counts["suppression_limits"] = {
        r.query.get("limit") for r in sandbox.requests if "/esp/suppression/" in r.path
    }
    return config, output, counts


@pytest.mark.parametrize("stream", sorted(STREAM_KEYS))
def test_stream_matches_truth(sandbox, full_run, stream):
    config, output, _ = full_run
    records = output.records[stream]
    truth = sandbox.truth(stream, config)
    keys = STREAM_KEYS[stream]

    assert records
    assert len(records) == len(truth)
    assert by_key(records, *keys) == by_key(truth, *keys)


@pytest.mark.parametrize("stream", sorted(STREAM_KEYS))
def test_stream_primary_keys_unique(full_run, stream):
    _, output, _ = full_run
    declared = output.schemas[stream]["key_properties"]
    keys = [tuple(r[k] for k in declared) for r in output.records[stream]]

    assert tuple(declared) == STREAM_KEYS[stream]
    assert len(set(keys)) == len(keys)


def test_streams_read_each_endpoint_once(sandbox, full_run):
    _, _, counts = full_run
    objects = sandbox.workspace.data["objects"]
    senders = sandbox.workspace.data["sender_identities"]
    hidden = sum(1 for s in senders if s["hidden"])
    visible = len(senders) - hidden
    pages = math.ceil(visible / SENDERS_DEFAULT_LIMIT) + math.ceil(hidden / SENDERS_DEFAULT_LIMIT)

    for path in SINGLE_REQUEST_PATHS:
        assert counts[path] == 1, path
    assert counts["search"] == len(objects)
    assert counts["attributes"] == sum(len(v) for v in objects.values())
    assert counts["senders"] == pages + 2
    expected_total = (
        len(SINGLE_REQUEST_PATHS) + counts["search"] + counts["attributes"] + counts["senders"]
    )
    assert counts["all"] == expected_total


def test_sender_identities_trailing_empty_page(sandbox):
    sandbox.clear_requests()
    output = run_tap(base_config(sandbox), ["sender_identities"])
    records = output.records["sender_identities"]
    senders = sandbox.workspace.data["sender_identities"]
    hidden = [s for s in senders if s["hidden"]]
    visible = [s for s in senders if not s["hidden"]]

    assert hidden
    assert len(records) == len(senders)
    assert {r["id"] for r in records if r["hidden"]} == {s["id"] for s in hidden}
    # One request per page, plus the empty page that follows the last item.
    visible_pages = math.ceil(len(visible) / SENDERS_DEFAULT_LIMIT) + 1
    hidden_pages = math.ceil(len(hidden) / SENDERS_DEFAULT_LIMIT) + 1
    hidden_log = [r for r in sandbox.requests if r.query.get("hidden") == "true"]
    assert len(hidden_log) == hidden_pages
    assert sandbox.request_count(r"^/v1/sender_identities$") == visible_pages + hidden_pages


def test_sender_identities_not_duplicated(fresh_sandbox):
    # Here a request without hidden=true lists hidden identities too.
    fresh_sandbox.workspace.data["senders_unfiltered_without_hidden"] = True
    config = base_config(fresh_sandbox)
    output = run_tap(config, ["sender_identities"])
    records = output.records["sender_identities"]
    ids = [r["id"] for r in records]

    assert len(ids) == len(set(ids))
    assert by_key(records, "id") == by_key(fresh_sandbox.truth("sender_identities", config), "id")


def test_suppressions_offset_pages(fresh_sandbox, monkeypatch):
    monkeypatch.setattr(EspSuppressionsStream, "page_size", 10)
    data = fresh_sandbox.workspace.data["esp_suppressions"]
    template = {"created": fresh_sandbox.workspace.now, "reason": "x", "status": None}
    sizes = {"bounces": 20, "blocks": 15, "spam_reports": 0, "invalid_emails": 3}
    for name, size in sizes.items():
        data[name] = [dict(template, email=f"{name}{i}@exämple.de") for i in range(size)]
    config = base_config(fresh_sandbox)
    output = run_tap(config, ["esp_suppressions"])
    records = output.records["esp_suppressions"]
    keys = ("suppression_type", "email")

    assert by_key(records, *keys) == by_key(fresh_sandbox.truth("esp_suppressions", config), *keys)
    # 20 rows: two full pages, then suppressions: null.
    offsets = [
        int(r.query["offset"]) for r in fresh_sandbox.requests if r.path.endswith("/bounces")
    ]
    assert offsets == [0, 10, 20]
    # 15 rows: a full page, then a short page ends the listing.
    assert fresh_sandbox.request_count(r"/blocks$") == 2
    # No rows: the first page is null.
    assert fresh_sandbox.request_count(r"/spam_reports$") == 1
    assert fresh_sandbox.request_count(r"/invalid_emails$") == 1
    assert {r.query["limit"] for r in fresh_sandbox.requests} == {"10"}


def test_suppressions_send_max_limit(full_run):
    _, output, counts = full_run
    records = output.records["esp_suppressions"]
    bounces = {r["email"] for r in records if r["suppression_type"] == "bounces"}
    blocks = {r["email"] for r in records if r["suppression_type"] == "blocks"}

    assert counts["suppression_limits"] == {"1000"}
    # The same address under two types stays two records.
    assert bounces & blocks


def test_webhook_credentials_nowhere(fresh_sandbox, capfd):
    config = base_config(fresh_sandbox)
    output = run_tap(config, ["reporting_webhooks"])
    captured = capfd.readouterr()
    everything = "\n".join(
        [json.dumps(output.messages, ensure_ascii=False), output.log, captured.out, captured.err]
    )
    endpoints = [r["endpoint"] for r in output.records["reporting_webhooks"]]

    for secret in WEBHOOK_SECRETS:
        assert secret not in everything, secret
    assert "https://hooks.example.com/cio?source=journeys" in endpoints
    assert "https://example.com/notify/@team?x=a@b" in endpoints


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://user:pw@host.example/p?q=1", "https://host.example/p?q=1"),
        ("https://user:p@ss@host.example", "https://host.example"),
        ("http://token@host.example:8443/in", "http://host.example:8443/in"),
        ("https://host.example/a/@b?c=d@e#f@g", "https://host.example/a/@b?c=d@e#f@g"),
        ("https://u:pw@host.example#frag@x", "https://host.example#frag@x"),
        ("mailto:ops@example.com", "mailto:ops@example.com"),
        ("", ""),
        (None, None),
    ],
)
def test_remove_userinfo(url, expected):
    assert remove_userinfo(url) == expected


@pytest.mark.parametrize("stream", ["collections", "exports"])
def test_start_date_filters_client_side(sandbox, stream):
    updated = sorted(r["updated_at"] for r in sandbox.workspace.data[stream])
    cutoff = updated[len(updated) // 2]
    start = datetime.fromtimestamp(cutoff, tz=timezone.utc).isoformat()
    config = base_config(sandbox, start_date=start)
    output = run_tap(config, [stream])
    expected = {r["id"] for r in sandbox.truth(stream, config)}

    assert {r["id"] for r in output.records[stream]} == expected
    assert 0 < len(expected) < len(updated)
