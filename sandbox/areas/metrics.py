"""Metrics endpoints: per-period integer series for automations, sends and templates.

The simulator stores no metrics. A value is a hash of the parent, the period start
and the series name, so every request and the truth agree without shared state.

Parameter rules served here:

- Version 2 (``version=2``): ``res``, ``start`` and ``end`` are required (400
  otherwise), ``tz`` defaults to UTC. The arrays cover every period from the one
  containing ``start`` to the one containing ``end``, in ``tz``.
- Version 1 (no ``version``, or ``version=1``): ``period`` defaults to days,
  ``steps`` to the maximum; ``steps=0`` means the maximum and ``steps=1`` returns 2
  periods. The arrays end with the current period, aligned to Eastern time.
  ``steps`` above the maximum gets a 400 (the API's behaviour is undocumented).
- Journey metrics: ``start``, ``end`` and ``resolution`` are required; UTC periods.
- Endpoints with only version 1 documented answer 400 to ``version=2``.
"""

from __future__ import annotations

import hashlib
import random
import time
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sandbox.areas.broadcasts import broadcast_or_404
from sandbox.areas.campaigns import campaign_or_404
from sandbox.areas.newsletters import newsletter_or_404
from sandbox.areas.transactional import template_or_404
from sandbox.server_errors import ApiError
from sandbox.workspace import DAY, Workspace, config_epoch, iso

SERIES = (
    "attempted",
    "bounced",
    "clicked",
    "converted",
    "created",
    "deferred",
    "delivered",
    "drafted",
    "failed",
    "human_clicked",
    "human_opened",
    "link_untracked",
    "machine_clicked",
    "open_untracked",
    "opened",
    "prefetch_opened",
    "replied",
    "sent",
    "spammed",
    "suppressed",
    "topic_unsubscribed",
    "tracking_consent_denied",
    "tracking_consent_granted",
    "undeliverable",
    "unsubscribed",
    "untracked",
)
#: A series name the tap's schema does not list, as the API may add one any day.
#: Served only when a test sets ``ws.data["metrics_unlisted_series"]``, because the
#: SDK's standard tests reject record fields that the catalog does not declare.
UNLISTED_SERIES = "future_metric"
JOURNEY_SERIES = ("sent", "delivered", "opened", "clicked", "converted")

RES_ALIASES = {
    "hours": "hours",
    "hourly": "hours",
    "days": "days",
    "daily": "days",
    "weeks": "weeks",
    "weekly": "weeks",
    "months": "months",
    "monthly": "months",
}
JOURNEY_RESOLUTIONS = {"hourly": "hours", "daily": "days", "weekly": "weeks", "monthly": "months"}
V1_MAX_STEPS = {"hours": 24, "days": 45, "weeks": 12, "months": 121}
EASTERN = ZoneInfo("America/New_York")
UTC = ZoneInfo("UTC")


def generate(ws: Workspace, rng: random.Random) -> None:
    """Store only the switch for the unlisted series: values are computed from hashes."""
    ws.data["metrics_unlisted_series"] = False


def served_series(ws: Workspace, names: tuple[str, ...]) -> tuple[str, ...]:
    """Return ``names``, plus the unlisted series when the workspace serves it."""
    if ws.data["metrics_unlisted_series"]:
        return (*names, UNLISTED_SERIES)
    return names


# Periods, computed from local calendar dates rather than datetime arithmetic -----


def period_start_of(epoch: int, resolution: str, zone: ZoneInfo) -> int:
    """Return the start (Unix seconds) of the period containing ``epoch`` in ``zone``."""
    local = datetime.fromtimestamp(epoch, tz=zone)
    if resolution == "hours":
        return int(local.replace(minute=0, second=0).timestamp())
    day = local.date()
    if resolution == "weeks":
        day -= timedelta(days=day.isoweekday() % 7)
    elif resolution == "months":
        day = day.replace(day=1)
    return local_midnight(day, zone)


def local_midnight(day: date, zone: ZoneInfo) -> int:
    """Return Unix seconds of 00:00 on ``day`` in ``zone``."""
    return int(datetime(day.year, day.month, day.day, tzinfo=zone).timestamp())


