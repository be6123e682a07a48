"""One-time sends (newsletters)."""

from __future__ import annotations

import random
from typing import Any

from sandbox.areas.common import past, pick_name, pick_tags
from sandbox.areas.deletions import children_gone, is_deleted, mark_listed
from sandbox.paging import cursor_page
from sandbox.server_errors import ApiError
from sandbox.workspace import Workspace, in_window, iso

#: The API documents no maximum; the simulator accepts up to this many per page.
MAX_LIMIT = 100
TIMESTAMPS = ("created", "updated", "sent_at", "scheduled_at")


LANGUAGES = ["", "fr", "ja", "de", "pt-BR", "zh-Hans", "ar", "pl", "es", "it", "ko", "sv"]
AB_GROUP_NAMES = ["A", "B", "C"]
AB_LABELS = ["Betreff: Frühling 🌸", "Sujet « été »", "件名テスト"]


def make_variant(
    rng: random.Random, newsletter: dict, variant_id: int, language: str, group: int | None
) -> dict:
    """Build one variant as ``/contents`` lists it, with the undocumented ``updated``."""
    created = newsletter["created"]
    updated = min(newsletter["updated"], created + int(rng.uniform(0, 5) * 86400))
    return {
        "id": variant_id,
        "newsletter_id": newsletter["id"],
        "deduplicate_id": f"{variant_id}:{updated}",
        "name": f"{newsletter['name']} [{language or 'default'}]",
        "type": newsletter["type"],
        "language": language,
        "layout": "<html><body>{{ content }}</body></html>",
        "body": f"<p>Grüße {{{{customer.first_name}}}} — variante {variant_id} ✓</p>",
        "body_amp": None,
        "body_plain": "Grüße — ça marche",
        "subject": rng.choice(["Neuigkeiten", "Nouveautés de l'été", "お知らせ", "🎉 News"]),
        "preheader_text": rng.choice(["", "Zażółć gęślą jaźń"]),
        "from": "Équipe <equipe@example.com>",
        "from_id": rng.randint(1, 5),
        "reply_to": None,
        "reply_to_id": None,
        "recipient": "{{customer.email}}",
        "bcc": None,
        "cc": "",
        "fake_bcc": rng.random() < 0.2,
        "headers": '[{"name":"X-Mailgun-Tag","value":"été"}]',
        "preprocessor": "premailer",
        "created": created,
        "updated": updated,
        "test_group_id": group,
    }


def make_children(rng: random.Random, index: int, newsletter: dict) -> tuple[list, list]:
    """Build the variants and A/B test groups of one newsletter.

    Every third newsletter runs an A/B test with one variant per group and
    language. The first one has many languages, so its variant list is long.
    """
    languages = LANGUAGES if index == 0 else LANGUAGES[: rng.randint(1, 3)]
    group_count = rng.randint(2, 3) if index % 3 == 0 else 0
    # A send without an A/B test has its variants outside any group.
    group_ids: list[int | None] = list(range(group_count)) or [None]
    groups: list[dict] = []
    variants: list[dict] = []
    next_variant_id = newsletter["id"] * 100
    for group in group_ids:
        content_ids = []
        for language in languages:
            next_variant_id += 1
            variants.append(make_variant(rng, newsletter, next_variant_id, language, group))
            content_ids.append(next_variant_id)
        if group is not None:
            groups.append(
                {
                    # Group ids start at 0, as in the API's documented example.
                    "id": group,
                    "name": AB_GROUP_NAMES[group],
                    "label": AB_LABELS[group],
                    "winner": newsletter["send_state"] == "sent" and group == 0,
                    "content_ids": content_ids,
                }
            )
    return variants, groups


