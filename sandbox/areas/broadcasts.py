"""API-triggered broadcasts."""

from __future__ import annotations

import random
from typing import Any

from sandbox.areas.campaigns import make_action
from sandbox.areas.common import past, pick_name, pick_tags
from sandbox.areas.deletions import children_gone, is_deleted, mark_listed
from sandbox.paging import cursor_page
from sandbox.server_errors import ApiError
from sandbox.workspace import Workspace, in_window, iso

#: The API documents no paging for broadcast actions. The simulator pages them by
#: this many, and leaves ``next`` out when they fit on one page, so both the
#: documented single response and a defensive cursor walk are exercised.
ACTIONS_PAGE = 10


def make_triggers(
    rng: random.Random, ws: Workspace, broadcast_id: int, first_id: int, count: int, since_ts: int
) -> list[dict]:
    """Build the triggers of one broadcast, newest first. The newest may be unprocessed."""
    triggers = []
    for offset in range(count):
        created_at = past(rng, ws.now, (ws.now - since_ts) / 86400)
        triggers.append(
            {
                "id": first_id + offset,
                "broadcast_id": broadcast_id,
                "created_at": created_at,
                "processed_at": created_at + rng.randint(1, 120),
            }
        )
    triggers.sort(key=lambda trigger: trigger["created_at"], reverse=True)
    if triggers and rng.random() < 0.5:
        triggers[0]["processed_at"] = None
    return triggers


def generate(ws: Workspace, rng: random.Random) -> None:
    """Create the broadcasts with their actions and triggers.

    The first broadcast has enough actions for several pages and the second has many
    triggers. The others have a few, and some have none.
    """
    broadcasts = []
    actions: dict[int, list[dict]] = {}
    triggers: dict[int, list[dict]] = {}
    child_rng = random.Random(f"{ws.seed}:broadcast_children")
    action_id = 5000
    trigger_id = 9000
    for index in range(ws.counts["broadcasts"]):
        broadcast_id = 500 + index
        created = past(rng, ws.now, 400, 20)
        updated = min(ws.now, created + int(rng.uniform(0, 200) * 86400))

        action_count = 27 if index == 0 else child_rng.randint(0, 5)
        own_actions = []
        for _ in range(action_count):
            action_id += 1
            own_actions.append(
                make_action(ws, child_rng, "broadcast_id", broadcast_id, action_id, created)
            )
        actions[broadcast_id] = own_actions

        trigger_count = 35 if index == 1 else child_rng.randint(0, 6)
        triggers[broadcast_id] = make_triggers(
            child_rng, ws, broadcast_id, trigger_id + 1, trigger_count, created
        )
        trigger_id += trigger_count

        references = [{"type": a["type"], "id": int(a["id"])} for a in own_actions]
        broadcasts.append(
            {
                "id": broadcast_id,
                "deduplicate_id": f"{broadcast_id}:{updated}",
                "name": pick_name(rng, index + 5),
                "type": "triggered_broadcast",
                "active": True,
                "state": "running",
                "created": created,
                "updated": updated,
                "first_started": created + 60,
                "created_by": "björn@example.com",
                "tags": pick_tags(rng),
                "actions": references,
                "msg_template_ids": [dict(reference) for reference in references],
            }
        )
    ws.data["broadcasts"] = broadcasts
    ws.data["broadcast_actions"] = actions
    ws.data["broadcast_triggers"] = triggers


def broadcast_or_404(ws: Workspace, broadcast_id: str) -> dict:
    """Return a broadcast by its path id, or raise a 404."""
    for broadcast in ws.data["broadcasts"]:
        if str(broadcast["id"]) == broadcast_id and not is_deleted(
            ws, "broadcasts", broadcast["id"]
        ):
            return broadcast
    raise ApiError(404, "resource not found")


def list_broadcasts(ws: Workspace, request: Any) -> dict:
    listed = [b for b in ws.data["broadcasts"] if not is_deleted(ws, "broadcasts", b["id"])]
    mark_listed(ws, "broadcasts", listed)
    return {"broadcasts": listed}


def get_broadcast(ws: Workspace, request: Any) -> dict:
    return {"broadcast": broadcast_or_404(ws, request.params["broadcast_id"])}


def list_actions(ws: Workspace, request: Any) -> dict:
    broadcast = broadcast_or_404(ws, request.params["broadcast_id"])
    items = ws.data["broadcast_actions"][broadcast["id"]]
    body = cursor_page(items, request, "actions", default_limit=ACTIONS_PAGE, max_limit=None)
    if not body["next"] and "start" not in request.query:
        del body["next"]
    return body


def list_triggers(ws: Workspace, request: Any) -> dict:
    broadcast = broadcast_or_404(ws, request.params["broadcast_id"])
    return {"triggers": ws.data["broadcast_triggers"][broadcast["id"]]}


ROUTES = [
    ("GET", "/broadcasts", list_broadcasts),
    ("GET", r"/broadcasts/(?P<broadcast_id>[^/]+)", get_broadcast),
    ("GET", r"/broadcasts/(?P<broadcast_id>[^/]+)/actions", list_actions),
    ("GET", r"/broadcasts/(?P<broadcast_id>[^/]+)/triggers", list_triggers),
]


def truth_broadcasts(ws: Workspace, config: dict) -> list[dict]:
    out = []
    for broadcast in ws.data["broadcasts"]:
        if not in_window(config, broadcast["updated"]):
            continue
        if is_deleted(ws, "broadcasts", broadcast["id"]):
            continue
        record = dict(broadcast)
        for name in ("created", "updated", "first_started"):
            record[name] = iso(record[name])
        out.append(record)
    return out


def broadcasts_with_children(ws: Workspace) -> list[int]:
    """Return the ids of the broadcasts whose children a correct tap reads."""
    return [b["id"] for b in ws.data["broadcasts"] if not children_gone(ws, "broadcasts", b["id"])]


def truth_actions(ws: Workspace, config: dict) -> list[dict]:
    out = []
    for broadcast_id in broadcasts_with_children(ws):
        for action in ws.data["broadcast_actions"][broadcast_id]:
            if not in_window(config, action["updated"]):
                continue
            record = dict(action, id=int(action["id"]))
            record["created"] = iso(record["created"])
            record["updated"] = iso(record["updated"])
            out.append(record)
    return out


def truth_triggers(ws: Workspace, config: dict) -> list[dict]:
    out = []
    for broadcast_id in broadcasts_with_children(ws):
        for trigger in ws.data["broadcast_triggers"][broadcast_id]:
            if not in_window(config, trigger["created_at"]):
                continue
            out.append(
                dict(
                    trigger,
                    created_at=iso(trigger["created_at"]),
                    processed_at=iso(trigger["processed_at"]),
                )
            )
    return out


TRUTH = {
    "broadcasts": truth_broadcasts,
    "broadcast_actions": truth_actions,
    "broadcast_triggers": truth_triggers,
}
