"""Fixtures and helpers that load the tap's output into a real PostgreSQL server.

The server comes from ``scripts/start-postgres``: its settings are read from the
``TEST_POSTGRES_*`` environment variables that ``.ci/run`` exports, and when they are
absent the fixture runs the script itself and stops the server at the end of the
session. The loader is ``meltanolabs-target-postgres`` from PyPI, installed into its own
virtual environment under ``.targets/`` because it pins its own singer-sdk.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TARGET_PACKAGE = "meltanolabs-target-postgres"
TARGET_VERSION = "0.8.1"
TARGET_VENV = ROOT / ".targets" / "postgres"
SETTINGS = ("HOST", "PORT", "USER", "PASSWORD", "DATABASE")
PIPELINE_TIMEOUT_SECONDS = 300


@dataclass
class Postgres:
    """Connection settings of the test server, and a way to query it with psql."""

    host: str
    port: int
    user: str
    password: str
    database: str

    def target_config(self, schema: str, **overrides: object) -> dict:
        """Return a target-postgres config that loads into ``schema``."""
        config = {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password,
            "database": self.database,
            "default_target_schema": schema,
        }
        config.update(overrides)
        return config

    def execute(self, sql: str) -> str:
        """Run ``sql`` with psql and return its unaligned output."""
        command = [
            psql_path(),
            "--no-psqlrc",
            "--quiet",
            "--tuples-only",
            "--no-align",
            "--set=ON_ERROR_STOP=1",
            f"--host={self.host}",
            f"--port={self.port}",
            f"--username={self.user}",
            f"--dbname={self.database}",
            f"--command={sql}",
        ]
        env = dict(os.environ, PGPASSWORD=self.password, PGCONNECT_TIMEOUT="10")
        result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        assert result.returncode == 0, f"psql failed on {sql!r}: {result.stderr.strip()}"
        return result.stdout.strip()

    def rows(self, sql: str) -> list[dict]:
        """Return the rows of a query as JSON objects (timestamps as ISO strings)."""
        # The queries are the tests' own, with quoted names.
        text = self.execute(f"SELECT coalesce(json_agg(q), '[]'::json) FROM ({sql}) AS q")  # noqa: S608
        return json.loads(text)

    def table_rows(self, schema: str, table: str) -> list[dict]:
        """Return every row of ``schema.table``."""
        return self.rows(f"SELECT * FROM {quote_ident(schema)}.{quote_ident(table)}")  # noqa: S608

    def count(self, schema: str, table: str) -> int:
        """Return the row count of ``schema.table``."""
        sql = f"SELECT count(*) FROM {quote_ident(schema)}.{quote_ident(table)}"  # noqa: S608
        return int(self.execute(sql))

    def columns(self, schema: str, table: str) -> dict[str, dict]:
        """Return ``{column: {data_type, udt_name}}`` of a table (empty if it is missing).

        information_schema names an array column's type ``ARRAY`` and its element
        type in ``udt_name`` (``_int8`` for bigint[]).
        """
        rows = self.rows(
            "SELECT column_name, data_type, udt_name FROM information_schema.columns "  # noqa: S608
            f"WHERE table_schema = {quote_literal(schema)} AND table_name = {quote_literal(table)}"
        )
        return {row["column_name"]: row for row in rows}

    def drop_schema(self, schema: str) -> None:
        """Drop a schema a test loaded into, with its tables."""
        self.execute(f"DROP SCHEMA IF EXISTS {quote_ident(schema)} CASCADE")


def quote_ident(name: str) -> str:
    """Quote an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """Quote an SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def psql_path() -> str:
    """Return the psql client next to the server, or the one on PATH."""
    found = shutil.which("psql")
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/psql"))
    assert candidates, "psql not found: install the 'postgresql-client' package."
    return str(candidates[-1])


def parse_exports(text: str) -> dict[str, str]:
    """Parse the ``export NAME=value`` lines that scripts/start-postgres prints."""
    values = {}
    for line in text.splitlines():
        words = shlex.split(line)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            name, value = words[1].split("=", 1)
            values[name] = value
    return values


def new_schema_name(label: str) -> str:
    """Return a schema name no other test run uses."""
    return f"{label}_{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def postgres():
    """The PostgreSQL test server: the one .ci/run started, or one started here."""
    settings = {name: os.environ.get(f"TEST_POSTGRES_{name}") for name in SETTINGS}
    started_here = False
    if not all(settings.values()):
        result = subprocess.run(
            [str(ROOT / "scripts" / "start-postgres")],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, (
            f"scripts/start-postgres failed (exit {result.returncode}): "
            f"{result.stderr.strip()[-2000:]}"
        )
        exported = parse_exports(result.stdout)
        settings = {name: exported.get(f"TEST_POSTGRES_{name}") for name in SETTINGS}
        started_here = exported.get("TEST_POSTGRES_STARTED") == "1"
        missing = [name for name, value in settings.items() if not value]
        assert not missing, f"scripts/start-postgres printed no TEST_POSTGRES_{missing}"
    server = Postgres(
        host=settings["HOST"],
        port=int(settings["PORT"]),
        user=settings["USER"],
        password=settings["PASSWORD"],
        database=settings["DATABASE"],
    )
    yield server
    if started_here:
        subprocess.run([str(ROOT / "scripts" / "stop-postgres")], check=True)


def install_target() -> Path:
    """Install the pinned target-postgres into .targets/postgres unless it is there."""
    executable = TARGET_VENV / "bin" / "target-postgres"
    stamp = TARGET_VENV / ".installed"
    requirement = f"{TARGET_PACKAGE}=={TARGET_VERSION}"
    if executable.exists() and stamp.exists() and stamp.read_text().strip() == requirement:
        return executable
    # ``uv run`` names its own executable in UV.
    uv = os.environ.get("UV") or shutil.which("uv")
    uv_command = [uv] if uv else [sys.executable, "-m", "uv"]
    # The target runs on the tests' Python, so uv downloads no interpreter.
    steps = [
        [*uv_command, "venv", "--quiet", "--clear", "--python", sys.executable, str(TARGET_VENV)],
        [*uv_command, "pip", "install", "--quiet", "--python", str(TARGET_VENV), requirement],
    ]
    for step in steps:
        result = subprocess.run(step, capture_output=True, text=True, check=False)
        assert result.returncode == 0, (
            f"installing {requirement} failed at {shlex.join(step)}: "
            f"{result.stderr.strip()[-2000:]}"
        )
    stamp.write_text(requirement + "\n")
    return executable


@pytest.fixture(scope="session")
def target_postgres() -> Path:
    """The target-postgres executable of the pinned version."""
    return install_target()


def tap_command() -> list[str]:
    """Return the command that runs the tap CLI installed beside the tests' Python."""
    script = Path(sys.executable).with_name("tap-customerio")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "tap_customerio"]


