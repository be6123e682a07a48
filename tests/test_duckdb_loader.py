"""scripts/load_jsonl_to_duckdb.py loads every row, whatever the shape of nested values."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent

# The shapes that make target-duckdb 0.8.0 drop rows: an object column holding objects,
# and a column that holds an object in one row and a plain string in another.
RECORDS = [
    {"id": 1, "audience": {"type": 1, "filters": [{"and": []}]}, "data": {"a.b": "x y"}},
    {"id": 2, "audience": None, "data": "plain text"},
    {"id": 3, "audience": {"type": 2}, "data": {"név": "Zoë ☀", "list": [1, 2]}},
    {"id": 4, "data": None},
]


def load_module():
    """Import the loader script, which is not a package module."""
    path = ROOT / "scripts" / "load_jsonl_to_duckdb.py"
    spec = importlib.util.spec_from_file_location("load_jsonl_to_duckdb", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_jsonl(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))


def test_loader_keeps_every_shape(tmp_path):
    loader = load_module()
    write_jsonl(tmp_path / "things-20260101T000000.jsonl", RECORDS[:2])
    write_jsonl(tmp_path / "things-20260102T000000.jsonl", RECORDS[2:])
    database = tmp_path / "out.duckdb"

    counts = loader.load(tmp_path, database)

    assert counts == {"things": len(RECORDS)}
    with duckdb.connect(str(database), read_only=True) as connection:
        ids = [row[0] for row in connection.execute("SELECT id FROM things ORDER BY id").fetchall()]
        text = connection.execute(
            "SELECT CAST(data AS VARCHAR) FROM things WHERE id = 3"
        ).fetchone()
    assert ids == [1, 2, 3, 4]
    assert text is not None
    assert "Zoë ☀" in text[0]


def test_loader_groups_files_by_stream(tmp_path):
    loader = load_module()
    write_jsonl(tmp_path / "a-20260101T000000.jsonl", RECORDS[:1])
    write_jsonl(tmp_path / "a-20260102T000000.jsonl", RECORDS[1:2])
    write_jsonl(tmp_path / "b_c.jsonl", RECORDS[2:])
    (tmp_path / "empty-20260101T000000.jsonl").write_text("")

    groups = loader.files_by_stream(tmp_path)

    assert sorted(groups) == ["a", "b_c"]
    assert len(groups["a"]) == 2


def test_loader_replaces_tables(tmp_path):
    loader = load_module()
    write_jsonl(tmp_path / "things-20260101T000000.jsonl", RECORDS)
    database = tmp_path / "out.duckdb"

    first = loader.load(tmp_path, database)
    second = loader.load(tmp_path, database)

    assert first == {"things": len(RECORDS)}
    assert second == first


def test_loader_quotes_names(tmp_path):
    loader = load_module()

    assert loader.quote_identifier('we"ird') == '"we""ird"'
