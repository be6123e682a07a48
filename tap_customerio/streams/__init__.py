"""Stream classes, one module per App API area."""

from __future__ import annotations

from tap_customerio.streams.campaigns import CampaignActionsStream, CampaignsStream

STREAM_TYPES = [
    CampaignsStream,
    CampaignActionsStream,
]
