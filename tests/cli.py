"""Run the installed ``tap-customerio`` command as a subprocess, as Meltano does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

TAP = str(Path(sys.executable).with_name("tap-customerio"))
# Any request to a host other than 127.0.0.1 goes to a closed local port instead.
NO_OUTSIDE = {
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "NO_PROXY": "127.0.0.1,localhost",
}


@dataclass
class CliRun:
    """Exit code and output channels of one CLI run."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def errors(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if "| ERROR" in line]

    @property
    def states(self) -> list[dict]:
        return [m["value"] for m in self.messages if m["type"] == "STATE"]

    @property
    def messages(self) -> list[dict]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.startswith("{")]

    def records(self, stream: str) -> list[dict]:
        return [
            m["record"] for m in self.messages if m["type"] == "RECORD" and m["stream"] == stream
        ]


def write_json(directory: Path, name: str, value: object) -> str:
    path = directory / name
    path.write_text(value if isinstance(value, str) else json.dumps(value), encoding="utf-8")
    return str(path)


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> CliRun:
    """Run the tap command with ``args`` and a clean TAP_CUSTOMERIO_* environment."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TAP_CUSTOMERIO_")}
    environment.update(NO_OUTSIDE)
    environment.update(env or {})
    done = subprocess.run(
        [TAP, *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=timeout,
        check=False,
    )
    return CliRun(done.returncode, done.stdout, done.stderr)
