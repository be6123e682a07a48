"""Load the JSONL files that target-jsonl wrote into one DuckDB table per stream.

target-jsonl writes ``<stream>-<YYYYMMDDTHHMMSS>.jsonl`` per run. Each table is replaced by
the rows of every file of its stream, read with DuckDB's own JSON reader, so nested
objects arrive as STRUCT, MAP or JSON columns and no row is dropped for its shape.

Usage: ``python scripts/load_jsonl_to_duckdb.py --input output --database demo/customerio.duckdb``
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import defaultdict
from pathlib import Path

import duckdb

# Files are written in the storage format of DuckDB 1.2, so any DuckDB from 1.2 on can open
# them, whichever DuckDB version the loader runs. Without it, a file written by DuckDB 2.0
# fails to open in DuckDB 1.5 ("version number 69").
STORAGE_COMPATIBILITY = "v1.2.0"

# target-jsonl 0.1.4 appends "-<timestamp>" unless do_timestamp_file is false.
FILE_NAME = re.compile(r"^(?P<stream>.+?)(?:-\d{8}T\d{6})?\.jsonl$")


def quote_identifier(name: str) -> str:
    """Quote a DuckDB identifier, doubling any double quote inside it."""
    return '"' + name.replace('"', '""') + '"'


def files_by_stream(input_dir: Path) -> dict[str, list[Path]]:
    """Group the JSONL files of ``input_dir`` by stream name."""
    groups: dict[str, list[Path]] = defaultdict(list)
    for path in sorted(input_dir.glob("*.jsonl")):
        match = FILE_NAME.match(path.name)
        if match and path.stat().st_size > 0:
            groups[match["stream"]].append(path)
    return dict(groups)


def load(input_dir: Path, database: Path, schema: str = "main") -> dict[str, int]:
    """Replace one table per stream with the rows of its files; return rows per table."""
    groups = files_by_stream(input_dir)
    database.parent.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    config = {"storage_compatibility_version": STORAGE_COMPATIBILITY}
    with duckdb.connect(str(database), config=config) as connection:
        connection.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(schema)}")
        for stream, paths in sorted(groups.items()):
            table = f"{quote_identifier(schema)}.{quote_identifier(stream)}"
            # sample_size=-1 infers column types from every row rather than DuckDB's
            # default sample of 20,480, so a shape seen only in later rows still fits.
            connection.execute(
                f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM read_json(?, "
                "format = 'newline_delimited', union_by_name = true, sample_size = -1)",
                [[str(p) for p in paths]],
            )
            row = connection.execute(f"SELECT count(*) FROM {table}").fetchone()
            counts[stream] = row[0] if row else 0
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True, type=Path, help="folder of .jsonl files")
    parser.add_argument("--database", required=True, type=Path, help="DuckDB file to write")
    parser.add_argument("--schema", default="main", help="DuckDB schema of the tables")
    args = parser.parse_args(argv)

    if not args.input.is_dir():
        print(f"input folder {args.input} not found: run target-jsonl first.", file=sys.stderr)
        return 1
    counts = load(args.input, args.database, args.schema)
    if not counts:
        print(f"no .jsonl files with rows in {args.input}: nothing loaded.", file=sys.stderr)
        return 1
    for stream, rows in counts.items():
        print(f"loaded {rows} rows into {args.database}:{args.schema}.{stream}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
