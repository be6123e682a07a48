"""Workspace settings: collections, snippets, senders, webhooks, topics, ESP suppressions."""

from __future__ import annotations

import random
from typing import Any

from sandbox.areas.common import past, pick_name
from sandbox.paging import cursor_page
from sandbox.server_errors import ApiError
from sandbox.workspace import Workspace, in_window, iso

#: Page size of sender identities, which document no ``limit``.
SENDERS_DEFAULT_LIMIT = 10
SUPPRESSION_TYPES = ("bounces", "blocks", "spam_reports", "invalid_emails")
SUPPRESSION_MAX_LIMIT = 1000
SUPPRESSION_CATEGORIES = {
    "bounces": "bounce",
    "blocks": "block",
    "spam_reports": "spam_report",
    "invalid_emails": "invalid_email",
}

#: Reporting-webhook endpoints as users type them. The first two embed credentials
#: that a correct tap removes. The third has an ``@`` in its path that must stay.
WEBHOOK_ENDPOINTS = [
    "https://hookuser:s3cr3t-P%40ss@hooks.example.com/cio?source=journeys",
    "http://tokenonly-9f8e7d@collector.example.org:8443/in",
    "https://example.com/notify/@team?x=a@b",
    "https://hooks.example.net/ünïcode/path",
]
#: The credential parts of ``WEBHOOK_ENDPOINTS``, which must appear nowhere in output.
WEBHOOK_SECRETS = ("hookuser", "s3cr3t-P%40ss", "s3cr3t-P@ss", "tokenonly-9f8e7d")

EMAIL_LOCAL_PARTS = ["jürgen", "anna.maria+promo", "o'brien", "李雷", "user_", "x"]


def remove_userinfo(url: str) -> str:
    """Return ``url`` without the ``user:password@`` part of its authority."""
    scheme, separator, rest = url.partition("://")
    if not separator:
        return url
    end = len(rest)
    for delimiter in "/?#":
        position = rest.find(delimiter)
        if position != -1:
            end = min(end, position)
    authority = rest[:end]
    if "@" not in authority:
        return url
    return f"{scheme}://{authority.rsplit('@', 1)[1]}{rest[end:]}"


def generate_suppressions(ws: Workspace, rng: random.Random) -> dict[str, list[dict]]:
    """Split ``suppressions`` over the four types, leaving spam reports empty when few.

    One address is in two types, so only (type, email) is unique.
    """
    total = ws.counts["suppressions"]
    sizes = {
        "bounces": total // 2,
        "blocks": total // 5,
        "spam_reports": 0 if total < 100 else total // 20,
    }
    sizes["invalid_emails"] = max(0, total - sum(sizes.values()))
    out: dict[str, list[dict]] = {}
    serial = 0
    for suppression_type in SUPPRESSION_TYPES:
        items = []
        for _ in range(sizes[suppression_type]):
            serial += 1
            local = EMAIL_LOCAL_PARTS[serial % len(EMAIL_LOCAL_PARTS)]
            items.append(
                {
                    "email": f"{local}{serial}@exämple.de",
                    "created": past(rng, ws.now, 400),
                    "reason": rng.choice(["550 5.1.1 mailbox unavailable", "Nachricht abgelehnt"]),
                    "status": rng.choice(["550", "554", None]),
                }
            )
        out[suppression_type] = items
    if out["bounces"] and out["blocks"]:
        out["blocks"][0] = dict(out["blocks"][0], email=out["bounces"][0]["email"])
    return out


