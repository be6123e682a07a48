"""Regenerate the settings table of README.md from ``tap-customerio --about --format=markdown``.

The table sits between the ``<!-- settings-table:start -->`` and
``<!-- settings-table:end -->`` markers. ``--check`` only reports whether the table is
current and exits 1 when it is not.

Usage: ``.venv/bin/python scripts/update_readme_settings.py [--check]``
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
START = "<!-- settings-table:start -->"
END = "<!-- settings-table:end -->"


def settings_table(tap_executable: str) -> str:
    """Return the Settings table of the tap's markdown ``--about`` output."""
    about = subprocess.run(
        [tap_executable, "--about", "--format=markdown"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    lines = about.splitlines()
    start = lines.index("## Settings") + 1
    table = []
    for line in lines[start:]:
        if line.startswith("|"):
            table.append(line)
        elif table:
            break
    if not table:
        msg = "the --about markdown output has no Settings table"
        raise ValueError(msg)
    return "\n".join(table)


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
    parser.add_argument(
        "--tap", default=str(Path(sys.executable).with_name("tap-customerio")), help="tap CLI"
    )
    args = parser.parse_args(argv)

    current = README.read_text(encoding="utf-8")
    updated = replace_table(current, settings_table(args.tap))
    if args.check:
        if updated != current:
            print(
                "README.md settings table is stale: run scripts/update_readme_settings.py.",
                file=sys.stderr,
            )
            return 1
        return 0
    README.write_text(updated, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
