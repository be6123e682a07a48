"""meltano.yml and the Meltano Hub definition agree with the tap's ``--about`` output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
TAP = Path(sys.executable).with_name("tap-customerio")
HUB_FILE = ROOT / "plugin" / "extractors" / "tap-customerio.yml"
REQUIRED_CAPABILITIES = {
    "catalog",
    "discover",
    "state",
    "about",
    "stream-maps",
    "schema-flattening",
    "activate-version",
}


def about() -> dict:
    """Return the live tap's ``--about --format=json`` output."""
    output = subprocess.run(
        [str(TAP), "--about", "--format=json"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    return json.loads(output)


def meltano_extractor() -> dict:
    """Return the tap-customerio extractor of meltano.yml."""
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    return next(p for p in project["plugins"]["extractors"] if p["name"] == "tap-customerio")


def hub_definition() -> dict:
    """Return the Meltano Hub definition file."""
    return yaml.safe_load(HUB_FILE.read_text())


def expected_kind(schema: dict) -> str:
    """Return the Meltano setting kind equivalent to one JSON schema property."""
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else types
    if "enum" in schema:
        return "options"
    if "string" in types:
        return "date_iso8601" if schema.get("format") == "date-time" else "string"
    for json_type, kind in (
        ("integer", "integer"),
        ("number", "decimal"),
        ("boolean", "boolean"),
        ("object", "object"),
        ("array", "array"),
    ):
        if json_type in types:
            return kind
    msg = f"no Meltano kind known for schema {schema!r}"
    raise AssertionError(msg)


@pytest.fixture(scope="module")
def about_settings() -> dict:
    return about()["settings"]["properties"]


@pytest.mark.parametrize("source", ["meltano.yml", "hub"])
def test_settings_match_about(source, about_settings):
    plugin = meltano_extractor() if source == "meltano.yml" else hub_definition()
    settings = {s["name"]: s for s in plugin["settings"]}

    assert sorted(settings) == sorted(about_settings)
    for name, schema in about_settings.items():
        setting = settings[name]
        assert setting["kind"] == expected_kind(schema), name
        assert setting.get("sensitive", False) == schema.get("secret", False), name
        assert setting.get("description"), f"{name} has no description"
        if "default" in schema:
            assert setting.get("value") == schema["default"], name
        else:
            assert "value" not in setting, name
        if "enum" in schema:
            assert [o["value"] for o in setting["options"]] == schema["enum"], name


@pytest.mark.parametrize("source", ["meltano.yml", "hub"])
def test_capabilities_match_about(source):
    plugin = meltano_extractor() if source == "meltano.yml" else hub_definition()
    advertised = set(about()["capabilities"])

    assert set(plugin["capabilities"]) >= REQUIRED_CAPABILITIES
    assert set(plugin["capabilities"]) <= advertised


def test_api_key_sensitive(about_settings):
    assert about_settings["api_key"]["secret"] is True
    assert meltano_extractor()["settings"][0]["name"] == "api_key"
    assert meltano_extractor()["settings"][0]["sensitive"] is True


def test_meltano_project_keys():
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    extractor = meltano_extractor()

    assert "version" not in project
    assert project["requires_meltano"]
    assert extractor["namespace"] == "tap_customerio"
    assert extractor["pip_url"] == "-e ."
    assert extractor["executable"] == "tap-customerio"


def test_hub_fields_present():
    hub = hub_definition()
    extractor = meltano_extractor()

    for field in (
        "name",
        "variant",
        "namespace",
        "label",
        "description",
        "docs",
        "repo",
        "pip_url",
        "executable",
        "capabilities",
        "settings",
        "keywords",
        "maintenance_status",
        "domain_url",
    ):
        assert hub.get(field), f"the Hub definition has no {field}"
    assert hub["name"] == extractor["name"]
    assert hub["namespace"] == extractor["namespace"]
    assert hub["executable"] == extractor["executable"]
    assert hub["settings"] == extractor["settings"]
    assert hub["maintenance_status"] in {"active", "beta", "development", "inactive"}
