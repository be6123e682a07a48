"""Activities (``GET /v1/activities``): newest first, no time filter.

The API guarantees 30 days of history and may return older activities; the
simulator keeps some from up to 45 days back and serves them.
"""

from __future__ import annotations

import random
from typing import Any

from sandbox.paging import cursor_page
from sandbox.workspace import DAY, Workspace, config_epoch, iso

MAX_LIMIT = 100
HISTORY_DAYS = 45

EVENT_NAMES = ["purchase", "page_view", "Einkauf abgeschlossen", "ログイン"]
DELIVERY_TYPES = ["sent_email", "opened_email", "clicked_email", "delivered_push"]
OTHER_TYPES = ["event", "attribute_change", "page", "profile_create"]


def make_activity(ws: Workspace, rng: random.Random, timestamp: int) -> dict:
    """Build one activity as ``GET /v1/activities`` lists it."""
    if rng.random() < 0.05:
        identifiers = {"cio_id": rng.choice(ws.data["deleted_people"])}
        customer_id = None
    else:
        identifiers = dict(rng.choice(ws.data["people"])["identifiers"])
        customer_id = identifiers["id"]
    activity_type = rng.choice(DELIVERY_TYPES + OTHER_TYPES)
    activity: dict[str, Any] = {
        "id": f"01J{rng.getrandbits(80):020X}",
        "type": activity_type,
        "timestamp": timestamp,
        "customer_id": customer_id,
        "customer_identifiers": identifiers,
    }
    if activity_type in DELIVERY_TYPES:
        activity["delivery_id"] = f"dlv{rng.getrandbits(48):012x}=="
        activity["delivery_type"] = activity_type.split("_", 1)[1]
        activity["data"] = {"subject": "Ça va ? 🎉", "metadata": None}
        if activity_type == "clicked_email":
            activity["data"]["href"] = "https://example.com/a?b=1&c=ü"
    elif activity_type == "event":
        activity["name"] = rng.choice(EVENT_NAMES)
        activity["data"] = {"total": 19.5, "items": [{"sku": "A-1", "qty": 2}], "nested": {}}
    elif activity_type == "attribute_change":
        activity["name"] = rng.choice(["plan", "address.city", "favourite colour"])
        activity["data"] = {"old": "free", "new": "pro"}
    elif activity_type == "page":
        activity["name"] = "https://example.com/produkte/über-uns"
        activity["data"] = {}
    return activity


def generate(ws: Workspace, rng: random.Random) -> None:
    """Create the activities; several share a second, so equal timestamps occur."""
    activities = []
    while len(activities) < ws.counts["activities"]:
        timestamp = ws.now - int(rng.uniform(0, HISTORY_DAYS) * DAY)
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            activities.append(make_activity(ws, rng, timestamp))
    ws.data["activities"] = activities


def newest_first(ws: Workspace) -> list[dict]:
    """Return the activities in list order: newest first by ``timestamp``."""
    return sorted(ws.data["activities"], key=lambda a: (-a["timestamp"], a["id"]))


def list_activities(ws: Workspace, request: Any) -> dict:
    return cursor_page(
        newest_first(ws), request, "activities", default_limit=10, max_limit=MAX_LIMIT
    )


ROUTES = [("GET", "/activities", list_activities)]


def truth_activities(ws: Workspace, config: dict) -> list[dict]:
    """Activities from ``start_date`` (inclusive) to ``end_date`` (inclusive)."""
    start = config_epoch(config, "start_date")
    end = config_epoch(config, "end_date")
    out = []
    for activity in newest_first(ws):
        if start is not None and activity["timestamp"] < start:
            continue
        if end is not None and activity["timestamp"] > end:
            continue
        out.append(dict(activity, timestamp=iso(activity["timestamp"])))
    return out


TRUTH = {"activities": truth_activities}
