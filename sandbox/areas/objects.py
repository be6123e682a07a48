"""Custom object types and their objects.

How objects are listed is not documented: the simulator follows the best public
evidence, a client library's stubbed ``POST /v1/objects`` whose body contains
``object_type_id`` (a string) and an ``object_attribute`` filter, returning
``identifiers`` [{``object_id``, ``cio_object_id``}], ``ids`` and a ``next`` cursor.
The attribute lookup returns ``{"object": {"identifiers": ..., "attributes": ...}}``
by analogy with a person's attributes.
"""

from __future__ import annotations

import random
from typing import Any

from sandbox.paging import cursor_page
from sandbox.server_errors import ApiError
from sandbox.workspace import Workspace

#: Page sizes the simulator enforces, because the search documents none.
OBJECTS_DEFAULT_LIMIT = 10
OBJECTS_MAX_LIMIT = 1000

TYPE_NAMES = [
    ("Companies", "Company", "companies", "company", "building"),
    ("Kurse (Wien)", "Kurs", "kurse", "kurs", "school"),
    ("アカウント", "アカウント", "accounts", "account", "user"),
    ("Projects", "Project", "projects", "project", "folder"),
]

#: Object ids that must be URL-encoded in a path: spaces, slashes, reserved
#: characters, percent signs and non-ASCII text.
HARD_OBJECT_IDS = [
    "acme corp",
    "a/b/c",
    "Zürich & Söhne",
    "50% off",
    "what?x=1#frag",
    "東京-01",
    "plus+sign",
    "dot.name",
]

#: An object id that exists in two types, so only (type, id) is unique.
SHARED_OBJECT_ID = "shared-1"


def make_attributes(rng: random.Random, index: int) -> dict[str, Any]:
    """Build free-form attributes, with dotted and spaced names and non-ASCII text."""
    if index % 11 == 5:
        return {}
    attributes: dict[str, Any] = {
        "name": f"Objekt «{index}» — ünïcødé",
        "plan.tier": rng.choice(["free", "pro", "enterprise"]),
        "account owner": rng.choice(["ana@example.com", "李雷", None]),
        "seats": str(rng.randint(1, 500)),
        "created_at": str(1_700_000_000 + index * 3600),
    }
    if index % 3 == 0:
        attributes["address"] = {"city": "Kraków", "zip": None}
    if index % 4 == 0:
        attributes["tags"] = ["vip", "été"]
    return attributes


def generate(ws: Workspace, rng: random.Random) -> None:
    """Create the object types and spread the objects over all but the last type.

    The last type has no objects, so the tap meets an empty search result.
    """
    type_count = max(2, ws.counts["object_types"])
    types = []
    for index in range(type_count):
        name, singular, slug, singular_slug, icon = TYPE_NAMES[index % len(TYPE_NAMES)]
        types.append(
            {
                # The list sends ids as strings, while paths use the integer.
                "id": str(index + 1),
                "name": name if index < len(TYPE_NAMES) else f"{name} {index}",
                "singular_name": singular,
                "slug": slug if index < len(TYPE_NAMES) else f"{slug}-{index}",
                "singular_slug": singular_slug,
                "icon": icon,
                "enabled": index != 1,
            }
        )

    objects: dict[int, list[dict]] = {int(t["id"]): [] for t in types}
    filled = [int(t["id"]) for t in types[:-1]]
    for index in range(ws.counts["objects"]):
        type_id = filled[index % len(filled)]
        if index < len(HARD_OBJECT_IDS):
            object_id = HARD_OBJECT_IDS[index]
        elif index in (len(HARD_OBJECT_IDS), len(HARD_OBJECT_IDS) + 1):
            object_id = SHARED_OBJECT_ID
        else:
            object_id = f"obj-{index:05d}"
        objects[type_id].append(
            {
                "object_id": object_id,
                "cio_object_id": f"ob{rng.getrandbits(40):010x}",
                "attributes": make_attributes(rng, index),
            }
        )
    ws.data["object_types"] = types
    ws.data["objects"] = objects


