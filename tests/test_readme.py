"""README.md stays in step with the tap: settings table and documented commands."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TAP = str(Path(sys.executable).with_name("tap-customerio"))


def load_updater():
    """Import scripts/update_readme_settings.py, which is not a package module."""
    path = ROOT / "scripts" / "update_readme_settings.py"
    spec = importlib.util.spec_from_file_location("update_readme_settings", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_settings_table_current():
    updater = load_updater()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")

    assert updater.replace_table(readme, updater.settings_table(TAP)) == readme


def test_settings_table_lists_every_setting():
    updater = load_updater()
    table = updater.settings_table(TAP)

    for name in ("api_key", "region", "api_url", "start_date", "max_requests_per_second"):
        assert f"| {name} |" in table


def test_stale_table_detected():
    updater = load_updater()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    stale = readme.replace("| api_key | True |", "| api_key | False |")

    assert stale != readme
    assert updater.replace_table(stale, updater.settings_table(TAP)) == readme


def test_missing_markers_rejected():
    updater = load_updater()

    with pytest.raises(ValueError, match="markers"):
        updater.replace_table("# no table here\n", "| a |")


def test_first_command_is_demo():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first_block = readme.split("```bash\n", 1)[1].split("```", 1)[0]

    assert first_block.strip() == "scripts/demo"
    assert (ROOT / "scripts" / "demo").stat().st_mode & 0o111
    assert "scripts/test" in readme
