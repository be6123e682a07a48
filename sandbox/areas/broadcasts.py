"""API-triggered broadcasts."""

from __future__ import annotations

import random
from typing import Any

from sandbox.areas.common import past, pick_name, pick_tags
from sandbox.server_errors import ApiError
from sandbox.workspace import Workspace, config_epoch, iso


def generate(ws: Workspace, rng: random.Random) -> None:
    """Create the broadcasts."""
    broadcasts = []
    for index in range(ws.counts["broadcasts"]):
        broadcast_id = 500 + index
        created = past(rng, ws.now, 400, 20)
        updated = min(ws.now, created + int(rng.uniform(0, 200) * 86400))
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
                "actions": [],
                "msg_template_ids": [],
            }
        )
    ws.data["broadcasts"] = broadcasts


def broadcast_or_404(ws: Workspace, broadcast_id: str) -> dict:
    """Return a broadcast by its path id, or answer 404."""
    for broadcast in ws.data["broadcasts"]:
        if str(broadcast["id"]) == broadcast_id:
            return broadcast
    raise ApiError(404, "resource not found")


def list_broadcasts(ws: Workspace, request: Any) -> dict:
    return {"broadcasts": ws.data["broadcasts"]}


def get_broadcast(ws: Workspace, request: Any) -> dict:
    return {"broadcast": broadcast_or_404(ws, request.params["broadcast_id"])}


ROUTES = [
    ("GET", "/broadcasts", list_broadcasts),
    ("GET", r"/broadcasts/(?P<broadcast_id>[^/]+)", get_broadcast),
]


def truth_broadcasts(ws: Workspace, config: dict) -> list[dict]:
    start = config_epoch(config, "start_date")
    out = []
    for broadcast in ws.data["broadcasts"]:
        if start is not None and broadcast["updated"] < start:
            continue
        record = dict(broadcast)
        for name in ("created", "updated", "first_started"):
            record[name] = iso(record[name])
        out.append(record)
    return out


TRUTH = {"broadcasts": truth_broadcasts}