def next_period(start: int, resolution: str, zone: ZoneInfo) -> int:
    """Return the start of the period after the one starting at ``start``."""
    if resolution == "hours":
        return start + 3600
    day = datetime.fromtimestamp(start, tz=zone).date()
    if resolution == "days":
        return local_midnight(day + timedelta(days=1), zone)
    if resolution == "weeks":
        return local_midnight(day + timedelta(days=7), zone)
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return local_midnight(date(year, month, 1), zone)


def previous_period(start: int, resolution: str, zone: ZoneInfo) -> int:
    """Return the start of the period before the one starting at ``start``."""
    return period_start_of(start - 1, resolution, zone)


def periods_from(first: int, last: int, resolution: str, zone: ZoneInfo) -> list[int]:
    """Return every period start from ``first`` to ``last`` inclusive."""
    starts = [first]
    while starts[-1] < last:
        starts.append(next_period(starts[-1], resolution, zone))
    return starts


def last_periods(now: int, steps: int, resolution: str, zone: ZoneInfo) -> list[int]:
    """Return the ``steps`` period starts that end with the one containing ``now``."""
    starts = [period_start_of(now, resolution, zone)]
    while len(starts) < steps:
        starts.append(previous_period(starts[-1], resolution, zone))
    return starts[::-1]


# Values -------------------------------------------------------------------------


def metric_values(parent: str, period_start: int, names: tuple[str, ...]) -> dict[str, int]:
    """Return the deterministic value of each series for one parent and period."""
    digest = hashlib.blake2b(f"{parent}@{period_start}".encode(), digest_size=64).digest()
    return {name: digest[index] % 40 for index, name in enumerate(names)}


def series_body(parent: str, starts: list[int], names: tuple[str, ...]) -> dict[str, list[int]]:
    """Build ``{name: [value per period]}`` for ``starts``, oldest first."""
    rows = [metric_values(parent, start, names) for start in starts]
    return {name: [row[name] for row in rows] for name in names}


# Parameter handling ---------------------------------------------------------------


def required_int(request: Any, name: str) -> int:
    """Return a required integer query parameter, or raise a 400."""
    value = request.int_query(name)
    if value is None:
        raise ApiError(400, f"{name} is required")
    return value


def zone_of(request: Any) -> ZoneInfo:
    """Return the ``tz`` parameter as a zone, UTC when absent, or raise a 400."""
    name = request.query.get("tz") or "UTC"
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ApiError(400, f"tz {name!r} is not a valid time zone") from None


def v2_starts(request: Any) -> list[int]:
    """Return the period starts a version 2 request covers."""
    res = request.query.get("res")
    if not res:
        raise ApiError(400, "res is required with version=2")
    if res not in RES_ALIASES:
        raise ApiError(400, f"res {res!r} is invalid")
    start = required_int(request, "start")
    end = required_int(request, "end")
    if end < start:
        raise ApiError(400, "end must not be before start")
    resolution = RES_ALIASES[res]
    zone = zone_of(request)
    first = period_start_of(start, resolution, zone)
    return periods_from(first, period_start_of(end, resolution, zone), resolution, zone)


def v1_starts(request: Any, now: int) -> list[int]:
    """Return the period starts a version 1 request covers."""
    period = request.query.get("period") or "days"
    if period not in V1_MAX_STEPS:
        raise ApiError(400, f"period {period!r} is invalid: use hours, days, weeks or months")
    max_steps = V1_MAX_STEPS[period]
    steps = request.int_query("steps", 0)
    if steps is None or steps < 0 or steps > max_steps:
        raise ApiError(400, f"steps {steps} is invalid for period {period}: use 0 to {max_steps}")
    if steps == 0:
        steps = max_steps
    return last_periods(now, max(steps, 2), period, EASTERN)


def metric_response(ws: Workspace, request: Any, parent: str, *, v2_allowed: bool) -> dict:
    """Build the body of a ``/metrics`` request in version 1 or 2."""
    version = request.query.get("version") or "1"
    if version == "2" and v2_allowed:
        starts = v2_starts(request)
        return {"metric": {"series": series_body(parent, starts, served_series(ws, SERIES))}}
    if version != "1":
        raise ApiError(400, f"version {version!r} is not supported on this endpoint")
    starts = v1_starts(request, int(time.time()))
    return {"metric": {"series": series_body(parent, starts, SERIES)}}