def discover_catalog(config: dict, workdir: Path) -> dict:
    """Run ``--discover`` through the tap CLI and select every stream."""
    config_path = workdir / "discover-config.json"
    config_path.write_text(json.dumps(config))
    result = subprocess.run(
        [*tap_command(), "--config", str(config_path), "--discover"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"tap --discover failed: {result.stderr.strip()[-2000:]}"
    catalog = json.loads(result.stdout)
    for entry in catalog["streams"]:
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = True
    return catalog


@dataclass
class PipelineRun:
    """What one tap | target run left: the target's last STATE and both logs."""

    state: dict
    tap_log: str
    target_log: str


def run_pipeline(
    target: Path,
    tap_config: dict,
    catalog: dict,
    target_config: dict,
    workdir: Path,
    state: dict | None = None,
) -> PipelineRun:
    """Pipe the tap CLI into target-postgres, as ``meltano run`` does, and wait for both."""
    workdir.mkdir(parents=True, exist_ok=True)
    files = {
        "tap-config.json": tap_config,
        "catalog.json": catalog,
        "target-config.json": target_config,
    }
    for name, content in files.items():
        (workdir / name).write_text(json.dumps(content))
    tap_args = [
        *tap_command(),
        "--config",
        str(workdir / "tap-config.json"),
        "--catalog",
        str(workdir / "catalog.json"),
    ]
    if state:
        (workdir / "state.json").write_text(json.dumps(state))
        tap_args += ["--state", str(workdir / "state.json")]
    target_args = [str(target), "--config", str(workdir / "target-config.json")]

    tap_log_path = workdir / "tap.log"
    target_log_path = workdir / "target.log"
    with tap_log_path.open("w") as tap_log, target_log_path.open("w") as target_log:
        tap = subprocess.Popen(tap_args, stdout=subprocess.PIPE, stderr=tap_log)
        target_process = subprocess.Popen(
            target_args, stdin=tap.stdout, stdout=subprocess.PIPE, stderr=target_log
        )
        # Only the target reads the pipe now, so the tap sees it close if the target dies.
        tap.stdout.close()
        try:
            target_out, _ = target_process.communicate(timeout=PIPELINE_TIMEOUT_SECONDS)
            tap.wait(timeout=PIPELINE_TIMEOUT_SECONDS)
        finally:
            for process in (tap, target_process):
                if process.poll() is None:
                    process.kill()
                    process.wait()

    tap_text = tap_log_path.read_text()
    target_text = target_log_path.read_text()
    assert tap.returncode == 0, f"the tap failed (exit {tap.returncode}):\n{tap_text[-3000:]}"
    assert target_process.returncode == 0, (
        f"target-postgres failed (exit {target_process.returncode}):\n{target_text[-3000:]}"
    )
    states = [json.loads(line) for line in target_out.decode().splitlines() if line.strip()]
    return PipelineRun(state=states[-1] if states else {}, tap_log=tap_text, target_log=target_text)
