"""People (customers): the people search and the batched attribute reads.

``ws.data["people"]`` contains each profile as ``POST /v1/customers/attributes`` returns
it, plus the simulator-only keys ``_segment_ids`` (segment membership) and
``_has_identifiers`` (whether the attribute read includes ``identifiers``, which the
API documents as optional). ``ws.data["deleted_people"]`` contains cio_ids of deleted
people, whose deliveries and activities keep only the cio_id.
"""

from __future__ import annotations

import json
import random
from typing import Any

from sandbox.paging import cursor_page
from sandbox.server_errors import ApiError
from sandbox.workspace import DAY, Workspace, iso

#: ``limit`` of the people search: connectors send 1000; the simulator allows no more.
SEARCH_MAX_LIMIT = 1000
#: Documented maximum number of ids per attribute read.
ATTRIBUTES_MAX_IDS = 100
ID_TYPES = ("cio_id", "id", "email")

FIRST_NAMES = ["Zoë", "José", "Łukasz", "山田", "Ana", "Søren", "O'Brien", "Иван", "Amélie"]
CITIES = ["Zürich", "São Paulo", "Kraków", "東京", "Berlin", None]


def make_person(rng: random.Random, index: int, now: int) -> dict:
    """Build one profile with string attribute values, as the attribute read returns it."""
    cio_id = f"{0xA000 + index:04x}{rng.getrandbits(24):06x}"
    first_name = FIRST_NAMES[index % len(FIRST_NAMES)]
    # Every ninth person has no id; ids and emails include characters that need
    # URL encoding (``+``, ``/``, spaces, non-ASCII).
    person_id = None if index % 9 == 4 else rng.choice([f"user-{index}", f"ext {index}/β+"])
    email = None if index % 17 == 8 else f"{first_name.lower()}+{index}@exämple.com"
    created = now - int(rng.uniform(1, 800) * DAY)

    attributes: dict[str, str] = {"cio_id": cio_id, "first_name": first_name}
    if person_id is not None:
        attributes["id"] = person_id
    if email is not None:
        attributes["email"] = email
    attributes["created_at"] = str(created)
    city = rng.choice(CITIES)
    if city is not None:
        attributes["address.city"] = city
    if index % 3 == 0:
        attributes["favourite colour"] = rng.choice(["grün", "blue", "赤"])
        attributes["plan"] = rng.choice(["free", "pro"])
    if index % 4 == 1:
        preferences = {"topics": {"topic_1": index % 2 == 0}}
        attributes["cio_subscription_preferences"] = json.dumps(preferences)

    devices = []
    for number in range(rng.choice([0, 0, 1, 2])):
        device = {
            "id": f"tok{index}x{number}{rng.getrandbits(32):08x}",
            "platform": rng.choice(["ios", "android"]),
            "attributes": {"app_version": "2.4.1", "device_locale": "de-CH"},
        }
        if rng.random() < 0.7:
            device["last_used"] = created + int(rng.uniform(0, 30) * DAY)
        devices.append(device)

    return {
        "attributes": attributes,
        "devices": devices,
        "identifiers": {"cio_id": cio_id, "email": email, "id": person_id},
        "timestamps": {name: created for name in attributes},
        "unsubscribed": index % 11 == 3,
        "_has_identifiers": index % 10 != 6,
        "_segment_ids": [] if index % 5 == 2 else sorted(rng.sample(range(1, 7), 2)),
    }


def generate(ws: Workspace, rng: random.Random) -> None:
    """Create the people and the cio_ids of deleted people."""
    people = [make_person(rng, index, ws.now) for index in range(ws.counts["people"])]
    ws.data["people"] = people
    ws.data["deleted_people"] = [f"de1e7{index:05x}" for index in range(12)]


def served_profile(person: dict) -> dict:
    """Return a profile as the attribute read returns it (without simulator keys)."""
    profile = {k: v for k, v in person.items() if not k.startswith("_")}
    if not person["_has_identifiers"]:
        profile.pop("identifiers")
    return profile


def _condition_matches(person: dict, condition: dict) -> bool:
    if "and" in condition:
        return all(_condition_matches(person, c) for c in condition["and"])
    if "or" in condition:
        return any(_condition_matches(person, c) for c in condition["or"])
    if "not" in condition:
        return not _condition_matches(person, condition["not"])
    if "segment" in condition:
        return condition["segment"].get("id") in person["_segment_ids"]
    if "attribute" in condition:
        rule = condition["attribute"]
        value = person["attributes"].get(rule.get("field"))
        if rule.get("operator") == "exists":
            return value is not None
        if rule.get("operator") == "eq":
            return value == rule.get("value")
        raise ApiError(400, f"unsupported operator {rule.get('operator')!r}")
    raise ApiError(400, "filter must contain and, or, not, segment or attribute")


def search_people(ws: Workspace, request: Any) -> dict:
    body = request.body
    if not isinstance(body, dict) or not isinstance(body.get("filter"), dict):
        raise ApiError(400, "request body must contain a filter object")
    matches = [p for p in ws.data["people"] if _condition_matches(p, body["filter"])]
    identifiers = [dict(p["identifiers"]) for p in matches]
    page = cursor_page(
        identifiers, request, "identifiers", default_limit=50, max_limit=SEARCH_MAX_LIMIT
    )
    # ``ids`` is deprecated; people without an id appear in it as "".
    page["ids"] = [i["id"] or "" for i in page["identifiers"]]
    return page


def read_attributes(ws: Workspace, request: Any) -> dict:
    id_type = request.query.get("id_type", "id")
    if id_type not in ID_TYPES:
        raise ApiError(400, f"id_type must be one of {', '.join(ID_TYPES)}")
    body = request.body
    if not isinstance(body, dict) or not isinstance(body.get("ids"), list):
        raise ApiError(400, "request body must contain an ids array")
    if len(body["ids"]) > ATTRIBUTES_MAX_IDS:
        raise ApiError(400, f"ids must hold at most {ATTRIBUTES_MAX_IDS} values")
    # Unknown ids are left out without an error; a cio_id sent with its ``cio_``
    # prefix is unknown here.
    requested = {str(i) for i in body["ids"]}
    found = [p for p in ws.data["people"] if p["identifiers"][id_type] in requested]
    return {"customers": [served_profile(p) for p in found]}


ROUTES = [
    ("POST", "/customers", search_people),
    ("POST", "/customers/attributes", read_attributes),
]


def truth_customers(ws: Workspace, config: dict) -> list[dict]:
    if config.get("customers_method") == "export":
        return [_exported(person) for person in ws.data["people"]]
    out = []
    for person in ws.data["people"]:
        record = served_profile(person)
        record["cio_id"] = person["identifiers"]["cio_id"]
        record["devices"] = [
            dict(d, last_used=iso(d["last_used"])) if "last_used" in d else dict(d)
            for d in record["devices"]
        ]
        out.append(record)
    return out


def _exported(person: dict) -> dict:
    """Return the record of one export file row: identifiers and non-empty attributes."""
    attributes = {name: value for name, value in person["attributes"].items() if value != ""}
    identifiers = {name: person["attributes"].get(name) or None for name in ID_TYPES}
    return {"cio_id": identifiers["cio_id"], "identifiers": identifiers, "attributes": attributes}


TRUTH = {"customers": truth_customers}
