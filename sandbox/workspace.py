"""The seeded synthetic workspace that the simulator serves."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

SCALES: dict[str, dict[str, int]] = {
    # Small enough for the test suite, large enough that every paged list has
    # several pages and every deliveries window holds records.
    "small": {
        "campaigns": 12,
        "newsletters": 15,
        "broadcasts": 4,
        "transactional": 5,
        "segments": 6,
        # People in the largest segment; the others hold fewer.
        "segment_members": 130,
        # Test knob: the max members per membership page, whatever the requested
        # ``limit``. The real API fills pages up to ``limit`` (at most 30000), and
        # the small cap makes multi-page walks cheap to test.
        "membership_page_cap": 50,
        "people": 250,
        "deliveries": 2500,
        "activities": 450,
        "object_types": 3,
        "objects": 60,
        "sender_identities": 23,
        "suppressions": 44,
    },
    "demo": {
        "campaigns": 40,
        "newsletters": 60,
        "broadcasts": 10,
        "transactional": 12,
        "segments": 15,
        "segment_members": 5000,
        "membership_page_cap": 30000,
        "people": 2000,
        "deliveries": 20000,
        "activities": 3000,
        "object_types": 4,
        "objects": 400,
        "sender_identities": 60,
        "suppressions": 4500,
    },
}

DAY = 86400


def iso(epoch: int | None) -> str | None:
    """Convert Unix seconds to the ISO 8601 form a correct tap emits."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, tz=timezone.utc).isoformat()


def config_epoch(config: dict, name: str) -> int | None:
    """Return an ISO date-time setting of a tap config as Unix seconds."""
    value = config.get(name)
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return int(parsed.timestamp())


def in_window(config: dict, value: int | None) -> bool:
    """Tell whether a client-side filtered record lies between start_date and end_date.

    Both bounds are inclusive; a record without a time always passes.
    """
    if value is None:
        return True
    start, end = config_epoch(config, "start_date"), config_epoch(config, "end_date")
    return (start is None or value >= start) and (end is None or value <= end)


@dataclass
class Workspace:
    """Every dataset of one workspace, as raw API objects keyed by dataset name."""

    seed: int
    now: int
    counts: dict[str, int]
    data: dict[str, Any] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)
    next_id: int = 100000
    #: Indexes that area modules build over large datasets (not part of the data).
    cache: dict[str, Any] = field(default_factory=dict)
    #: Root URL of the simulator's file downloads, set when the server starts.
    file_url: str = ""

    @classmethod
    def generate(
        cls, *, seed: int = 1, scale: str | dict[str, int] = "small", now: int | None = None
    ) -> Workspace:
        """Build the workspace for ``seed``; the same seed gives the same data."""
        from sandbox.areas import AREAS

        counts = dict(SCALES["small"])
        if isinstance(scale, str):
            counts.update(SCALES[scale])
        else:
            counts.update(scale)
        anchor = now if now is not None else int(time.time()) // 60 * 60
        workspace = cls(seed=seed, now=anchor, counts=counts)
        for area in AREAS:
            area.generate(workspace, random.Random(f"{seed}:{area.__name__}"))
        return workspace

    def new_id(self) -> int:
        """Return a fresh integer id for records added by a test."""
        self.next_id += 1
        return self.next_id

    def truth(self, stream: str, config: dict) -> list[dict]:
        """Return the records a correct tap emits for ``stream`` under ``config``."""
        from sandbox.areas import AREAS

        for area in AREAS:
            builder = getattr(area, "TRUTH", {}).get(stream)
            if builder is not None:
                return builder(self, config)
        msg = f"the sandbox has no truth for stream {stream!r}"
        raise KeyError(msg)
