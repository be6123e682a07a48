"""Deliveries (``GET /v1/messages``) with the API's 6-month window rules."""

from __future__ import annotations

import bisect
import random
import string
import time
from typing import Any

from sandbox.paging import cursor_page
from sandbox.server_errors import ApiError
from sandbox.workspace import DAY, Workspace, config_epoch, iso

MAX_LIMIT = 1000
#: The longest range one request serves. The docs give "6 months", so 182 days here.
SIX_MONTHS = 182 * DAY
#: Deliveries are spread over this many days before the workspace's ``now``.
HISTORY_DAYS = 450
#: Extra deliveries sit exactly on, and one second before, every multiple of this
#: many days before ``now``, so windows that start at such a point hit them.
BOUNDARY_STEP_DAYS = 10

SUBJECTS = ["Willkommen, {name}!", "Ça va ? 🎉", "ご注文ありがとうございます", "Your receipt", None]
CHANNELS = ["email", "push", "twilio", "in_app", "webhook"]
ID_ALPHABET = string.ascii_letters + string.digits


def delivery_id(rng: random.Random) -> str:
    """Return an opaque delivery id like the API's base64-looking ids."""
    return "".join(rng.choice(ID_ALPHABET) for _ in range(22)) + "=="


def make_delivery(ws: Workspace, rng: random.Random, created: int) -> dict:
    """Build one delivery as ``GET /v1/messages`` lists it."""
    channel = rng.choice(CHANNELS)
    people = ws.data["people"]
    deleted = rng.random() < 0.05
    if deleted:
        # Deliveries of deleted people keep only the cio_id.
        identifiers = {"cio_id": rng.choice(ws.data["deleted_people"])}
        customer_id = None
    else:
        person = rng.choice(people)["identifiers"]
        identifiers = dict(person)
        customer_id = person["id"]
    item_id = delivery_id(rng)
    delivery: dict[str, Any] = {
        "id": item_id,
        "deduplicate_id": f"{item_id}:{created}",
        "created": created,
        "type": channel,
        "recipient": identifiers.get("email") or "device-token",
        "subject": rng.choice(SUBJECTS),
        "customer_id": customer_id,
        "customer_identifiers": identifiers,
        "forgotten": deleted,
        "failure_message": None,
        "trigger_event_id": None,
        "message_template_id": rng.randint(1, 40),
    }
    source = rng.random()
    if source < 0.5 and ws.data.get("campaigns"):
        campaign = rng.choice(ws.data["campaigns"])
        delivery["campaign_id"] = campaign["id"]
        delivery["action_id"] = rng.randint(1001, 1100)
        delivery["trigger_event_id"] = f"01HZ{rng.getrandbits(40):010X}"
    elif source < 0.75 and ws.data.get("newsletters"):
        newsletter = rng.choice(ws.data["newsletters"])
        delivery["newsletter_id"] = newsletter["id"]
        delivery["content_id"] = newsletter["content_ids"][0]
    elif source < 0.85 and ws.data.get("broadcasts"):
        delivery["broadcast_id"] = rng.choice(ws.data["broadcasts"])["id"]
        delivery["action_id"] = rng.randint(2001, 2050)
    else:
        delivery["transactional_message_id"] = rng.randint(1, 5)
        delivery["msg_template_id"] = delivery["message_template_id"]
    if delivery["subject"] and "{name}" in delivery["subject"]:
        delivery["subject"] = delivery["subject"].format(name=rng.choice(["Zoë", "José"]))

    metrics: dict[str, int] = {}
    moment = created
    for metric in ("sent", "delivered", "opened", "clicked"):
        moment += rng.randint(1, 3600)
        if moment > ws.now or (metrics and rng.random() < 0.3):
            break
        metrics[metric] = moment
    if channel == "push" and "delivered" in metrics:
        metrics["secondary:delivered"] = metrics["delivered"] + 1
    if rng.random() < 0.05:
        metrics = {"failed": created + 1}
        delivery["failure_message"] = "Adresse ungültig / invalid address"
    delivery["metrics"] = metrics
    return delivery


def generate(ws: Workspace, rng: random.Random) -> None:
    """Create the deliveries; the list order is by id, not by time."""
    moments = []
    for days in range(BOUNDARY_STEP_DAYS, HISTORY_DAYS, BOUNDARY_STEP_DAYS):
        moments += [ws.now - days * DAY, ws.now - days * DAY - 1]
    while len(moments) < ws.counts["deliveries"]:
        moments.append(ws.now - int(rng.uniform(0, HISTORY_DAYS) * DAY))
    deliveries = [make_delivery(ws, rng, created) for created in moments]
    deliveries.sort(key=lambda d: d["id"])
    ws.data["deliveries"] = deliveries


def window_of(request: Any, now: int) -> tuple[int, int]:
    """Return the inclusive creation-time range one request covers.

    No bounds: the last 6 months. Only ``end_ts``: the 6 months before it. Only
    ``start_ts``: up to now. A range longer than 6 months: its most recent 6 months.
    """
    start = request.int_query("start_ts")
    end = request.int_query("end_ts")
    if end is None:
        end = now
    if start is None:
        start = end - SIX_MONTHS
    start = max(start, end - SIX_MONTHS)
    return start, end


def deliveries_in(ws: Workspace, start: int, end: int) -> list[dict]:
    """Return the deliveries created in ``[start, end]``, in list order.

    A scan of a million deliveries takes seconds, so the positions sorted by
    creation time are indexed once per list and length, and the last window's
    result is kept for its next pages. Tests that move a delivery in time replace
    or extend the list rather than edit ``created`` in place.
    """
    deliveries = ws.data["deliveries"]
    key = (id(deliveries), len(deliveries))
    cache = ws.cache.setdefault("deliveries", {})
    if cache.get("key") != key:
        order = sorted(range(len(deliveries)), key=lambda i: deliveries[i]["created"])
        cache.clear()
        cache.update(key=key, order=order, created=[deliveries[i]["created"] for i in order])
    if cache.get("window") != (start, end):
        low = bisect.bisect_left(cache["created"], start)
        high = bisect.bisect_right(cache["created"], end)
        positions = sorted(cache["order"][low:high])
        cache.update(window=(start, end), items=[deliveries[i] for i in positions])
    return cache["items"]


def list_messages(ws: Workspace, request: Any) -> dict:
    start, end = window_of(request, int(time.time()))
    if start > end:
        raise ApiError(400, "start_ts must not be after end_ts")
    items = deliveries_in(ws, start, end)
    return cursor_page(items, request, "messages", default_limit=50, max_limit=MAX_LIMIT)


ROUTES = [("GET", "/messages", list_messages)]


def delivery_record(delivery: dict) -> dict:
    """Return a delivery as a correct tap emits it: every timestamp in ISO 8601."""
    record = dict(delivery)
    record["created"] = iso(delivery["created"])
    record["metrics"] = {name: iso(value) for name, value in delivery["metrics"].items()}
    return record


def truth_messages(ws: Workspace, config: dict) -> list[dict]:
    """Deliveries created from ``start_date`` (else 365 days ago) to ``end_date`` (else now)."""
    now = int(time.time())
    start = config_epoch(config, "start_date")
    end = config_epoch(config, "end_date")
    lower = start if start is not None else now - 365 * DAY
    upper = min(end, now) if end is not None else now
    return [delivery_record(d) for d in ws.data["deliveries"] if lower <= d["created"] <= upper]


TRUTH = {"messages": truth_messages}