def generate(ws: Workspace, rng: random.Random) -> None:
    """Create every workspace-settings list."""
    collections = []
    for index in range(5):
        created = past(rng, ws.now, 600, 20)
        collections.append(
            {
                "id": index + 1,
                "name": pick_name(rng, index + 3),
                "schema": ["sku", "name", "price.eur", "Größe"] if index % 2 else [],
                "rows": rng.randint(0, 5000),
                "bytes": rng.randint(0, 10_000_000),
                "created_at": created,
                "updated_at": min(ws.now, created + int(rng.uniform(0, 300) * 86400)),
            }
        )

    snippets = [
        {"name": name, "value": value, "updated_at": past(rng, ws.now, 300)}
        for name, value in [
            ("footer", "<p>© Acme GmbH — Straße 1</p>"),
            ("footer.legal", "Impressum: {{ snippets.footer }}"),
            ("Grüße", "Viele Grüße, Ihr Team"),
            ("cta button", '<a href="{{ url }}">Jetzt kaufen →</a>'),
            ("empty", ""),
        ]
    ]

    senders = []
    for index in range(ws.counts["sender_identities"]):
        sender_id = index + 1
        hidden = index % 4 == 3
        senders.append(
            {
                "id": sender_id,
                "name": pick_name(rng, index),
                "email": f"sender{sender_id}@exämple.com",
                "address": f'"{pick_name(rng, index)}" <sender{sender_id}@example.com>',
                "phone": "+4915112345678" if index % 5 == 0 else None,
                "template_type": rng.choice(["email", "sms", "push"]),
                "hidden": hidden,
                "auto_generated": index == 0,
                "deduplicate_id": f"{sender_id}:{past(rng, ws.now, 100)}",
            }
        )

    webhooks = [
        {
            "id": index + 1,
            "name": pick_name(rng, index),
            "endpoint": endpoint,
            "events": ["email_sent", "email_opened"] if index % 2 else [],
            "disabled": index == 2,
            "full_resolution": index % 2 == 0,
            "with_content": index == 0,
            "type": "reporting",
        }
        for index, endpoint in enumerate(WEBHOOK_ENDPOINTS)
    ]

    topics = [
        {
            "id": index + 1,
            "identifier": f"topic_{index + 1}",
            "name": name,
            "description": description,
            "subscribed_by_default": index % 2 == 0,
        }
        for index, (name, description) in enumerate(
            [
                ("Newsletter", "Monthly news"),
                ("Produkt-Updates", "Neuigkeiten über Funktionen — ausführlich"),
                ("セール", None),
            ]
        )
    ]

    workspaces = [
        {
            "id": 90000 + index,
            "name": name,
            "messages_sent": rng.randint(0, 10**7),
            "billable_messages_sent": rng.randint(0, 10**6),
            "people": rng.randint(0, 10**6),
            "objects": rng.randint(0, 10**4),
            "object_types": rng.randint(0, 5),
        }
        for index, name in enumerate(["Production", "Staging — Test", "Espace français"])
    ]

    ws.data["collections"] = collections
    ws.data["snippets"] = snippets
    ws.data["sender_identities"] = senders
    ws.data["reporting_webhooks"] = webhooks
    ws.data["subscription_topics"] = topics
    ws.data["workspaces"] = workspaces
    ws.data["ip_addresses"] = ["34.122.10.1", "35.188.196.183", "104.198.177.219", "2600:1900::1"]
    ws.data["esp_suppressions"] = generate_suppressions(ws, rng)


def list_collections(ws: Workspace, request: Any) -> dict:
    return {"collections": ws.data["collections"]}


def list_snippets(ws: Workspace, request: Any) -> dict:
    return {"snippets": ws.data["snippets"]}


def list_sender_identities(ws: Workspace, request: Any) -> dict:
    """Serve visible senders, or only hidden ones with ``hidden=true``.

    With ``ws.data["senders_unfiltered_without_hidden"]`` set, a request without
    ``hidden=true`` returns every sender, which tests use to check deduplication.
    """
    sort = request.query.get("sort", "asc")
    if sort not in ("asc", "desc"):
        raise ApiError(400, f"sort must be asc or desc, got {sort!r}")
    hidden = request.query.get("hidden", "false")
    if hidden not in ("true", "false"):
        raise ApiError(400, f"hidden must be true or false, got {hidden!r}")
    items = [s for s in ws.data["sender_identities"] if s["hidden"] == (hidden == "true")]
    if hidden == "false" and ws.data.get("senders_unfiltered_without_hidden"):
        items = list(ws.data["sender_identities"])
    if sort == "desc":
        items.reverse()
    return cursor_page(
        items,
        request,
        "sender_identities",
        default_limit=SENDERS_DEFAULT_LIMIT,
        max_limit=None,
        trailing_empty_page=True,
    )