# Handlers ---------------------------------------------------------------------------


def action_or_404(ws: Workspace, campaign_id: str, action_id: str) -> dict:
    """Return a campaign action by its path ids, or raise a 404."""
    campaign = campaign_or_404(ws, campaign_id)
    for action in ws.data["campaign_actions"].get(campaign["id"], []):
        if action["id"] == action_id:
            return action
    raise ApiError(404, "resource not found")


def campaign_metrics(ws: Workspace, request: Any) -> dict:
    campaign = campaign_or_404(ws, request.params["campaign_id"])
    return metric_response(ws, request, f"campaign:{campaign['id']}", v2_allowed=True)


def campaign_action_metrics(ws: Workspace, request: Any) -> dict:
    action = action_or_404(ws, request.params["campaign_id"], request.params["action_id"])
    return metric_response(ws, request, f"action:{action['id']}", v2_allowed=True)


def journey_metrics(ws: Workspace, request: Any) -> dict:
    campaign = campaign_or_404(ws, request.params["campaign_id"])
    resolution = request.query.get("resolution")
    if not resolution:
        raise ApiError(400, "resolution is required")
    if resolution not in JOURNEY_RESOLUTIONS:
        raise ApiError(400, f"resolution {resolution!r} is invalid")
    start = required_int(request, "start")
    end = required_int(request, "end")
    if end < start:
        raise ApiError(400, "end must not be before start")
    period = JOURNEY_RESOLUTIONS[resolution]
    first = period_start_of(start, period, UTC)
    starts = periods_from(first, period_start_of(end, period, UTC), period, UTC)
    parent = f"journey:{campaign['id']}"
    names = served_series(ws, JOURNEY_SERIES)
    return {"journey_metrics": series_body(parent, starts, names)}


def newsletter_metrics(ws: Workspace, request: Any) -> dict:
    newsletter = newsletter_or_404(ws, request.params["newsletter_id"])
    return metric_response(ws, request, f"newsletter:{newsletter['id']}", v2_allowed=False)


def broadcast_metrics(ws: Workspace, request: Any) -> dict:
    broadcast = broadcast_or_404(ws, request.params["broadcast_id"])
    return metric_response(ws, request, f"broadcast:{broadcast['id']}", v2_allowed=False)


def broadcast_action_metrics(ws: Workspace, request: Any) -> dict:
    broadcast = broadcast_or_404(ws, request.params["broadcast_id"])
    for action in ws.data["broadcast_actions"][broadcast["id"]]:
        if action["id"] == request.params["action_id"]:
            return metric_response(ws, request, f"broadcast_action:{action['id']}", v2_allowed=True)
    raise ApiError(404, "resource not found")


def transactional_metrics(ws: Workspace, request: Any) -> dict:
    template = template_or_404(ws, request.params["transactional_id"])
    return metric_response(ws, request, f"transactional:{template['id']}", v2_allowed=False)


ROUTES = [
    ("GET", r"/campaigns/(?P<campaign_id>[^/]+)/metrics", campaign_metrics),
    (
        "GET",
        r"/campaigns/(?P<campaign_id>[^/]+)/actions/(?P<action_id>[^/]+)/metrics",
        campaign_action_metrics,
    ),
    ("GET", r"/campaigns/(?P<campaign_id>[^/]+)/journey_metrics", journey_metrics),
    ("GET", r"/newsletters/(?P<newsletter_id>[^/]+)/metrics", newsletter_metrics),
    ("GET", r"/broadcasts/(?P<broadcast_id>[^/]+)/metrics", broadcast_metrics),
    (
        "GET",
        r"/broadcasts/(?P<broadcast_id>[^/]+)/actions/(?P<action_id>[^/]+)/metrics",
        broadcast_action_metrics,
    ),
    ("GET", r"/transactional/(?P<transactional_id>[^/]+)/metrics", transactional_metrics),
]


# Truth ----------------------------------------------------------------------------


