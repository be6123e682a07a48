"""The personal-data stream maps of meltano.yml (tap-customerio-masked) hash and drop fields."""

from __future__ import annotations

import hashlib
from pathlib import Path

import yaml

from tap_customerio.streams import STREAM_TYPES
from tests.helpers import base_config, run_tap, selected_catalog

ROOT = Path(__file__).resolve().parent.parent


def masked_plugin() -> dict:
    """Return the tap-customerio-masked extractor of meltano.yml."""
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    plugin = next(
        p for p in project["plugins"]["extractors"] if p["name"] == "tap-customerio-masked"
    )
    assert plugin["inherit_from"] == "tap-customerio"
    return plugin


def masked_config() -> dict:
    """Return the config of the tap-customerio-masked extractor."""
    return masked_plugin()["config"]


def test_masked_maps_hash_and_drop(sandbox):
    stream_maps = masked_config()["stream_maps"]
    salt = "test-salt-é"
    config = base_config(sandbox, stream_maps=stream_maps, stream_map_config={"hash_salt": salt})
    catalog_streams = {e["tap_stream_id"] for e in selected_catalog(config, None)["streams"]}
    mapped = sorted(set(stream_maps) & catalog_streams)
    assert mapped, "no stream of the masked example exists in the catalog"

    output = run_tap(config, mapped)

    checked_values = 0
    for stream in mapped:
        records = output.records[stream]
        expected = {r["id"]: r for r in sandbox.truth(stream, config)}
        schema_properties = output.schemas[stream]["schema"]["properties"]
        assert len(records) == len(expected), stream
        for field, expression in stream_maps[stream].items():
            if expression == "__NULL__":
                assert field not in schema_properties, f"{stream}.{field} still in SCHEMA"
                assert all(field not in r for r in records), f"{stream}.{field} still sent"
                continue
            assert expression.startswith("sha256("), f"{stream}.{field}: unknown expression"
            for record in records:
                original = expected[record["id"]].get(field)
                salted = (salt + original).encode() if original else None
                hashed = hashlib.sha256(salted).hexdigest() if salted else None
                assert record[field] == hashed, f"{stream}.{field} of id {record['id']}"
                checked_values += original is not None
    assert checked_values > 0, "no personal value was present to hash"


def test_masked_salt_from_environment():
    assert masked_config()["stream_map_config"] == {"hash_salt": "$CUSTOMERIO_HASH_SALT"}


def test_masked_leaves_out_unmapped_personal_streams():
    plugin_select = masked_plugin()["select"]
    mapped = set(masked_config()["stream_maps"])
    for stream_class in STREAM_TYPES:
        personal = str(stream_class.personal_data).startswith(("yes", "maybe"))
        if personal and stream_class.name not in mapped:
            assert f"!{stream_class.name}.*" in plugin_select, stream_class.name
        if stream_class.name in mapped:
            assert f"!{stream_class.name}.*" not in plugin_select, stream_class.name
