"""Custom object types (``/v1/object_types``) and their objects (``/v1/objects``)."""

from __future__ import annotations

import functools
import typing as t
from functools import cached_property
from urllib.parse import quote

from singer_sdk import typing as th

from tap_customerio.client import BadBodyError, CustomerIOStream, ParentGoneError, response_body
from tap_customerio.prefetch import ordered_map

if t.TYPE_CHECKING:
    import requests
    from singer_sdk.helpers.types import Context

#: Response key of the object search.
SEARCH_KEY = "identifiers"
#: Response key of one object's attribute lookup.
ATTRIBUTES_KEY = "object"
#: Returned by the attribute lookup for an object deleted after the search.
_DELETED = object()


class ObjectTypesStream(CustomerIOStream):
    """Custom object types: ``GET /v1/object_types``, one unpaged list.

    The list sends ``id`` as a string ("integers passed as strings") while paths
    and the automations' ``object_type_id`` use the integer, so the tap emits
    ``id`` as an integer here and as ``object_type_id`` in ``objects``.
    """

    name = "object_types"
    path = "/object_types"
    envelope_key = "types"
    primary_keys = ("id",)
    personal_data = "no"
    request_cost = "1 per run"

    schema = th.PropertiesList(
        th.Property("id", th.IntegerType, required=True),
        th.Property("name", th.StringType),
        th.Property("singular_name", th.StringType),
        th.Property("slug", th.StringType),
        th.Property("singular_slug", th.StringType),
        th.Property("icon", th.StringType),
        th.Property("enabled", th.BooleanType),
    ).to_dict()

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        """Cast the type id to an integer."""
        row = super().post_process(row, context)
        if row is not None:
            row["id"] = int(row["id"])
        return row

    def get_child_context(self, record: dict, context: Context | None) -> dict:
        """Pass only the integer type id to the objects stream."""
        return {"object_type_id": record["id"]}


class ObjectsStream(CustomerIOStream):
    """Objects of every type, with their attributes.

    Unverified: the App API reference gives neither the request nor the response of
    the object search. The tap follows the best public evidence, a client library's
    stubbed call: ``POST /v1/objects?start=&limit=`` with the body
    ``{"object_type_id": "<id as string>", "filter": {...}}``, returning
    ``identifiers`` [{``object_id``, ``cio_object_id``}] and a ``next`` cursor. To
    match every object, the filter selects objects whose ``object_id`` exists, as
    the people search does with ``cio_id``. The page size of 1000 is the people
    search's; no limit is documented for objects.

    Attributes come from ``GET /v1/objects/{object_type_id}/{object_id}/attributes``,
    whose response key ``object`` is inferred from the person lookup. No batch form
    is documented, so a sync costs one search per 1000 objects plus one request per
    object: at the 10 requests per second budget, about 28 hours per million objects.
    The attributes are kept as one free-form object because their names (dots,
    spaces) and types differ per workspace.
    """

    name = "objects"
    path = "/objects"
    http_method = "POST"
    # The search and the attribute lookup use different keys, so validate_response
    # checks the one that fits each request.
    envelope_key = ""
    parent_stream_type = ObjectTypesStream
    primary_keys = ("object_type_id", "object_id")
    paged = True
    page_size = 1000
    personal_data = "maybe: `attributes` hold whatever the workspace stores on objects"
    extra_endpoints = ("GET /v1/objects/{object_type_id}/{object_id}/attributes",)
    request_cost = "1 search per object type per 1000 objects, plus 1 attribute read per object"

    schema = th.PropertiesList(
        th.Property("object_type_id", th.IntegerType, required=True),
        th.Property("object_id", th.StringType, required=True),
        th.Property("cio_object_id", th.StringType),
        th.Property("attributes", th.ObjectType()),
    ).to_dict()

    def prepare_request_payload(self, context: Context | None, next_page_token: t.Any) -> dict:
        """Return a search body that matches every object of the context's type."""
        type_id = str(context["object_type_id"]) if context else ""
        # NOTE: the filter shape is unverified (see the class docstring).
        every_object = {"field": "object_id", "operator": "exists", "type_id": type_id}
        return {
            "object_type_id": type_id,
            "filter": {"and": [{"object_attribute": every_object}]},
        }

    def validate_response(self, response: requests.Response) -> None:
        """Classify the response, then check the key that this kind of request returns."""
        super().validate_response(response)
        key = ATTRIBUTES_KEY if response.request.method == "GET" else SEARCH_KEY
        if key not in response_body(response):
            label = f"{response.request.method} {(response.request.path_url or '').split('?')[0]}"
            raise BadBodyError(self.name, label, f"no '{key}' key in the body", response)

    def parse_response(self, response: requests.Response) -> t.Iterable[dict]:
        """Yield the search's identifiers, none when the key is ``null``."""
        yield from response_body(response).get(SEARCH_KEY) or []

    def get_records(self, context: Context | None) -> t.Iterable[dict]:
        """Yield each object found by the search, with its attributes.

        Attribute lookups run on the request pool ahead of the consumer; objects are
        yielded in search order.
        """
        type_id = context["object_type_id"] if context else None
        lookups = ordered_map(
            self._tap.prefetcher,
            super().get_records(context),
            functools.partial(self._with_attributes, context),
        )
        for identifier, attributes in lookups:
            if attributes is _DELETED:
                continue
            yield {
                "object_type_id": type_id,
                "object_id": str(identifier["object_id"]),
                "cio_object_id": identifier.get("cio_object_id"),
                "attributes": attributes,
            }

    def _with_attributes(self, context: Context | None, identifier: dict) -> tuple[dict, t.Any]:
        return identifier, self._fetch_attributes(context, str(identifier["object_id"]))

    @cached_property
    def _send_with_retries(self) -> t.Callable:
        return self.request_decorator(self._request)

    def _fetch_attributes(self, context: Context | None, object_id: str) -> t.Any:
        """Return one object's attributes, or ``_DELETED`` if it is gone since the search."""
        type_id = context["object_type_id"] if context else ""
        # quote() with safe="" also encodes "/", "?", "#" and "%", which may all
        # occur in object ids.
        url = f"{self.url_base}/objects/{type_id}/{quote(object_id, safe='')}/attributes"
        prepared = self.build_prepared_request(
            method="GET", url=url, params={"id_type": "object_id"}, headers=self.http_headers
        )
        try:
            response = self._send_with_retries(prepared, context)
        except ParentGoneError:
            self._tap.run_stats.add(self.name, "skipped_parents")
            self.logger.warning(
                "Stream '%s': skipped object %r of type %s, because its attributes "
                "returned 404 (it was deleted after the search).",
                self.name,
                object_id,
                type_id,
            )
            return _DELETED
        found = response_body(response).get(ATTRIBUTES_KEY) or {}
        return found.get("attributes")