def list_reporting_webhooks(ws: Workspace, request: Any) -> dict:
    return {"reporting_webhooks": ws.data["reporting_webhooks"]}


def list_topics(ws: Workspace, request: Any) -> dict:
    return {"topics": ws.data["subscription_topics"]}


def list_workspaces(ws: Workspace, request: Any) -> dict:
    return {"workspaces": ws.data["workspaces"]}


def list_ip_addresses(ws: Workspace, request: Any) -> dict:
    return {"ip_addresses": ws.data["ip_addresses"]}


def list_suppressions(ws: Workspace, request: Any) -> dict:
    """Serve one offset page, sending an empty page as ``suppressions: null``."""
    suppression_type = request.params["suppression_type"]
    if suppression_type not in SUPPRESSION_TYPES:
        raise ApiError(400, f"suppression_type must be one of {', '.join(SUPPRESSION_TYPES)}")
    limit = request.int_query("limit", SUPPRESSION_MAX_LIMIT)
    if limit is None or not 1 <= limit <= SUPPRESSION_MAX_LIMIT:
        raise ApiError(400, f"limit must be between 1 and {SUPPRESSION_MAX_LIMIT}")
    offset = request.int_query("offset", 0)
    if offset is None or offset < 0:
        raise ApiError(400, "offset must be 0 or more")
    page = ws.data["esp_suppressions"][suppression_type][offset : offset + limit]
    return {
        "category": SUPPRESSION_CATEGORIES[suppression_type],
        "suppressions": page or None,
    }


ROUTES = [
    ("GET", "/collections", list_collections),
    ("GET", "/snippets", list_snippets),
    ("GET", "/sender_identities", list_sender_identities),
    ("GET", "/reporting_webhooks", list_reporting_webhooks),
    ("GET", "/subscription_topics", list_topics),
    ("GET", "/workspaces", list_workspaces),
    ("GET", "/info/ip_addresses", list_ip_addresses),
    ("GET", r"/esp/suppression/(?P<suppression_type>[^/]+)", list_suppressions),
]


def truth_collections(ws: Workspace, config: dict) -> list[dict]:
    return [
        dict(c, created_at=iso(c["created_at"]), updated_at=iso(c["updated_at"]))
        for c in ws.data["collections"]
        if in_window(config, c["updated_at"])
    ]


def truth_snippets(ws: Workspace, config: dict) -> list[dict]:
    return [dict(s, updated_at=iso(s["updated_at"])) for s in ws.data["snippets"]]


def truth_sender_identities(ws: Workspace, config: dict) -> list[dict]:
    return [dict(s) for s in ws.data["sender_identities"]]


def truth_reporting_webhooks(ws: Workspace, config: dict) -> list[dict]:
    return [dict(w, endpoint=remove_userinfo(w["endpoint"])) for w in ws.data["reporting_webhooks"]]


def truth_subscription_topics(ws: Workspace, config: dict) -> list[dict]:
    return [dict(t) for t in ws.data["subscription_topics"]]


def truth_workspaces(ws: Workspace, config: dict) -> list[dict]:
    return [dict(w) for w in ws.data["workspaces"]]


def truth_ip_addresses(ws: Workspace, config: dict) -> list[dict]:
    return [{"ip_address": address} for address in ws.data["ip_addresses"]]


def truth_esp_suppressions(ws: Workspace, config: dict) -> list[dict]:
    return [
        dict(
            item,
            suppression_type=suppression_type,
            category=SUPPRESSION_CATEGORIES[suppression_type],
            created=iso(item["created"]),
        )
        for suppression_type, items in ws.data["esp_suppressions"].items()
        for item in items
    ]


TRUTH = {
    "collections": truth_collections,
    "snippets": truth_snippets,
    "sender_identities": truth_sender_identities,
    "reporting_webhooks": truth_reporting_webhooks,
    "subscription_topics": truth_subscription_topics,
    "workspaces": truth_workspaces,
    "ip_addresses": truth_ip_addresses,
    "esp_suppressions": truth_esp_suppressions,
}
