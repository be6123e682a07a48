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


#: ISO 8601 date prefixes (``2024-05-01T``) by days since 1970; emptied when full.
_DAY_PREFIXES: dict[int, str] = {}
_DAY_PREFIX_LIMIT = 100_000
_TWO_DIGITS = [f"{number:02d}" for number in range(60)]


def _int_epoch_to_iso(seconds: int) -> str | None:
    """Return what ``datetime.fromtimestamp(seconds, utc).isoformat()`` returns, faster.

    Each day's date text is made once by ``datetime`` and cached; the time of day is
    formatted directly. None when the day is outside the range of ``datetime``.
    """
    day, rest = divmod(seconds, 86400)
    prefix = _DAY_PREFIXES.get(day)
    if prefix is None:
        try:
            midnight = datetime.fromtimestamp(day * 86400, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
        if len(_DAY_PREFIXES) >= _DAY_PREFIX_LIMIT:
            _DAY_PREFIXES.clear()
        prefix = _DAY_PREFIXES[day] = midnight.isoformat()[:11]
    minutes, secs = divmod(rest, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{prefix}{_TWO_DIGITS[hours]}:{_TWO_DIGITS[minutes]}:{_TWO_DIGITS[secs]}+00:00"


def epoch_to_iso(value: t.Any) -> t.Any:
    """Convert a Unix-seconds timestamp to a UTC ISO 8601 string.

    Non-numbers are passed on unchanged. A number outside the range of ``datetime``
    (for example milliseconds, or NaN) becomes None.
    """
    if type(value) is int:
        return _int_epoch_to_iso(value)
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


# Compiled fitting ------------------------------------------------------------------
#
# ``fit_record`` walks the schema for every value of every record. The compiled form
# walks it once per stream. Per property it keeps the Python types that pass as they
# are and a function for every other value, which ends in ``fit_value``, so it
# returns exactly what ``fit_record`` returns. tests/test_conformance.py checks that.

_Slow = t.Callable[[t.Any, FitReport], t.Any]
_PRIMITIVES = {"string": (str,), "integer": (int,), "boolean": (bool,), "number": (int,)}


class _AnyType:
    """A set of types that contains every type: values under it pass unchanged."""

    def __contains__(self, item: object) -> bool:
        return True


_ANY_TYPE: t.Any = _AnyType()


def _compile(schema: t.Any, path: str) -> tuple[t.Any, _Slow]:
    """Return ``(types that pass unchanged, fitter of any other non-null value)``."""
    if not isinstance(schema, dict):
        return _ANY_TYPE, _keep
    types = [name for name in _types(schema) if name != "null"]
    if not types:
        return _ANY_TYPE, _keep

    def generic(value: t.Any, report: FitReport) -> t.Any:
        return _fit_child(value, schema, path, report)

    if "string" in types and schema.get("format") == "date-time":

        def fit_datetime(value: t.Any, report: FitReport) -> t.Any:
            if type(value) is int:
                converted = _int_epoch_to_iso(value)
                if converted is not None:
                    return converted
            return generic(value, report)

        return frozenset(), fit_datetime

    exact = frozenset(kind for name in types for kind in _PRIMITIVES.get(name, ()))
    if "object" in types:
        fit_fields = _compile_properties(schema.get("properties") or {}, f"{path}.")

        def fit_object(value: t.Any, report: FitReport) -> t.Any:
            if type(value) is not dict:
                return generic(value, report)
            return fit_fields(value, report)

        return exact, fit_object
    if "array" in types:
        item_exact, fit_item = _compile(schema.get("items"), f"{path}[]")

        def fit_array(value: t.Any, report: FitReport) -> t.Any:
            if type(value) is not list:
                return generic(value, report)
            return [
                item if item is None or type(item) in item_exact else fit_item(item, report)
                for item in value
            ]

        return exact, fit_array
    return exact, generic


def _keep(value: t.Any, report: FitReport) -> t.Any:
    return value


def _compile_properties(properties: dict, prefix: str) -> t.Callable[[dict, FitReport], dict]:
    """Return a function that fits every key of an object (a new dict) to ``properties``."""
    plan = {name: _compile(child, f"{prefix}{name}") for name, child in properties.items()}
    exact = {name: kinds for name, (kinds, _) in plan.items()}
    slow = {name: fitter for name, (_, fitter) in plan.items()}
    get_exact = exact.get
    if not plan:
        return lambda value, report: dict(value)

    def fit_fields(value: dict, report: FitReport) -> dict:
        return {
            key: (
                item
                if item is None or type(item) in get_exact(key, _ANY_TYPE)
                else slow[key](item, report)
            )
            for key, item in value.items()
        }

    return fit_fields


def compile_record_fitter(schema: dict) -> t.Callable[[dict], tuple[dict, FitReport]]:
    """Return a function that does what ``fit_record(record, schema)`` does, faster."""
    properties = schema.get("properties") or {}
    fit_fields = _compile_properties(properties, "")
    known = properties.keys()

    def fit(record: dict) -> tuple[dict, FitReport]:
        report = FitReport()
        if record.keys() - known:
            report.new_fields = [name for name in record if name not in properties]
        return fit_fields(record, report), report

    return fit


def sdk_conformance_redundant(schema: t.Any) -> bool:
    """Return whether the SDK's recursive type conformance leaves fitted records alone.

    After ``fit_record`` every value under a typed property has its schema type or is
    None, which is what the SDK's pass produces too. The pass still changes a record
    where an object schema lists ``properties`` but does not allow additional ones
    (the SDK drops unknown keys there), and where a property has no type (the SDK
    turns NaN and infinity into None). Anything else (``anyOf``, tuple arrays) is
    treated as not redundant.
    """
    if not isinstance(schema, dict) or "anyOf" in schema or "prefixItems" in schema:
        return False
    types = [name for name in _types(schema) if name != "null"]
    if not types:
        return False
    if "object" in types and "properties" in schema:
        if not schema.get("additionalProperties"):
            return False
        if not all(sdk_conformance_redundant(child) for child in schema["properties"].values()):
            return False
    if "array" in types and "items" in schema:
        return sdk_conformance_redundant(schema["items"])
    return True
