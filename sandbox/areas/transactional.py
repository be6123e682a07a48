"""Transactional message templates."""

from __future__ import annotations

import random
from typing import Any

from sandbox.areas.common import past, pick_name
from sandbox.server_errors import ApiError
from sandbox.workspace import Workspace, config_epoch, iso


def generate(ws: Workspace, rng: random.Random) -> None:
    """Create the transactional templates."""
    templates = []
    for index in range(ws.counts["transactional"]):
        template_id = index + 1
        created = past(rng, ws.now, 700, 10)
        templates.append(
            {
                "id": template_id,
                "name": pick_name(rng, index + 7),
                "description": "Password reset — réinitialisation" if index == 0 else None,
                "send_to_unsubscribed": True,
                "link_tracking": rng.random() < 0.5,
                "open_tracking": rng.random() < 0.5,
                "hide_message_body": False,
                "queue_drafts": False,
                "trigger_name": f"trigger_{template_id}",
                "created_at": created,
                "updated_at": min(ws.now, created + int(rng.uniform(0, 300) * 86400)),
            }
        )
    ws.data["transactional"] = templates


def template_or_404(ws: Workspace, transactional_id: str) -> dict:
    """Return a template by its path id, or answer 404."""
    for template in ws.data["transactional"]:
        if str(template["id"]) == transactional_id:
            return template
    raise ApiError(404, "resource not found")


def list_templates(ws: Workspace, request: Any) -> dict:
    return {"messages": ws.data["transactional"]}


def get_template(ws: Workspace, request: Any) -> dict:
    return {"message": template_or_404(ws, request.params["transactional_id"])}


ROUTES = [
    ("GET", "/transactional", list_templates),
    ("GET", r"/transactional/(?P<transactional_id>[^/]+)", get_template),
]


def truth_transactional(ws: Workspace, config: dict) -> list[dict]:
    start = config_epoch(config, "start_date")
    out = []
    for template in ws.data["transactional"]:
        if start is not None and template["updated_at"] < start:
            continue
        out.append(
            dict(
                template,
                created_at=iso(template["created_at"]),
                updated_at=iso(template["updated_at"]),
            )
        )
    return out


TRUTH = {"transactional_messages": truth_transactional}
