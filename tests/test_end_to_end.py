"""End to end: the tap CLI into target-jsonl, then DuckDB, against a sandbox on 127.0.0.1.

One test pipes the tap into target-jsonl; the other runs the project's meltano.yml with
``meltano run``. Both load the JSONL files with scripts/load_jsonl_to_duckdb.py and
compare the primary keys of every table with the sandbox's records, for every stream
of the discovered catalog. target-jsonl and Meltano run from PyPI through ``uv tool
run``, because their pinned dependencies conflict with the tap's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from sandbox import Sandbox
from tests.helpers import base_config

ROOT = Path(__file__).resolve().parent.parent
TAP = Path(sys.executable).with_name("tap-customerio")
TARGET_JSONL = "target-jsonl==0.1.4"
MELTANO = "meltano==4.4.1"


def uv_executable() -> str:
    """Return the uv binary: the one running this test, else the one on PATH."""
    found = os.environ.get("UV") or shutil.which("uv")
    assert found, "uv not found: install it (scripts/test does) to run the end-to-end tests."
    return found


def catalog_streams(config: dict) -> dict[str, list[str]]:
    """Return each discovered stream's primary key, from the tap CLI's catalog."""
    output = subprocess.run(
        [str(TAP), "--config", "ENV", "--discover"],
        check=True,
        capture_output=True,
        text=True,
        env=dict(os.environ, TAP_CUSTOMERIO_API_KEY=config["api_key"]),
        timeout=60,
    ).stdout
    return {s["tap_stream_id"]: s["key_properties"] for s in json.loads(output)["streams"]}


def load_into_duckdb(jsonl_dir: Path, database: Path) -> None:
    """Run the project's JSONL-to-DuckDB loader script."""
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "load_jsonl_to_duckdb.py"),
            "--input",
            str(jsonl_dir),
            "--database",
            str(database),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )


def key_as_text(column: str, column_type: str) -> str:
    """Return SQL that renders a key column as the tap wrote it.

    DuckDB's JSON reader turns ISO date-times into timestamps, so those are written
    back in the tap's ``+00:00`` ISO form.
    """
    if column_type.startswith("TIMESTAMP"):
        return f"strftime(timezone('UTC', \"{column}\"), '%Y-%m-%dT%H:%M:%S') || '+00:00'"
    return f'CAST("{column}" AS VARCHAR)'


def loaded_keys(database: Path, table: str, keys: list[str]) -> list[tuple]:
    """Return the primary key of every row of ``table``, as strings."""
    with duckdb.connect(str(database), read_only=True) as connection:
        tables = {row[0] for row in connection.execute("SHOW TABLES").fetchall()}
        if table not in tables:
            return []
        types = dict(
            connection.execute(
                f'SELECT column_name, column_type FROM (DESCRIBE "{table}")'  # noqa: S608
            ).fetchall()
        )
        columns = ", ".join(key_as_text(key, types.get(key, "")) for key in keys)
        query = f'SELECT {columns} FROM "{table}"'  # noqa: S608 (names from the catalog)
        return connection.execute(query).fetchall()


def assert_every_row_landed(sandbox: Sandbox, config: dict, database: Path) -> None:
    """Compare every catalog stream's table with the sandbox's records by primary key."""
    streams = catalog_streams(config)
    assert streams, "the tap discovered no streams"
    total = 0
    for stream, keys in streams.items():
        expected = sorted(
            tuple(str(record[key]) for key in keys) for record in sandbox.truth(stream, config)
        )
        loaded = sorted(loaded_keys(database, stream, keys))
        assert len(loaded) == len(set(loaded)), f"{stream}: duplicate primary keys in DuckDB"
        assert len(loaded) == len(expected), f"{stream}: {len(loaded)} rows, {len(expected)} sent"
        assert loaded == expected, f"{stream}: primary keys differ from the sandbox's"
        total += len(loaded)
    assert total > 0, "no rows were loaded at all"


@pytest.fixture
def e2e_sandbox():
    """A sandbox of the small scale, without rate limit, for one end-to-end run."""
    with Sandbox(seed=5, rate_limit=None) as server:
        yield server


def test_pipe_into_target_jsonl(e2e_sandbox, tmp_path):
    config = base_config(e2e_sandbox)
    config_file = tmp_path / "tap.json"
    config_file.write_text(json.dumps(config))
    jsonl_dir = tmp_path / "jsonl"
    jsonl_dir.mkdir()
    target_config = tmp_path / "target.json"
    target_config.write_text(json.dumps({"destination_path": str(jsonl_dir)}))

    with (tmp_path / "tap.log").open("w") as tap_log:
        tap = subprocess.Popen(
            [str(TAP), "--config", str(config_file)], stdout=subprocess.PIPE, stderr=tap_log
        )
        target_command = [uv_executable(), "tool", "run", "--quiet", "--from", TARGET_JSONL]
        target = subprocess.run(
            [*target_command, "target-jsonl", "--config", str(target_config)],
            stdin=tap.stdout,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        tap.stdout.close()
        tap_code = tap.wait(timeout=60)

    assert tap_code == 0, (tmp_path / "tap.log").read_text()[-3000:]
    assert target.returncode == 0, target.stderr[-3000:]
    load_into_duckdb(jsonl_dir, tmp_path / "e2e.duckdb")
    assert_every_row_landed(e2e_sandbox, config, tmp_path / "e2e.duckdb")


def test_meltano_run_into_duckdb(e2e_sandbox, tmp_path):
    config = base_config(e2e_sandbox)
    database = tmp_path / "meltano.duckdb"
    env = dict(
        os.environ,
        MELTANO_SEND_ANONYMOUS_USAGE_STATS="false",
        MELTANO_DATABASE_URI=f"sqlite:///{tmp_path / 'meltano.db'}",
        TAP_CUSTOMERIO_API_URL=config["api_url"],
        TAP_CUSTOMERIO_API_KEY=config["api_key"],
        TARGET_JSONL_DESTINATION_PATH=str(tmp_path / "jsonl"),
        JSONL_TO_DUCKDB_INPUT_DIR=str(tmp_path / "jsonl"),
        JSONL_TO_DUCKDB_DATABASE=str(database),
    )
    meltano = [uv_executable(), "tool", "run", "--quiet", "--from", MELTANO, "meltano"]

    install = subprocess.run(
        [*meltano, "install"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    blocks = ["tap-customerio", "target-jsonl", "jsonl-to-duckdb:load"]
    run = subprocess.run(
        [*meltano, "--environment", "demo", "run", "--full-refresh", *blocks],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    assert run.returncode == 0, run.stderr[-3000:]
    assert_every_row_landed(e2e_sandbox, config, database)
