"""API areas of the simulator: each module generates its data and serves its routes.

A module defines ``generate(workspace, rng)``, ``ROUTES`` as a list of
``(method, path_regex, handler)`` and ``TRUTH`` mapping stream names to functions
``(workspace, config) -> records``.
"""

from __future__ import annotations

from sandbox.areas import (
    activities,
    broadcasts,
    campaigns,
    customers,
    exports,
    messages,
    metrics,
    newsletters,
    objects,
    segments,
    transactional,
    workspace,
)

AREAS = [
    campaigns,
    newsletters,
    broadcasts,
    transactional,
    segments,
    objects,
    workspace,
    exports,
    metrics,
    # People come before deliveries and activities, which refer to them.
    customers,
    messages,
    activities,
]