def config_window(config: dict, now: int) -> tuple[int, int]:
    """Return the (start, end) Unix range a first run reads under ``config``."""
    start = config_epoch(config, "start_date")
    if start is None:
        start = now - 365 * DAY
    end = config_epoch(config, "end_date")
    end = now if end is None else min(end, now)
    return start, end


def truth_starts(config: dict, version: int, zone: ZoneInfo, now: int) -> list[int]:
    """Return the period starts a correct first run emits for each parent."""
    resolution = config.get("metrics_resolution", "days")
    start, end = config_window(config, now)
    first = period_start_of(start, resolution, zone)
    if version == 1:
        earliest = last_periods(now, V1_MAX_STEPS[resolution], resolution, zone)[0]
        first = max(first, earliest)
    if first >= end:
        return []
    return [s for s in periods_from(first, end, resolution, zone) if s < end]


def truth_records(
    config: dict,
    parents: list[tuple[dict, str]],
    *,
    version: int,
    names: tuple[str, ...],
    zone: ZoneInfo | None = None,
) -> list[dict]:
    """Build the records for ``parents``: (parent id columns, hash key) pairs."""
    now = int(time.time())
    if zone is None:
        zone = EASTERN if version == 1 else ZoneInfo(config.get("metrics_timezone", "UTC"))
    resolution = config.get("metrics_resolution", "days")
    starts = truth_starts(config, version, zone, now)
    out = []
    for ids, parent in parents:
        for start in starts:
            record = dict(ids, period_start=iso(start), resolution=resolution, timezone=zone.key)
            record.update(metric_values(parent, start, names))
            out.append(record)
    return out


def truth_campaign_metrics(ws: Workspace, config: dict) -> list[dict]:
    parents = [({"campaign_id": c["id"]}, f"campaign:{c['id']}") for c in ws.data["campaigns"]]
    return truth_records(config, parents, version=2, names=served_series(ws, SERIES))


def truth_campaign_action_metrics(ws: Workspace, config: dict) -> list[dict]:
    parents = [
        ({"campaign_id": campaign_id, "action_id": int(a["id"])}, f"action:{a['id']}")
        for campaign_id, actions in ws.data["campaign_actions"].items()
        for a in actions
    ]
    return truth_records(config, parents, version=2, names=served_series(ws, SERIES))


def truth_journey_metrics(ws: Workspace, config: dict) -> list[dict]:
    parents = [({"campaign_id": c["id"]}, f"journey:{c['id']}") for c in ws.data["campaigns"]]
    names = served_series(ws, JOURNEY_SERIES)
    return truth_records(config, parents, version=2, names=names, zone=UTC)


def truth_newsletter_metrics(ws: Workspace, config: dict) -> list[dict]:
    parents = [
        ({"newsletter_id": n["id"]}, f"newsletter:{n['id']}") for n in ws.data["newsletters"]
    ]
    return truth_records(config, parents, version=1, names=SERIES)


def truth_broadcast_metrics(ws: Workspace, config: dict) -> list[dict]:
    parents = [({"broadcast_id": b["id"]}, f"broadcast:{b['id']}") for b in ws.data["broadcasts"]]
    return truth_records(config, parents, version=1, names=SERIES)


def truth_broadcast_action_metrics(ws: Workspace, config: dict) -> list[dict]:
    parents = [
        ({"broadcast_id": broadcast_id, "action_id": int(a["id"])}, f"broadcast_action:{a['id']}")
        for broadcast_id, actions in ws.data["broadcast_actions"].items()
        for a in actions
    ]
    return truth_records(config, parents, version=2, names=served_series(ws, SERIES))


def truth_transactional_metrics(ws: Workspace, config: dict) -> list[dict]:
    parents = [
        ({"transactional_id": m["id"]}, f"transactional:{m['id']}")
        for m in ws.data["transactional"]
    ]
    return truth_records(config, parents, version=1, names=SERIES)


TRUTH = {
    "campaign_metrics": truth_campaign_metrics,
    "campaign_action_metrics": truth_campaign_action_metrics,
    "campaign_journey_metrics": truth_journey_metrics,
    "newsletter_metrics": truth_newsletter_metrics,
    "broadcast_metrics": truth_broadcast_metrics,
    "broadcast_action_metrics": truth_broadcast_action_metrics,
    "transactional_metrics": truth_transactional_metrics,
}
