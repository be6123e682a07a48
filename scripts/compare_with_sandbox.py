"""Print rows per DuckDB table next to the sandbox's expected count for every stream.

The streams come from the tap's discovered catalog, so a stream that loaded no rows is
listed too. Expected counts come from the sandbox admin endpoint
``/_sandbox/truth/<stream>``. Exits 1 when any count differs.

Usage: ``python scripts/compare_with_sandbox.py --database demo/customerio.duckdb
--sandbox-url http://127.0.0.1:8900/v1``, or ``--postgres-schema tap_customerio`` in
place of ``--database`` to count the tables of that PostgreSQL schema with ``psql``
(connection from the usual ``PGHOST``, ``PGPORT``, ``PGUSER``, ``PGPASSWORD`` and
``PGDATABASE`` variables). Rows that ``ACTIVATE_VERSION`` marked deleted are not counted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import duckdb


def discovered_streams(tap_executable: str) -> list[str]:
    """Return the stream names of the tap's catalog; discovery makes no API call."""
    # Discovery validates the settings, so it needs some api_key, not a valid one.
    env = dict(os.environ, TAP_CUSTOMERIO_API_KEY="discovery-only")
    output = subprocess.run(
        [tap_executable, "--config", "ENV", "--discover"],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    ).stdout
    return [entry["tap_stream_id"] for entry in json.loads(output)["streams"]]


def expected_count(sandbox_root: str, stream: str) -> int | None:
    """Return the sandbox's record count for ``stream``, or None if it has no truth."""
    url = f"{sandbox_root}/_sandbox/truth/{stream}"
    try:
        with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 (loopback URL)
            return len(json.load(response)["records"])
    except urllib.error.HTTPError:
        return None


def loaded_counts(database: Path) -> dict[str, int]:
    """Return rows per table of the ``main`` schema of ``database``."""
    counts: dict[str, int] = {}
    with duckdb.connect(str(database), read_only=True) as connection:
        tables = connection.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchall()
        for (table,) in tables:
            quoted = '"' + table.replace('"', '""') + '"'
            row = connection.execute(f"SELECT count(*) FROM main.{quoted}").fetchone()
            counts[table] = row[0] if row else 0
    return counts


def run_psql(query: str) -> str:
    """Run one query with ``psql`` and return its unaligned, header-less output."""
    psql = shutil.which("psql")
    if psql is None:
        msg = "psql not found: install the PostgreSQL client (Debian package postgresql-client)"
        raise SystemExit(msg)
    command = [psql, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", query]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def postgres_counts(schema: str) -> dict[str, int]:
    """Return live rows per table of ``schema`` in the PostgreSQL database of ``PG*``."""
    literal = schema.replace("'", "''")
    tables = run_psql(
        f"SELECT table_name FROM information_schema.tables WHERE table_schema = '{literal}'"
    ).split()
    counts: dict[str, int] = {}
    for table in tables:
        columns = run_psql(
            "SELECT column_name FROM information_schema.columns "
            f"WHERE table_schema = '{literal}' AND table_name = '{table}'"
        ).split()
        live = ' WHERE "_sdc_deleted_at" IS NULL' if "_sdc_deleted_at" in columns else ""
        counts[table] = int(run_psql(f'SELECT count(*) FROM "{schema}"."{table}"{live}').strip())
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--database", type=Path, help="DuckDB file to read")
    source.add_argument("--postgres-schema", help="PostgreSQL schema to read with psql")
    parser.add_argument("--sandbox-url", required=True, help="sandbox API root, ending in /v1")
    parser.add_argument(
        "--tap", default=str(Path(sys.executable).with_name("tap-customerio")), help="tap CLI"
    )
    args = parser.parse_args(argv)

    sandbox_root = args.sandbox_url.rstrip("/").removesuffix("/v1")
    if args.database is not None:
        loaded = loaded_counts(args.database)
    else:
        loaded = postgres_counts(args.postgres_schema)
    mismatches = 0
    print(f"{'table':<32} {'loaded':>8} {'expected':>9}")
    for stream in discovered_streams(args.tap):
        rows = loaded.get(stream, 0)
        expected = expected_count(sandbox_root, stream)
        if expected is None:
            verdict = "no sandbox truth"
        elif rows == expected:
            verdict = "ok"
        else:
            verdict = "MISMATCH"
            mismatches += 1
        shown = "-" if expected is None else str(expected)
        print(f"{stream:<32} {rows:>8} {shown:>9}  {verdict}")
    if mismatches:
        print(f"{mismatches} table(s) differ from the sandbox's records.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
