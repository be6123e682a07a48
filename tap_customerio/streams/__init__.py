"""Stream classes, one module per App API area."""

from __future__ import annotations

from tap_customerio.streams.broadcasts import BroadcastsStream
from tap_customerio.streams.campaigns import CampaignActionsStream, CampaignsStream
from tap_customerio.streams.exports import ExportsStream
from tap_customerio.streams.newsletters import NewslettersStream
from tap_customerio.streams.objects import ObjectsStream, ObjectTypesStream
from tap_customerio.streams.segments import SegmentsStream
from tap_customerio.streams.suppressions import EspSuppressionsStream
from tap_customerio.streams.transactional import TransactionalMessagesStream
from tap_customerio.streams.workspace import (
    CollectionsStream,
    IpAddressesStream,
    ReportingWebhooksStream,
    SenderIdentitiesStream,
    SnippetsStream,
    SubscriptionTopicsStream,
    WorkspacesStream,
)

STREAM_TYPES = [
    # Automations
    CampaignsStream,
    CampaignActionsStream,
    # One-time sends
    NewslettersStream,
    # Broadcasts
    BroadcastsStream,
    # Transactional
    TransactionalMessagesStream,
    # Segments
    SegmentsStream,
    # Objects
    ObjectTypesStream,
    ObjectsStream,
    # Exports
    ExportsStream,
    # Workspace settings
    CollectionsStream,
    SnippetsStream,
    SenderIdentitiesStream,
    ReportingWebhooksStream,
    SubscriptionTopicsStream,
    WorkspacesStream,
    IpAddressesStream,
    EspSuppressionsStream,
]
