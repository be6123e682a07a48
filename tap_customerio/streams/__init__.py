"""Stream classes, one module per App API area."""

from __future__ import annotations

from tap_customerio.streams.activities import ActivitiesStream
from tap_customerio.streams.broadcasts import (
    BroadcastActionsStream,
    BroadcastsStream,
    BroadcastTriggersStream,
)
from tap_customerio.streams.campaigns import CampaignActionsStream, CampaignsStream
from tap_customerio.streams.customers import CustomersStream
from tap_customerio.streams.exports import ExportsStream
from tap_customerio.streams.messages import MessagesStream
from tap_customerio.streams.metrics import (
    BroadcastActionMetricsStream,
    BroadcastMetricsStream,
    CampaignActionMetricsStream,
    CampaignJourneyMetricsStream,
    CampaignMetricsStream,
    NewsletterMetricsStream,
    TransactionalMetricsStream,
)
from tap_customerio.streams.newsletters import (
    NewslettersStream,
    NewsletterTestGroupsStream,
    NewsletterVariantsStream,
)
from tap_customerio.streams.objects import ObjectsStream, ObjectTypesStream
from tap_customerio.streams.segments import SegmentMembershipsStream, SegmentsStream
from tap_customerio.streams.suppressions import EspSuppressionsStream
from tap_customerio.streams.transactional import (
    TransactionalMessagesStream,
    TransactionalVariantsStream,
)
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
    NewsletterVariantsStream,
    NewsletterTestGroupsStream,
    # Broadcasts
    BroadcastsStream,
    BroadcastActionsStream,
    BroadcastTriggersStream,
    # Transactional
    TransactionalMessagesStream,
    TransactionalVariantsStream,
    # Segments
    SegmentsStream,
    SegmentMembershipsStream,
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
    # Metrics
    CampaignMetricsStream,
    CampaignActionMetricsStream,
    CampaignJourneyMetricsStream,
    NewsletterMetricsStream,
    BroadcastMetricsStream,
    BroadcastActionMetricsStream,
    TransactionalMetricsStream,
    # Deliveries, activities and people
    MessagesStream,
    ActivitiesStream,
    CustomersStream,
]
