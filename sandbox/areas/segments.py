"""Segments."""

from __future__ import annotations

import random
from typing import Any

from sandbox.areas.common import past, pick_name, pick_tags
from sandbox.server_errors import ApiError
from sandbox.workspace import Workspace, config_epoch, iso

PRO_PLAN = {"field": "plan", "operator": "eq", "value": "pro"}


def generate(ws: Workspace, rng: random.Random) -> None:
    """Create the segments; archived ones exist but are never listed."""
    segments = []
    for index in range(ws.counts["segments"]):
        segment_id = index + 1
        created = past(rng, ws.now, 900, 5)
        updated = min(ws.now, created + int(rng.uniform(0, 500) * 86400))
        manual = index % 3 == 2
        segments.append(
            {
                "id": segment_id,
                "deduplicate_id": f"{segment_id}:{updated}",
                "name": pick_name(rng, index + 2),
                "description": "Käufer in der EU" if index == 1 else "",
                "state": "events" if index else "build",
                "progress": None if index else 42,
                "type": "manual" if manual else "dynamic",
                "tags": pick_tags(rng),
                "conditions": None if manual else {"and": [{"attribute": PRO_PLAN}]},
                "created_at": created,
                "updated_at": updated,
                "archived": index == ws.counts["segments"] - 1 and index > 2,
            }
        )
    ws.data["segments"] = segments


def listed_segments(ws: Workspace) -> list[dict]:
    """Return the segments the list endpoint shows: archived ones are omitted."""
    return [
        {k: v for k, v in s.items() if k != "archived"}
        for s in ws.data["segments"]
        if not s["archived"]
    ]


def segment_or_404(ws: Workspace, segment_id: str) -> dict:
    """Return a listed segment by its path id, or answer 404."""
    for segment in listed_segments(ws):
        if str(segment["id"]) == segment_id:
            return segment
    raise ApiError(404, "resource not found")


def list_segments(ws: Workspace, request: Any) -> dict:
    return {"segments": listed_segments(ws)}


def get_segment(ws: Workspace, request: Any) -> dict:
    return {"segment": segment_or_404(ws, request.params["segment_id"])}


ROUTES = [
    ("GET", "/segments", list_segments),
    ("GET", r"/segments/(?P<segment_id>[^/]+)", get_segment),
]


def truth_segments(ws: Workspace, config: dict) -> list[dict]:
    start = config_epoch(config, "start_date")
    out = []
    for segment in listed_segments(ws):
        if start is not None and segment["updated_at"] < start:
            continue
        out.append(
            dict(
                segment,
                created_at=iso(segment["created_at"]),
                updated_at=iso(segment["updated_at"]),
            )
        )
    return out


TRUTH = {"segments": truth_segments}
