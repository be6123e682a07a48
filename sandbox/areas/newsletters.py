"""One-time sends (newsletters)."""

from __future__ import annotations

import random
from typing import Any

from sandbox.areas.common import past, pick_name, pick_tags
from sandbox.paging import cursor_page
from sandbox.server_errors import ApiError
from sandbox.workspace import Workspace, config_epoch, iso

#: The API documents no maximum; the simulator accepts up to this many per page.
MAX_LIMIT = 100
TIMESTAMPS = ("created", "updated", "sent_at", "scheduled_at")


def generate(ws: Workspace, rng: random.Random) -> None:
    """Create the one-time sends, oldest first."""
    newsletters = []
    for index in range(ws.counts["newsletters"]):
        newsletter_id = 200 + index * 2
        created = past(rng, ws.now, 600, 1)
        updated = min(ws.now, created + int(rng.uniform(0, 30) * 86400))
        sent = rng.random() < 0.7
        newsletters.append(
            {
                "id": newsletter_id,
                "deduplicate_id": f"{newsletter_id}:{updated}",
                "name": pick_name(rng, index + 3),
                "type": rng.choice(["email", "push", "twilio", "in_app"]),
                "content_ids": [newsletter_id * 10 + k for k in range(rng.randint(1, 3))],
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
        )
    newsletters.sort(key=lambda n: n["created"])
    ws.data["newsletters"] = newsletters


def newsletter_or_404(ws: Workspace, newsletter_id: str) -> dict:
    """Return a newsletter by its path id, or answer 404."""
    for newsletter in ws.data["newsletters"]:
        if str(newsletter["id"]) == newsletter_id:
            return newsletter
    raise ApiError(404, "resource not found")


def list_newsletters(ws: Workspace, request: Any) -> dict:
    items = ws.data["newsletters"]
    if request.query.get("sort") == "desc":
        items = list(reversed(items))
    return cursor_page(items, request, "newsletters", default_limit=50, max_limit=MAX_LIMIT)


def get_newsletter(ws: Workspace, request: Any) -> dict:
    return {"newsletter": newsletter_or_404(ws, request.params["newsletter_id"])}


ROUTES = [
    ("GET", "/newsletters", list_newsletters),
    ("GET", r"/newsletters/(?P<newsletter_id>[^/]+)", get_newsletter),
]


def truth_newsletters(ws: Workspace, config: dict) -> list[dict]:
    start = config_epoch(config, "start_date")
    out = []
    for newsletter in ws.data["newsletters"]:
        if start is not None and newsletter["updated"] < start:
            continue
        record = dict(newsletter)
        for name in TIMESTAMPS:
            record[name] = iso(record[name])
        out.append(record)
    return out


TRUTH = {"newsletters": truth_newsletters}
