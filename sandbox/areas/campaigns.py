"""Automations (campaigns) and their actions."""

from __future__ import annotations

import random
from typing import Any

from sandbox.areas.common import past, pick_name, pick_tags
from sandbox.paging import cursor_page
from sandbox.server_errors import ApiError
from sandbox.workspace import Workspace, in_window, iso

#: The actions list documents no ``limit``; the simulator pages it by this many.
ACTIONS_PAGE = 10
ACTION_TYPES = ["email", "push", "twilio", "webhook", "in_app", "slack"]


def make_action(
    ws: Workspace, rng: random.Random, parent_key: str, parent_id: int, action_id: int, created: int
) -> dict:
    """Build one action as the API lists it, with its id as a JSON string."""
    action_type = rng.choice(ACTION_TYPES)
    updated = min(ws.now, created + int(rng.uniform(0, 60) * 86400))
    action = {
        "id": str(action_id),
        parent_key: parent_id,
        "deduplicate_id": f"{action_id}:{updated}",
        "name": pick_name(rng, action_id),
        "type": action_type,
        "language": rng.choice(["", "", "fr", "ja"]),
        "layout": "{{ content }}",
        "body": "<p>Hallo {{customer.first_name}} — ça va?</p>",
        "subject": rng.choice(["Hello", "Ça va ?", "ようこそ", None]),
        "from": "Team <team@example.com>",
        "from_id": rng.randint(1, 5),
        "reply_to": None,
        "reply_to_id": None,
        "recipient": "{{customer.email}}",
        "fake_bcc": False,
        "headers": '{"X-Campaign": "1"}',
        "preprocessor": "premailer",
        "created": created,
        "updated": updated,
        "sending_state": rng.choice(["automatic", "draft", "off"]),
        "parent_action_id": None,
        "tracked": True,
    }
    if action_type == "webhook":
        action["url"] = "https://hooks.example.com/endpoint?x=1"
        action["request_method"] = "POST"
    return action


def generate(ws: Workspace, rng: random.Random) -> None:
    """Create the campaigns and their actions."""
    campaigns = []
    actions: dict[int, list[dict]] = {}
    action_id = 1000
    for index in range(ws.counts["campaigns"]):
        campaign_id = index * 3 + 1
        created = past(rng, ws.now, 500, 30)
        updated = min(ws.now, created + int(rng.uniform(0, 400) * 86400))
        own_actions = []
        for _ in range(rng.randint(0, 23) if index % 4 == 0 else rng.randint(1, 5)):
            action_id += 1
            own_actions.append(make_action(ws, rng, "campaign_id", campaign_id, action_id, created))
        actions[campaign_id] = own_actions
        campaigns.append(
            {
                "id": campaign_id,
                "deduplicate_id": f"{campaign_id}:{updated}",
                "name": pick_name(rng, index),
                "type": rng.choice(["segment", "event", "date"]),
                "created": created,
                "updated": updated,
                "first_started": created + 3600,
                "active": rng.random() < 0.7,
                "state": rng.choice(["running", "draft", "stopped"]),
                "actions": [{"type": a["type"], "id": int(a["id"])} for a in own_actions],
                "msg_templates": [{"type": a["type"], "id": int(a["id"])} for a in own_actions],
                "tags": pick_tags(rng),
                "trigger_segment_ids": [rng.randint(1, 6)],
                "filter_segment_ids": [],
                "created_by": "ana@example.com",
                "event_name": "signed_up" if index % 2 else None,
                "audience": None if index % 3 == 0 else {"type": 1, "person_filters": {"and": []}},
                "object_attribute_triggers": "[]",
                "timezone": "Europe/Berlin",
                "use_customer_timezone": False,
            }
        )
    ws.data["campaigns"] = campaigns
    ws.data["campaign_actions"] = actions


def campaign_or_404(ws: Workspace, campaign_id: str) -> dict:
    """Return a campaign by its path id, or raise a 404."""
    for campaign in ws.data["campaigns"]:
        if str(campaign["id"]) == campaign_id:
            return campaign
    raise ApiError(404, "resource not found")


def list_campaigns(ws: Workspace, request: Any) -> dict:
    return {"campaigns": ws.data["campaigns"]}


def get_campaign(ws: Workspace, request: Any) -> dict:
    return {"campaign": campaign_or_404(ws, request.params["campaign_id"])}


def list_actions(ws: Workspace, request: Any) -> dict:
    campaign = campaign_or_404(ws, request.params["campaign_id"])
    items = ws.data["campaign_actions"].get(campaign["id"], [])
    return cursor_page(items, request, "actions", default_limit=ACTIONS_PAGE, max_limit=None)


ROUTES = [
    ("GET", "/campaigns", list_campaigns),
    ("GET", r"/campaigns/(?P<campaign_id>[^/]+)", get_campaign),
    ("GET", r"/campaigns/(?P<campaign_id>[^/]+)/actions", list_actions),
]


def truth_campaigns(ws: Workspace, config: dict) -> list[dict]:
    out = []
    for campaign in ws.data["campaigns"]:
        if not in_window(config, campaign["updated"]):
            continue
        record = dict(campaign)
        for name in ("created", "updated", "first_started"):
            record[name] = iso(record[name])
        out.append(record)
    return out


def truth_campaign_actions(ws: Workspace, config: dict) -> list[dict]:
    out = []
    for campaign_id, actions in ws.data["campaign_actions"].items():
        for action in actions:
            if not in_window(config, action["updated"]):
                continue
            record = dict(action, id=int(action["id"]), campaign_id=campaign_id)
            record["created"] = iso(record["created"])
            record["updated"] = iso(record["updated"])
            out.append(record)
    return out


TRUTH = {"campaigns": truth_campaigns, "campaign_actions": truth_campaign_actions}
