"""Segments."""

from __future__ import annotations

import random
from typing import Any

from sandbox.areas.common import past, pick_name, pick_tags
from sandbox.areas.deletions import children_gone, is_deleted, mark_listed
from sandbox.paging import decode_cursor, encode_cursor
from sandbox.server_errors import ApiError
from sandbox.workspace import Workspace, in_window, iso

PRO_PLAN = {"field": "plan", "operator": "eq", "value": "pro"}
#: The documented maximum ``limit`` of the membership list.
MEMBERSHIP_MAX_LIMIT = 30000
#: The API documents no default ``limit``, so this one is a guess.
MEMBERSHIP_DEFAULT_LIMIT = 1000
EMAIL_FORMS = [
    "zoë.{n}@example.com",
    "用户{n}@例子.测试",
    "josé.o'neil+{n}@example.org",
    "anna.{n}@example.com",
]


def make_person(rng: random.Random, n: int) -> dict:
    """Build one member's identifiers. Some lack an id (null or "") or an email."""
    if n % 7 == 0:
        person_id = None
    elif n % 11 == 0:
        person_id = ""
    elif n % 13 == 0:
        person_id = f"ext/{n} ü+&?"
    else:
        person_id = f"user-{n}"
    email = None if n % 9 == 0 else EMAIL_FORMS[n % len(EMAIL_FORMS)].format(n=n)
    return {
        "cio_id": f"{0xD3E40000 + n:x}{rng.getrandbits(16):04x}",
        "email": email,
        "id": person_id,
    }


def member_counts(ws: Workspace, rng: random.Random) -> list[int]:
    """Return a member count per segment, covering the paging edges.

    The first segment spans several pages, the second is empty, and the third and
    fourth hold exactly one page and one page plus one member.
    """
    pool = ws.counts["segment_members"]
    cap = ws.counts["membership_page_cap"]
    edges = [pool, 0, cap, cap + 1]
    counts = []
    for index in range(ws.counts["segments"]):
        planned = edges[index] if index < len(edges) else rng.randint(1, 20)
        counts.append(min(planned, pool))
    return counts


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

    member_rng = random.Random(f"{ws.seed}:segment_members")
    people = [make_person(member_rng, n) for n in range(1, ws.counts["segment_members"] + 1)]
    members: dict[int, list[dict]] = {}
    for segment, count in zip(segments, member_counts(ws, member_rng), strict=True):
        members[segment["id"]] = [dict(p) for p in member_rng.sample(people, count)]
    # NOTE: these people are the segment area's own, not yet the people that the
    # customer streams list.
    ws.data["segment_members"] = members


def listed_segments(ws: Workspace) -> list[dict]:
    """Return the segments the list endpoint shows: archived ones are omitted."""
    return [
        {k: v for k, v in s.items() if k != "archived"}
        for s in ws.data["segments"]
        if not s["archived"] and not is_deleted(ws, "segments", s["id"])
    ]


def segment_or_404(ws: Workspace, segment_id: str) -> dict:
    """Return a listed segment by its path id, or raise a 404."""
    for segment in listed_segments(ws):
        if str(segment["id"]) == segment_id:
            return segment
    raise ApiError(404, "resource not found")


def list_segments(ws: Workspace, request: Any) -> dict:
    listed = listed_segments(ws)
    mark_listed(ws, "segments", listed)
    return {"segments": listed}


def get_segment(ws: Workspace, request: Any) -> dict:
    return {"segment": segment_or_404(ws, request.params["segment_id"])}


def list_membership(ws: Workspace, request: Any) -> dict:
    """Serve one membership page: ``limit`` members, or fewer if the page cap is lower.

    ``next`` is empty only after the last member, so a short page does not mean the end.
    """
    segment = segment_or_404(ws, request.params["segment_id"])
    limit = request.int_query("limit", MEMBERSHIP_DEFAULT_LIMIT)
    if limit is None or limit < 1 or limit > MEMBERSHIP_MAX_LIMIT:
        raise ApiError(400, f"limit must be between 1 and {MEMBERSHIP_MAX_LIMIT}")
    size = min(limit, ws.counts["membership_page_cap"])
    members = ws.data["segment_members"][segment["id"]]
    start = decode_cursor(request.query["start"]) if request.query.get("start") else 0
    page = members[start : start + size]
    end = start + len(page)
    return {
        "identifiers": page,
        # Deprecated: id values only, with "" for people without an id.
        "ids": [member["id"] or "" for member in page],
        "next": encode_cursor(end) if end < len(members) else "",
    }


ROUTES = [
    ("GET", "/segments", list_segments),
    ("GET", r"/segments/(?P<segment_id>[^/]+)", get_segment),
    ("GET", r"/segments/(?P<segment_id>[^/]+)/membership", list_membership),
]


def truth_segments(ws: Workspace, config: dict) -> list[dict]:
    out = []
    for segment in listed_segments(ws):
        if not in_window(config, segment["updated_at"]):
            continue
        out.append(
            dict(
                segment,
                created_at=iso(segment["created_at"]),
                updated_at=iso(segment["updated_at"]),
            )
        )
    return out


def truth_memberships(ws: Workspace, config: dict) -> list[dict]:
    out = []
    for segment in listed_segments(ws):
        if children_gone(ws, "segments", segment["id"]):
            continue
        for member in ws.data["segment_members"][segment["id"]]:
            out.append(dict(member, segment_id=segment["id"]))
    return out


TRUTH = {"segments": truth_segments, "segment_memberships": truth_memberships}
