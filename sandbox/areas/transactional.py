"""Transactional message templates."""

from __future__ import annotations

import random
from typing import Any

from sandbox.areas.campaigns import make_action
from sandbox.areas.common import past, pick_name
from sandbox.areas.deletions import children_gone, is_deleted, mark_listed
from sandbox.server_errors import ApiError
from sandbox.workspace import Workspace, in_window, iso

LANGUAGES = ["", "fr", "ja", "de", "es", "pt-BR", "zh-Hans", "ar", "ru", "pl", "tr"]


def make_contents(
    ws: Workspace, rng: random.Random, template: dict, first_id: int, count: int
) -> list[dict]:
    """Build the language variants of one template as ``/contents`` lists them.

    They have the fields of an action, an integer id and no template id.
    """
    contents = []
    for offset in range(count):
        content = make_action(
            ws, rng, "transactional_id", template["id"], first_id + offset, template["created_at"]
        )
        del content["transactional_id"]
        content.pop("url", None)
        content.pop("request_method", None)
        content["id"] = first_id + offset
        content["type"] = rng.choice(["email", "push"])
        content["language"] = LANGUAGES[offset % len(LANGUAGES)]
        content["body_plain"] = "Ihr Passwort — votre mot de passe"
        contents.append(content)
    return contents


def generate(ws: Workspace, rng: random.Random) -> None:
    """Create the transactional templates and their content variants.

    The first template has a variant for every language, the others one to three.
    """
    templates = []
    contents: dict[int, list[dict]] = {}
    child_rng = random.Random(f"{ws.seed}:transactional_children")
    content_id = 90
    for index in range(ws.counts["transactional"]):
        template_id = index + 1
        created = past(rng, ws.now, 700, 10)
        template = {
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
        count = len(LANGUAGES) if index == 0 else child_rng.randint(1, 3)
        contents[template_id] = make_contents(ws, child_rng, template, content_id + 1, count)
        content_id += count
        templates.append(template)
    ws.data["transactional"] = templates
    ws.data["transactional_contents"] = contents


def template_or_404(ws: Workspace, transactional_id: str) -> dict:
    """Return a template by its path id, or raise a 404."""
    for template in ws.data["transactional"]:
        if str(template["id"]) == transactional_id and not is_deleted(
            ws, "transactional", template["id"]
        ):
            return template
    raise ApiError(404, "resource not found")


def list_templates(ws: Workspace, request: Any) -> dict:
    listed = [t for t in ws.data["transactional"] if not is_deleted(ws, "transactional", t["id"])]
    mark_listed(ws, "transactional", listed)
    return {"messages": listed}


def get_template(ws: Workspace, request: Any) -> dict:
    return {"message": template_or_404(ws, request.params["transactional_id"])}


def list_contents(ws: Workspace, request: Any) -> dict:
    """Serve the variants under ``/contents``, a path spelling that is unverified."""
    template = template_or_404(ws, request.params["transactional_id"])
    return {"contents": ws.data["transactional_contents"][template["id"]]}


ROUTES = [
    ("GET", "/transactional", list_templates),
    ("GET", r"/transactional/(?P<transactional_id>[^/]+)", get_template),
    ("GET", r"/transactional/(?P<transactional_id>[^/]+)/contents", list_contents),
]


def truth_transactional(ws: Workspace, config: dict) -> list[dict]:
    out = []
    for template in ws.data["transactional"]:
        if not in_window(config, template["updated_at"]):
            continue
        if is_deleted(ws, "transactional", template["id"]):
            continue
        out.append(
            dict(
                template,
                created_at=iso(template["created_at"]),
                updated_at=iso(template["updated_at"]),
            )
        )
    return out


def truth_variants(ws: Workspace, config: dict) -> list[dict]:
    out = []
    for template in ws.data["transactional"]:
        if children_gone(ws, "transactional", template["id"]):
            continue
        for content in ws.data["transactional_contents"][template["id"]]:
            record = dict(content, transactional_id=template["id"])
            record["created"] = iso(record["created"])
            record["updated"] = iso(record["updated"])
            out.append(record)
    return out


TRUTH = {"transactional_messages": truth_transactional, "transactional_variants": truth_variants}
