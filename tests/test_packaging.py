"""The built wheel and sdist contain the tap only: no sandbox, tests or demo files."""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXCLUDED_TOP_LEVEL = ("sandbox/", "tests/", "scripts/", "demo/", "plugin/")


@pytest.fixture(scope="module")
def dist_dir(tmp_path_factory) -> Path:
    """Build the wheel and sdist once into a temporary folder with ``uv build``."""
    uv = os.environ.get("UV") or shutil.which("uv")
    assert uv, "uv not found: install it (scripts/test does) to build the package."
    out_dir = tmp_path_factory.mktemp("dist")
    result = subprocess.run(
        [uv, "build", "--quiet", "--out-dir", str(out_dir), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return out_dir


def test_wheel_contains_only_tap(dist_dir):
    (wheel,) = dist_dir.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()

    assert "tap_customerio/tap.py" in names
    assert any(n.startswith("tap_customerio/streams/") for n in names)
    for prefix in EXCLUDED_TOP_LEVEL:
        assert not [n for n in names if n.startswith(prefix)], f"wheel contains {prefix}"


def test_wheel_declares_entry_point(dist_dir):
    (wheel,) = dist_dir.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        entry_points = next(n for n in archive.namelist() if n.endswith("entry_points.txt"))
        text = archive.read(entry_points).decode()

    assert "tap-customerio = tap_customerio.tap:TapCustomerIO.cli" in text


def test_sdist_contains_only_tap(dist_dir):
    (sdist,) = dist_dir.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        # Drop the "tap_customerio-<version>/" folder every member starts with.
        names = [m.name.split("/", 1)[1] for m in archive.getmembers() if "/" in m.name]

    for required in ("pyproject.toml", "README.md", "LICENSE", "CHANGELOG.md"):
        assert required in names, f"sdist lacks {required}"
    assert "tap_customerio/tap.py" in names
    for prefix in EXCLUDED_TOP_LEVEL:
        assert not [n for n in names if n.startswith(prefix)], f"sdist contains {prefix}"
