"""Export jobs (metadata only; the simulator serves no export files)."""

from __future__ import annotations

import random
from typing import Any

from sandbox.areas.common import past
from sandbox.workspace import Workspace, in_window, iso


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


ROUTES = [("GET", "/exports", list_exports)]


def truth_exports(ws: Workspace, config: dict) -> list[dict]:
    return [
        dict(e, created_at=iso(e["created_at"]), updated_at=iso(e["updated_at"]))
        for e in ws.data["exports"]
        if in_window(config, e["updated_at"])
    ]


TRUTH = {"exports": truth_exports}
