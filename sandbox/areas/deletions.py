"""Delete a parent between the list call and its child reads, as a live workspace can.

A test calls ``delete_after_listing``; the next list response still shows the
record, then the record is gone: later lists omit it and its single and child
endpoints return 404.
"""

from __future__ import annotations

from sandbox.workspace import Workspace

PENDING = "delete_after_listing"
DELETED = "deleted_after_listing"


def delete_after_listing(ws: Workspace, dataset: str, record_id: int) -> None:
    """Delete record ``record_id`` of ``dataset`` once a list response has shown it."""
    with ws.lock:
        ws.data.setdefault(PENDING, {}).setdefault(dataset, set()).add(record_id)


def mark_listed(ws: Workspace, dataset: str, records: list[dict]) -> None:
    """Delete the pending records among ``records``, which a list response just showed."""
    pending = ws.data.get(PENDING, {}).get(dataset)
    if not pending:
        return
    deleted = ws.data.setdefault(DELETED, {}).setdefault(dataset, set())
    for record in records:
        if record["id"] in pending:
            pending.discard(record["id"])
            deleted.add(record["id"])


def is_deleted(ws: Workspace, dataset: str, record_id: int) -> bool:
    """Tell whether a list response has shown the record since its deletion was set."""
    return record_id in ws.data.get(DELETED, {}).get(dataset, set())


def children_gone(ws: Workspace, dataset: str, record_id: int) -> bool:
    """Tell whether a correct tap reads no children of the record: it is or will be deleted."""
    return is_deleted(ws, dataset, record_id) or record_id in ws.data.get(PENDING, {}).get(
        dataset, set()
    )
