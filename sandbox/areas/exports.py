"""Export jobs: the list of past jobs, and people exports with a downloadable file.

``POST /exports/customers`` starts a job that reports ``running`` on its first
status check and ``done`` on the next. Its download link points at
``/_files/<token>`` on the simulator's own server, which serves without the API key,
as a signed storage URL does. The file is a gzipped UTF-8 CSV with a header row:
``cio_id``, ``id``, ``email``, then one column per attribute (sorted), empty where a
person lacks the attribute. NOTE: this format is inferred, not documented. Setting
``ws.data["export_format"]`` to ``"jsonl"`` serves JSON lines instead, so tests can
check that the tap rejects a format it does not read. People export jobs are kept apart
from the generated job list, so the ``exports`` stream's records stay fixed.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
from typing import Any

from sandbox.areas.common import past
from sandbox.areas.customers import _condition_matches
from sandbox.server_errors import ApiError
from sandbox.workspace import Workspace, in_window, iso

IDENTIFIER_COLUMNS = ("cio_id", "id", "email")
#: Status checks that report ``running`` before a people export is ``done``.
RUNNING_CHECKS = 1


def generate(ws: Workspace, rng: random.Random) -> None:
    """Create finished, running and failed export jobs."""
    exports = []
    for index in range(6):
        export_id = index + 1
        created = past(rng, ws.now, 200, 1)
        updated = min(ws.now, created + rng.randint(0, 7200))
        failed = index == 4
        exports.append(
            {
                "id": export_id,
                "deduplicate_id": f"{export_id}:{updated}",
                "type": "customers" if index % 2 else "deliveries",
                "status": "failed" if failed else rng.choice(["done", "running", "pending"]),
                "failed": failed,
                "total": rng.randint(0, 100000),
                "downloads": rng.randint(0, 5),
                "description": "Export — Kunden «Q4»" if index == 1 else "",
                "user_id": rng.randint(1, 9),
                "user_email": "ops@exämple.com",
                "created_at": created,
                "updated_at": updated,
            }
        )
    ws.data["exports"] = exports


def list_exports(ws: Workspace, request: Any) -> dict:
    return {"exports": ws.data["exports"]}


def export_file(people: list[dict], file_format: str) -> bytes:
    """Return the export file of ``people`` in ``file_format`` (``csv`` or ``jsonl``)."""
    if file_format == "jsonl":
        lines = [json.dumps(p["attributes"], ensure_ascii=False) for p in people]
        return gzip.compress("\n".join(lines).encode("utf-8"))
    names = sorted({name for p in people for name in p["attributes"]} - set(IDENTIFIER_COLUMNS))
    header = [*IDENTIFIER_COLUMNS, *names]
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(header)
    for person in people:
        writer.writerow([person["attributes"].get(name, "") for name in header])
    return gzip.compress(text.getvalue().encode("utf-8"))


def create_people_export(ws: Workspace, request: Any) -> dict:
    body = request.body
    if not isinstance(body, dict) or not isinstance(body.get("filters"), dict):
        raise ApiError(400, "request body must contain a filters object")
    people = [p for p in ws.data["people"] if _condition_matches(p, body["filters"])]
    export_id = ws.new_id()
    token = f"export-{export_id}-{ws.seed}.csv.gz"
    ws.data.setdefault("export_files", {})[token] = export_file(
        people, ws.data.get("export_format", "csv")
    )
    job = {
        "id": export_id,
        "deduplicate_id": f"{export_id}:{ws.now}",
        "type": "customers",
        "status": "running",
        "failed": False,
        "total": len(people),
        "downloads": 0,
        "description": "",
        "user_id": 1,
        "user_email": "ops@exämple.com",
        "created_at": ws.now,
        "updated_at": ws.now,
    }
    ws.data.setdefault("people_exports", {})[export_id] = {
        "job": job,
        "token": token,
        "checks": 0,
    }
    return {"export": dict(job)}


def _people_export(ws: Workspace, request: Any) -> dict:
    try:
        export_id = int(request.params["export_id"])
    except ValueError:
        raise ApiError(400, "export_id must be an integer") from None
    found = ws.data.get("people_exports", {}).get(export_id)
    if found is None:
        raise ApiError(404, "export not found")
    return found


def get_export(ws: Workspace, request: Any) -> dict:
    found = _people_export(ws, request)
    found["checks"] += 1
    if found["checks"] > RUNNING_CHECKS:
        found["job"]["status"] = "done"
    return {"export": dict(found["job"])}


def download_export(ws: Workspace, request: Any) -> dict:
    found = _people_export(ws, request)
    if found["job"]["status"] != "done":
        raise ApiError(400, "export is not done")
    found["job"]["downloads"] += 1
    return {"url": f"{ws.file_url}/{found['token']}?signature=sbx{ws.seed}&expires={ws.now}"}


ROUTES = [
    ("GET", "/exports", list_exports),
    ("POST", "/exports/customers", create_people_export),
    ("GET", r"/exports/(?P<export_id>[^/]+)", get_export),
    ("GET", r"/exports/(?P<export_id>[^/]+)/download", download_export),
]


def truth_exports(ws: Workspace, config: dict) -> list[dict]:
    return [
        dict(e, created_at=iso(e["created_at"]), updated_at=iso(e["updated_at"]))
        for e in ws.data["exports"]
        if in_window(config, e["updated_at"])
    ]


TRUTH = {"exports": truth_exports}
