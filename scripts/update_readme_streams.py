"""Regenerate the stream table of README.md from the stream classes.

Name, endpoint, primary key and replication key come from each class's ``name``,
``http_method``, ``path``, ``primary_keys`` and ``replication_key``. The method is
FULL_TABLE without a replication key, "client-side filter" for
``client_side_filter = True``, and otherwise the class's ``incremental_method``.
Personal data and request cost come from the ``personal_data`` and ``request_cost``
attributes that each stream class declares next to its keys, and a stream that
also reads a second endpoint lists it in ``extra_endpoints``.

The table sits between the ``<!-- streams-table:start -->`` and
``<!-- streams-table:end -->`` markers. ``--check`` only reports whether the table
is current and exits 1 when it is not.

Usage: ``.venv/bin/python scripts/update_readme_streams.py [--check]``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tap_customerio.streams import STREAM_TYPES  # noqa: E402

README = ROOT / "README.md"
START = "<!-- streams-table:start -->"
END = "<!-- streams-table:end -->"
HEADER = (
    "| Stream | Endpoint | Primary key | Replication key | Method | Personal data "
    "| Requests |\n"
    "|:-------|:---------|:------------|:----------------|:-------|:--------------|:---------|"
)


def class_value(stream_class: type, attribute: str) -> object:
    """Return a class attribute, or None where only the SDK's instance property exists."""
    value = getattr(stream_class, attribute, None)
    return None if isinstance(value, property) else value


def sync_method(stream_class: type) -> str:
    """Return how a stream syncs: FULL_TABLE, or INCREMENTAL with the way it narrows reads."""
    if class_value(stream_class, "replication_key") is None:
        return "FULL_TABLE"
    if getattr(stream_class, "client_side_filter", False):
        return "INCREMENTAL: client-side filter"
    method = getattr(stream_class, "incremental_method", None)
    if not method:
        msg = (
            f"stream '{stream_class.name}' has a replication key but neither "
            "client_side_filter nor incremental_method: set one of them on "
            f"{stream_class.__name__}."
        )
        raise ValueError(msg)
    return f"INCREMENTAL: {method}"


def annotation(stream_class: type, attribute: str) -> str:
    """Return a documentation attribute of a stream class, or raise if it is missing."""
    value = getattr(stream_class, attribute, None)
    if not isinstance(value, str) or not value.strip():
        msg = (
            f"stream '{stream_class.name}' has no {attribute}: set it on "
            f"{stream_class.__name__} next to its keys."
        )
        raise ValueError(msg)
    return value


def stream_row(stream_class: type) -> str:
    """Return the table row of one stream class."""
    method = class_value(stream_class, "http_method") or "GET"
    keys = ", ".join(f"`{key}`" for key in class_value(stream_class, "primary_keys") or ())
    replication_key = class_value(stream_class, "replication_key")
    cells = [
        f"`{stream_class.name}`",
        ", ".join(
            [f"`{method} /v1{stream_class.path}`"]
            + [f"`{endpoint}`" for endpoint in getattr(stream_class, "extra_endpoints", ())]
        ),
        keys,
        f"`{replication_key}`" if replication_key else "",
        sync_method(stream_class),
        annotation(stream_class, "personal_data"),
        annotation(stream_class, "request_cost"),
    ]
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def streams_table(stream_types: list[type] | None = None) -> str:
    """Return the markdown table of every stream, in the order of ``STREAM_TYPES``."""
    rows = [stream_row(stream_class) for stream_class in stream_types or STREAM_TYPES]
    return "\n".join([HEADER, *rows])


def replace_table(readme_text: str, table: str) -> str:
    """Return ``readme_text`` with the text between the markers replaced by ``table``."""
    if START not in readme_text or END not in readme_text:
        msg = f"README.md lacks the {START} and {END} markers"
        raise ValueError(msg)
    before, rest = readme_text.split(START, 1)
    _, after = rest.split(END, 1)
    return f"{before}{START}\n{table}\n{END}{after}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the table is stale")
    args = parser.parse_args(argv)

    current = README.read_text(encoding="utf-8")
    updated = replace_table(current, streams_table())
    if args.check:
        if updated != current:
            print(
                "README.md stream table is stale: run scripts/update_readme_streams.py.",
                file=sys.stderr,
            )
            return 1
        return 0
    README.write_text(updated, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
