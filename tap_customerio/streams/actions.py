"""The shared shape of automation and broadcast action lists."""

from __future__ import annotations

import typing as t

from tap_customerio.client import CustomerIOStream

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


class ActionListStream(CustomerIOStream):
    """An action list under a parent (``/{parents}/{parent_id}/actions``), cursor-paged.

    Live, these lists send ``id`` as a JSON string ("18") while the parent's
    ``actions[].id`` and the deliveries' ``action_id`` are integers, so the tap emits
    an integer and the three join without a cast. A change to an action does not move
    its parent's ``updated``, so actions are read for every parent and filtered per
    parent on their own ``updated``.
    """

    #: The parent id column and context key, such as ``campaign_id``.
    parent_key: str
    envelope_key = "actions"
    replication_key = "updated"
    client_side_filter = True
    paged = True
    personal_data = "no (templates; `cc`/`bcc` may hold literal addresses)"

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        """Cast the action id to an integer, set the parent id and convert timestamps."""
        row = super().post_process(row, context)
        if row is not None:
            row["id"] = int(row["id"])
            if context:
                row[self.parent_key] = context[self.parent_key]
        return row

    def get_child_context(self, record: dict, context: Context | None) -> dict:
        """Pass the parent id and the action id to the child streams."""
        return {self.parent_key: record[self.parent_key], "action_id": record["id"]}
