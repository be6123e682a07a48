"""Run the tap in-process against the sandbox and collect its Singer messages."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from tap_customerio.tap import TapCustomerIO


@dataclass
class TapOutput:
    """The Singer messages of one run, grouped by type."""

    messages: list[dict] = field(default_factory=list)
    log: str = ""
    error: Exception | None = None

    @property
    def records(self) -> dict[str, list[dict]]:
        grouped: dict[str, list[dict]] = defaultdict(list)
        for message in self.messages:
            if message["type"] == "RECORD":
                grouped[message["stream"]].append(message["record"])
        return grouped

    @property
    def schemas(self) -> dict[str, dict]:
        return {m["stream"]: m for m in self.messages if m["type"] == "SCHEMA"}

    @property
    def states(self) -> list[dict]:
        return [m["value"] for m in self.messages if m["type"] == "STATE"]

    @property
    def last_state(self) -> dict:
        states = self.states
        return states[-1] if states else {}


def base_config(sandbox: Any, **overrides: Any) -> dict:
    """Return a tap config aimed at ``sandbox`` with a fast request budget."""
    config = {
        "api_key": sandbox.api_key,
        "api_url": sandbox.url,
        "max_requests_per_second": 200,
        "max_retry_seconds": 30,
    }
    config.update(overrides)
    return config


def selected_catalog(config: dict, streams: list[str] | None) -> dict:
    """Return the discovered catalog with only ``streams`` selected (all if None)."""
    tap = TapCustomerIO(config=config, parse_env_config=False, validate_config=False)
    catalog = tap.catalog_dict
    for entry in catalog["streams"]:
        chosen = streams is None or entry["tap_stream_id"] in streams
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = chosen
    return catalog


def run_tap(
    config: dict,
    streams: list[str] | None = None,
    state: dict | None = None,
    catalog: dict | None = None,
    *,
    allow_error: bool = False,
) -> TapOutput:
    """Sync the tap in-process and return its messages and log text.

    With ``allow_error`` an exception ends the sync but not the call: the output
    contains what was written before it, and ``error`` is the exception.
    """
    error: Exception | None = None
    if catalog is None:
        catalog = selected_catalog(config, streams)
    stdout = io.StringIO()
    log_buffer = io.StringIO()
    handler = logging.StreamHandler(log_buffer)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        # The SDK updates the state dict it is given, so it gets a copy.
        tap = TapCustomerIO(
            config=config,
            catalog=catalog,
            state=copy.deepcopy(state or {}),
            parse_env_config=False,
        )
        with contextlib.redirect_stdout(stdout):
            tap.sync_all()
    except Exception as exc:
        if not allow_error:
            raise
        error = exc
    finally:
        root.removeHandler(handler)
    messages = [json.loads(line) for line in stdout.getvalue().splitlines() if line.strip()]
    return TapOutput(messages=messages, log=log_buffer.getvalue(), error=error)


def by_key(records: list[dict], *keys: str) -> dict[tuple, dict]:
    """Index records by their primary key values."""
    return {tuple(r[k] for k in keys): r for r in records}