def type_or_error(ws: Workspace, raw_id: Any, status: int) -> int:
    """Return an object type id as an integer, or raise an ApiError with ``status``."""
    try:
        type_id = int(str(raw_id))
    except ValueError:
        raise ApiError(400, f"object_type_id must be an integer, got {raw_id!r}") from None
    if type_id not in ws.data["objects"]:
        raise ApiError(status, "resource not found")
    return type_id


def condition_matches(condition: dict, obj: dict) -> bool:
    """Evaluate an ``and``/``or``/``not`` filter with ``object_attribute`` leaves."""
    if not isinstance(condition, dict) or len(condition) != 1:
        raise ApiError(400, "each filter condition must have exactly one key")
    ((operator, operand),) = condition.items()
    if operator == "and":
        return all(condition_matches(c, obj) for c in operand)
    if operator == "or":
        return any(condition_matches(c, obj) for c in operand)
    if operator == "not":
        return not condition_matches(operand, obj)
    if operator != "object_attribute":
        raise ApiError(400, f"unsupported filter condition {operator!r}")
    field = operand.get("field")
    identifier = field in ("object_id", "cio_object_id")
    value = obj[field] if identifier else obj["attributes"].get(field)
    if operand.get("operator") == "exists":
        return value is not None
    if operand.get("operator") == "eq":
        return value is not None and str(value) == str(operand.get("value"))
    raise ApiError(400, f"unsupported operator {operand.get('operator')!r}")


def list_object_types(ws: Workspace, request: Any) -> dict:
    return {"types": ws.data["object_types"]}


def search_objects(ws: Workspace, request: Any) -> dict:
    body = request.body
    if not isinstance(body, dict) or "object_type_id" not in body:
        raise ApiError(400, "the body must contain object_type_id")
    if not isinstance(body.get("filter"), dict):
        raise ApiError(400, "the body must contain a filter object")
    type_id = type_or_error(ws, body["object_type_id"], 400)
    found = [
        {"object_id": o["object_id"], "cio_object_id": o["cio_object_id"]}
        for o in ws.data["objects"][type_id]
        if condition_matches(body["filter"], o)
    ]
    page = cursor_page(
        found,
        request,
        "identifiers",
        default_limit=OBJECTS_DEFAULT_LIMIT,
        max_limit=OBJECTS_MAX_LIMIT,
    )
    page["ids"] = [i["object_id"] for i in page["identifiers"]]
    return page


def get_object_attributes(ws: Workspace, request: Any) -> dict:
    type_id = type_or_error(ws, request.params["object_type_id"], 404)
    id_type = request.query.get("id_type", "object_id")
    if id_type not in ("object_id", "cio_object_id"):
        raise ApiError(400, f"id_type must be object_id or cio_object_id, got {id_type!r}")
    requested_id = request.params["object_id"]
    for obj in ws.data["objects"][type_id]:
        if obj[id_type] == requested_id:
            identifiers = {"object_id": obj["object_id"], "cio_object_id": obj["cio_object_id"]}
            return {"object": {"identifiers": identifiers, "attributes": obj["attributes"]}}
    raise ApiError(404, "resource not found")


ROUTES = [
    ("GET", "/object_types", list_object_types),
    ("POST", "/objects", search_objects),
    (
        "GET",
        r"/objects/(?P<object_type_id>[^/]+)/(?P<object_id>[^/]+)/attributes",
        get_object_attributes,
    ),
]


def truth_object_types(ws: Workspace, config: dict) -> list[dict]:
    return [dict(t, id=int(t["id"])) for t in ws.data["object_types"]]


def truth_objects(ws: Workspace, config: dict) -> list[dict]:
    return [
        {
            "object_type_id": type_id,
            "object_id": obj["object_id"],
            "cio_object_id": obj["cio_object_id"],
            "attributes": obj["attributes"],
        }
        for type_id, objects in ws.data["objects"].items()
        for obj in objects
    ]


TRUTH = {"object_types": truth_object_types, "objects": truth_objects}
