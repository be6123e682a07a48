"""Hard cases that real workspaces contain, shared by the area generators."""

from __future__ import annotations

import random

NAMES = [
    "Welcome series",
    "Bienvenue — été ☀",
    "Onboarding / day 1",
    "Réactivation: «clients dormants»",
    "日本語のキャンペーン",
    "Cart abandoned 🛒",
    "Straße & Söhne",
    "Win-back 50% off",
    'Quote "test" campaign',
    "Zażółć gęślą jaźń",
]

TAG_POOL = ["onboarding", "promo", "été", "q4", "retention", "beta", "vip"]


def pick_name(rng: random.Random, index: int) -> str:
    """Return a name, often with non-ASCII characters, unique per index."""
    return f"{NAMES[index % len(NAMES)]} #{index}"


def pick_tags(rng: random.Random) -> list[str] | None:
    """Return a tag list; some objects have none, some an empty list."""
    roll = rng.random()
    if roll < 0.15:
        return None
    if roll < 0.3:
        return []
    return rng.sample(TAG_POOL, rng.randint(1, 3))


def past(rng: random.Random, now: int, max_days: float, min_days: float = 0.0) -> int:
    """Return a Unix time between ``max_days`` and ``min_days`` before ``now``."""
    return now - int(rng.uniform(min_days, max_days) * 86400)
