"""Stream classes, one module per App API area."""

from __future__ import annotations

from tap_customerio.streams.activities import ActivitiesStream
from tap_customerio.streams.broadcasts import BroadcastsStream
from tap_customerio.streams.campaigns import CampaignActionsStream, CampaignsStream
from tap_customerio.streams.customers import CustomersStream
from tap_customerio.streams.messages import MessagesStream
from tap_customerio.streams.newsletters import NewslettersStream
from tap_customerio.streams.segments import SegmentsStream
from tap_customerio.streams.transactional import TransactionalMessagesStream

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
    # Deliveries, activities and people
    MessagesStream,
    ActivitiesStream,
    CustomersStream,
]
