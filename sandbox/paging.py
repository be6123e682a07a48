"""Cursor and offset paging as the App API does it."""

from __future__ import annotations

import base64
from typing import Any

from sandbox.server_errors import ApiError


def encode_cursor(position: int) -> str:
    """Encode a list position as an opaque cursor, like the API's base64 tokens."""
    return base64.b64encode(f"0:{position}".encode()).decode()


def decode_cursor(token: str) -> int:
    """Decode a cursor made by ``encode_cursor``, or raise a 400."""
    try:
        return int(base64.b64decode(token.encode()).decode().split(":", 1)[1])
    except (ValueError, IndexError, UnicodeDecodeError):
        raise ApiError(400, f"invalid start cursor {token!r}") from None


def cursor_page(
    items: list[Any],
    request: Any,
    key: str,
    *,
    default_limit: int,
    max_limit: int | None,
    trailing_empty_page: bool = False,
    extra: dict | None = None,
) -> dict:
    """Serve one page of ``items`` with ``start``/``limit`` and a ``next`` cursor.

    ``trailing_empty_page`` reproduces lists (sender identities) that send a
    non-empty ``next`` after their last item and then one empty page.
    """
    limit = request.int_query("limit", default_limit)
    if limit is None or limit < 1:
        raise ApiError(400, "limit must be a positive integer")
    if max_limit is not None and limit > max_limit:
        raise ApiError(400, f"limit must be at most {max_limit}")
    # Where no maximum is documented, the API's default page size is the page size.
    request.listing = (len(items), max_limit or default_limit)
    start = decode_cursor(request.query["start"]) if request.query.get("start") else 0
    page = items[start : start + limit]
    end = start + len(page)
    has_more = end < len(items) or (trailing_empty_page and page and end == len(items))
    body = {key: page, "next": encode_cursor(end) if has_more else ""}
    if extra:
        body.update(extra)
    return body
