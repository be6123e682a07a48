"""Schema fragments that several Customer.io objects share."""

from __future__ import annotations

from singer_sdk import typing as th

TAGS = th.ArrayType(th.StringType)

#: A field that the API sends either as a JSON-encoded string or as JSON itself.
STRING_OR_JSON = th.CustomType({"type": ["string", "object", "array", "null"]})

#: ``[{"type": "email", "id": 3}]``, as in a campaign's ``actions`` and ``msg_templates``.
ID_TYPE_LIST = th.ArrayType(
    th.ObjectType(
        th.Property("id", th.IntegerType),
        th.Property("type", th.StringType),
    )
)

CUSTOMER_IDENTIFIERS = th.ObjectType(
    th.Property("id", th.StringType),
    th.Property("email", th.StringType),
    th.Property("cio_id", th.StringType),
)

#: Message content fields shared by automation actions, broadcast actions,
#: one-time send variants and transactional contents.
CONTENT_PROPERTIES = (
    th.Property("deduplicate_id", th.StringType),
    th.Property("name", th.StringType),
    th.Property("type", th.StringType),
    th.Property("language", th.StringType),
    th.Property("layout", th.StringType),
    th.Property("body", th.StringType),
    th.Property("body_amp", th.StringType),
    th.Property("body_plain", th.StringType),
    th.Property("subject", th.StringType),
    th.Property("preheader_text", th.StringType),
    th.Property("from", th.StringType),
    th.Property("from_id", th.IntegerType),
    th.Property("reply_to", th.StringType),
    th.Property("reply_to_id", th.IntegerType),
    th.Property("recipient", th.StringType),
    th.Property("bcc", th.StringType),
    th.Property("cc", th.StringType),
    th.Property("fake_bcc", th.BooleanType),
    # The API sends headers as a JSON-encoded string, not as an object.
    th.Property("headers", th.StringType),
    th.Property("preprocessor", th.StringType),
    th.Property("created", th.DateTimeType),
    th.Property("updated", th.DateTimeType),
)

#: Automation and broadcast action fields (without the parent id).
ACTION_PROPERTIES = (
    th.Property("id", th.IntegerType, required=True),
    th.Property("parent_action_id", th.IntegerType),
    *CONTENT_PROPERTIES,
    th.Property("multi_language_branch_action_id", th.IntegerType),
    th.Property("sending_state", th.StringType),
    th.Property("body_json", th.StringType),
    th.Property("editor", th.StringType),
    th.Property("image_url", th.StringType),
    th.Property("sender_identity_id", th.IntegerType),
    th.Property("recipient_environment_id", th.IntegerType),
    th.Property("url", th.StringType),
    th.Property("method", th.StringType),
    th.Property("request_method", th.StringType),
    th.Property("tracked", th.BooleanType),
    th.Property("send_to_unsubscribed", th.BooleanType),
)