def generate(ws: Workspace, rng: random.Random) -> None:
    """Create the one-time sends, oldest first, with their variants and test groups."""
    newsletters = []
    variants: dict[int, list[dict]] = {}
    test_groups: dict[int, list[dict]] = {}
    child_rng = random.Random(f"{ws.seed}:newsletter_children")
    for index in range(ws.counts["newsletters"]):
        newsletter_id = 200 + index * 2
        created = past(rng, ws.now, 600, 1)
        updated = min(ws.now, created + int(rng.uniform(0, 30) * 86400))
        sent = rng.random() < 0.7
        newsletter = {
            "id": newsletter_id,
            "deduplicate_id": f"{newsletter_id}:{updated}",
            "name": pick_name(rng, index + 3),
            "type": rng.choice(["email", "push", "twilio", "in_app"]),
            "content_ids": [],
            "recipient_segment_ids": [rng.randint(1, 6)],
            "tags": pick_tags(rng),
            "created": created,
            "updated": updated,
            "sent_at": updated if sent else None,
            "scheduled_at": None,
            "send_state": "sent" if sent else "draft",
            "subscription_topic_id": None,
            "timezone": "America/New_York",
            "tz_match_enabled": False,
        }
        own_variants, own_groups = make_children(child_rng, index, newsletter)
        newsletter["content_ids"] = [v["id"] for v in own_variants]
        variants[newsletter_id] = own_variants
        test_groups[newsletter_id] = own_groups
        newsletters.append(newsletter)
    newsletters.sort(key=lambda n: n["created"])
    ws.data["newsletters"] = newsletters
    ws.data["newsletter_variants"] = variants
    ws.data["newsletter_test_groups"] = test_groups


def newsletter_or_404(ws: Workspace, newsletter_id: str) -> dict:
    """Return a newsletter by its path id, or raise a 404."""
    for newsletter in ws.data["newsletters"]:
        if str(newsletter["id"]) == newsletter_id and not is_deleted(
            ws, "newsletters", newsletter["id"]
        ):
            return newsletter
    raise ApiError(404, "resource not found")


def list_newsletters(ws: Workspace, request: Any) -> dict:
    items = ws.data["newsletters"]
    if request.query.get("sort") == "desc":
        items = list(reversed(items))
    body = cursor_page(items, request, "newsletters", default_limit=50, max_limit=MAX_LIMIT)
    # Cursors count positions in the full list, so a deleted send leaves a short page
    # instead of shifting later pages.
    body["newsletters"] = [
        n for n in body["newsletters"] if not is_deleted(ws, "newsletters", n["id"])
    ]
    mark_listed(ws, "newsletters", body["newsletters"])
    return body


def get_newsletter(ws: Workspace, request: Any) -> dict:
    return {"newsletter": newsletter_or_404(ws, request.params["newsletter_id"])}


def list_variants(ws: Workspace, request: Any) -> dict:
    newsletter = newsletter_or_404(ws, request.params["newsletter_id"])
    return {"contents": ws.data["newsletter_variants"][newsletter["id"]]}


def list_test_groups(ws: Workspace, request: Any) -> dict:
    """Serve the A/B test groups. The path and key follow the inferred API reference."""
    newsletter = newsletter_or_404(ws, request.params["newsletter_id"])
    return {"test_groups": ws.data["newsletter_test_groups"][newsletter["id"]]}


ROUTES = [
    ("GET", "/newsletters", list_newsletters),
    ("GET", r"/newsletters/(?P<newsletter_id>[^/]+)", get_newsletter),
    ("GET", r"/newsletters/(?P<newsletter_id>[^/]+)/contents", list_variants),
    ("GET", r"/newsletters/(?P<newsletter_id>[^/]+)/test_groups", list_test_groups),
]


def truth_newsletters(ws: Workspace, config: dict) -> list[dict]:
    out = []
    for newsletter in ws.data["newsletters"]:
        if not in_window(config, newsletter["updated"]):
            continue
        if is_deleted(ws, "newsletters", newsletter["id"]):
            continue
        record = dict(newsletter)
        for name in TIMESTAMPS:
            record[name] = iso(record[name])
        out.append(record)
    return out


def newsletters_with_children(ws: Workspace) -> list[int]:
    """Return the ids of the sends whose children a correct tap reads."""
    return [
        n["id"] for n in ws.data["newsletters"] if not children_gone(ws, "newsletters", n["id"])
    ]


def truth_variants(ws: Workspace, config: dict) -> list[dict]:
    out = []
    for newsletter_id in newsletters_with_children(ws):
        for variant in ws.data["newsletter_variants"][newsletter_id]:
            out.append(
                dict(variant, created=iso(variant["created"]), updated=iso(variant["updated"]))
            )
    return out


def truth_test_groups(ws: Workspace, config: dict) -> list[dict]:
    out = []
    for newsletter_id in newsletters_with_children(ws):
        for group in ws.data["newsletter_test_groups"][newsletter_id]:
            out.append(dict(group, newsletter_id=newsletter_id))
    return out


TRUTH = {
    "newsletters": truth_newsletters,
    "newsletter_variants": truth_variants,
    "newsletter_test_groups": truth_test_groups,
}
