"""Fit API values to the stream schema, so that a field whose type changed is handled.

The rules, per JSON schema type of a property:

- ``date-time``: Unix seconds (number or numeric string) become UTC ISO 8601; an ISO
  8601 string is normalised to the same form.
- ``integer``: a numeric string of digits or an integral float becomes an int.
- ``number``: a numeric string becomes a float.
- ``boolean``: ``"true"``/``"false"`` and 0/1 become booleans.
- ``string``: numbers and booleans become their JSON text; objects and arrays become
  JSON text.
- ``object``/``array``: a string holding JSON of that shape is parsed.

A value that fits no rule is a *misfit*: the record gets ``null`` there and the caller
decides whether to warn or to fail.
"""

from __future__ import annotations

import json
import math
import re
import typing as t
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal

_NUMBER = (int, float, Decimal)
_INTEGER_TEXT = re.compile(r"\s*[+-]?\d+\s*")


class _Misfit:
    def __repr__(self) -> str:
        return "MISFIT"


#: Returned by ``fit_value`` for a value that fits none of the schema's types.
MISFIT: t.Any = _Misfit()


def epoch_to_iso(value: t.Any) -> t.Any:
    """Convert a Unix-seconds timestamp to a UTC ISO 8601 string.

    Non-numbers are passed on unchanged. A number outside the range of ``datetime``
    (for example milliseconds, or NaN) becomes None.
    """
    if isinstance(value, bool) or not isinstance(value, _NUMBER):
        return value
    seconds = value if isinstance(value, int) else float(value)
    try:
        return datetime.fromtimestamp(seconds, tz=timezone.utc).isoformat()
    except (OverflowError, OSError, ValueError):
        return None


def _is_number(value: t.Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, _NUMBER):
        return False
    return math.isfinite(value)


def _to_datetime(value: t.Any) -> t.Any:
    if _is_number(value):
        converted = epoch_to_iso(value)
        return MISFIT if converted is None else converted
    if not isinstance(value, str):
        return MISFIT
    text = value.strip()
    number = _to_number(text)
    if number is not MISFIT:
        return _to_datetime(number)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return MISFIT
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    try:
        return parsed.astimezone(timezone.utc).isoformat()
    except OverflowError:
        return MISFIT


def _to_integer(value: t.Any) -> t.Any:
    if isinstance(value, str) and _INTEGER_TEXT.fullmatch(value):
        return int(value)
    if _is_number(value) and value == int(value):
        return int(value)
    return MISFIT


def _to_number(value: t.Any) -> t.Any:
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return MISFIT
        return number if math.isfinite(number) else MISFIT
    return MISFIT


def _to_boolean(value: t.Any) -> t.Any:
    if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
        return value.strip().lower() == "true"
    if _is_number(value) and value in (0, 1):
        return bool(value)
    return MISFIT


def _to_string(value: t.Any) -> t.Any:
    if _is_number(value):
        return str(value)
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return MISFIT


def _from_json_text(value: t.Any, shape: type) -> t.Any:
    if not isinstance(value, str):
        return MISFIT
    try:
        parsed = json.loads(value)
    except ValueError:
        return MISFIT
    return parsed if isinstance(parsed, shape) else MISFIT


_EXACT: dict[str, t.Callable[[t.Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": _is_number,
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
}

_COERCE: dict[str, t.Callable[[t.Any], t.Any]] = {
    "integer": _to_integer,
    "number": _to_number,
    "boolean": _to_boolean,
    "string": _to_string,
    "object": lambda v: _from_json_text(v, dict),
    "array": lambda v: _from_json_text(v, list),
}


@dataclass
class FitReport:
    """Schema mismatches of one record: misfit paths and new top-level fields."""

    misfits: list[tuple[str, t.Any]] = field(default_factory=list)
    new_fields: list[str] = field(default_factory=list)


def _types(schema: dict) -> list[str]:
    declared = schema.get("type")
    if isinstance(declared, str):
        return [declared]
    if isinstance(declared, list):
        return [name for name in declared if isinstance(name, str)]
    return []


def fit_value(
    value: t.Any, schema: t.Any, path: str = "", report: FitReport | None = None
) -> t.Any:
    """Return ``value`` fitted to ``schema``, or ``MISFIT`` when no rule fits.

    Nested misfits become None inside the returned object and are added to ``report``.
    A schema without ``type`` (any JSON value) accepts everything.
    """
    if value is None or not isinstance(schema, dict):
        return value
    types = [name for name in _types(schema) if name != "null"]
    if not types:
        return value
    if "string" in types and schema.get("format") == "date-time":
        fitted = _to_datetime(value)
        if fitted is not MISFIT or types == ["string"]:
            return fitted
    for name in types:
        if name in _EXACT and _EXACT[name](value):
            return _descend(value, name, schema, path, report)
    for name in types:
        coerce = _COERCE.get(name)
        fitted = coerce(value) if coerce else MISFIT
        if fitted is not MISFIT:
            return _descend(fitted, name, schema, path, report)
    return MISFIT


def _descend(value: t.Any, name: str, schema: dict, path: str, report: FitReport | None) -> t.Any:
    if name == "object":
        properties = schema.get("properties") or {}
        return {
            key: _fit_child(item, properties.get(key), f"{path}.{key}", report)
            for key, item in value.items()
        }
    if name == "array":
        items = schema.get("items")
        return [_fit_child(item, items, f"{path}[]", report) for item in value]
    return value


def _fit_child(value: t.Any, schema: t.Any, path: str, report: FitReport | None) -> t.Any:
    fitted = fit_value(value, schema, path, report)
    if fitted is MISFIT:
        if report is not None:
            report.misfits.append((path, value))
        return None
    return fitted


def fit_record(record: dict, schema: dict) -> tuple[dict, FitReport]:
    """Return a copy of ``record`` fitted to ``schema`` and what did not fit."""
    report = FitReport()
    properties = schema.get("properties") or {}
    fitted: dict = {}
    for name, value in record.items():
        if name not in properties:
            report.new_fields.append(name)
            fitted[name] = value
            continue
        fitted[name] = _fit_child(value, properties[name], name, report)
    return fitted, report
