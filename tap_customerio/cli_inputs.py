"""Checks of the files given on the command line, with one-line errors instead of tracebacks."""

from __future__ import annotations

import json
import typing as t
from datetime import datetime
from pathlib import Path


class InputFileError(Exception):
    """A --config, --state or --catalog file that cannot be used; the message gives the fix."""


def _describe(path: str, role: str) -> str:
    return f"{role} file '{path}'"


def _parse(text: str, path: str, role: str, fix: str) -> t.Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        msg = (
            f"{_describe(path, role)} is not valid JSON ({exc.msg} at line {exc.lineno} "
            f"column {exc.colno}): {fix}"
        )
        raise InputFileError(msg) from None
    except (ValueError, RecursionError) as exc:
        msg = f"{_describe(path, role)} is not valid JSON ({type(exc).__name__}): {fix}"
        raise InputFileError(msg) from None


def read_config_file(path: str) -> dict:
    """Return the settings object in ``path``."""
    fix = "fix the file, or pass --config ENV to read TAP_CUSTOMERIO_* variables."
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        msg = f"{_describe(path, 'config')} cannot be read ({reason}): {fix}"
        raise InputFileError(msg) from None
    config = _parse(text, path, "config", fix)
    if not isinstance(config, dict):
        kind = type(config).__name__
        msg = f"{_describe(path, 'config')} holds a JSON {kind}, not an object: {fix}"
        raise InputFileError(msg)
    return config


def check_state_text(text: str, path: str) -> None:
    """Raise ``InputFileError`` unless ``text`` is a Singer STATE object."""
    fix = "fix the file, or run without --state to read everything again."
    state = _parse(text, path, "STATE", fix)
    if not isinstance(state, dict):
        msg = (
            f"{_describe(path, 'STATE')} holds a JSON {type(state).__name__}, not an object: {fix}"
        )
        raise InputFileError(msg)
    bookmarks = state.get("bookmarks", {})
    if not isinstance(bookmarks, dict) or not all(isinstance(b, dict) for b in bookmarks.values()):
        msg = f"{_describe(path, 'STATE')} has 'bookmarks' that are not objects per stream: {fix}"
        raise InputFileError(msg)
    for stream, bookmark in bookmarks.items():
        entries = [bookmark, *(p for p in bookmark.get("partitions") or [] if isinstance(p, dict))]
        for entry in entries:
            value = entry.get("replication_key_value")
            if value is not None and not _is_date_time(value):
                msg = (
                    f"{_describe(path, 'STATE')} has bookmark {value!r} for stream "
                    f"'{stream}', which is not an ISO 8601 date-time: {fix}"
                )
                raise InputFileError(msg)


def _is_date_time(value: t.Any) -> bool:
    """Tell whether ``value`` is an ISO 8601 date-time string, as every bookmark is."""
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def check_catalog_text(text: str, path: str) -> None:
    """Raise ``InputFileError`` unless ``text`` is a Singer catalog the SDK can load."""
    fix = "fix the file, or write a new one with tap-customerio --discover."
    catalog = _parse(text, path, "catalog", fix)
    streams = catalog.get("streams") if isinstance(catalog, dict) else None
    if not isinstance(streams, list):
        msg = f"{_describe(path, 'catalog')} has no 'streams' list: {fix}"
        raise InputFileError(msg)
    for index, entry in enumerate(streams):
        problem = _catalog_entry_problem(entry)
        if problem:
            msg = f"{_describe(path, 'catalog')}: streams[{index}] {problem}: {fix}"
            raise InputFileError(msg)


def _catalog_entry_problem(entry: t.Any) -> str | None:
    if not isinstance(entry, dict):
        return "is not an object"
    if not isinstance(entry.get("tap_stream_id"), str):
        return "has no 'tap_stream_id' text"
    if not isinstance(entry.get("schema", {}), dict):
        return "has a 'schema' that is not an object"
    metadata = entry.get("metadata", [])
    if not isinstance(metadata, list):
        return "has a 'metadata' that is not a list"
    for item in metadata:
        if not (
            isinstance(item, dict)
            and isinstance(item.get("breadcrumb"), list)
            and isinstance(item.get("metadata"), dict)
        ):
            return "has a metadata item without a 'breadcrumb' list and a 'metadata' object"
    return None
