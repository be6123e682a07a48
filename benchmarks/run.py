"""Benchmark the tap against the sandbox and write a Markdown report of the figures.

Each scenario starts a sandbox process with realistic latency and the App API's
10 requests per second limit, runs the tap CLI as a child process with the
scenario's streams selected, and reports requests, the fewest requests the API
allows (its documented page sizes), the lower bound on wall time (requests /
limit), wall time, records per second, tap CPU seconds per 1000 records, peak RSS
and the 429 answers received. CPU-only scenarios (``cpu_*``) have no latency and
no rate limit, for the CPU comparison with the stock SDK pipeline (``--baseline``).
CPU is the tap process's own, read with ``os.wait4``. Peak RSS is the tap's VmHWM from
``/proc/<pid>/status``, sampled until it exits, because ``ru_maxrss`` would also count
the memory the child inherited from this process when it was spawned.

    uv run python -m benchmarks.run --baseline            # every scenario
    uv run python -m benchmarks.run --scenario smoke      # the CI smoke check

The report goes to benchmarks/results/latest.md (and .json) unless ``--output`` names
another file; BENCHMARKS.md quotes such reports with their commands.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
API_KEY = "benchmark-app-api-key"


@dataclass
class Scenario:
    """One benchmark case: the sandbox's data sizes and the streams to sync."""

    name: str
    description: str
    counts: dict[str, int]
    streams: list[str] | None
    config: dict = field(default_factory=dict)
    latency_ms: float = 200.0
    rate_limit: float = 10.0


SCENARIOS = {
    "smoke": Scenario(
        name="smoke",
        description="Tiny workspace, automations only; CI runs it to prove the harness works.",
        counts={"campaigns": 5},
        streams=["campaigns", "campaign_actions"],
        latency_ms=20.0,
    ),
    "deliveries_1m": Scenario(
        name="deliveries_1m",
        description="1,000,000 deliveries over about 15 months.",
        counts={"deliveries": 1_000_000},
        streams=["messages"],
        config={"start_date": "-460d"},
    ),
    "deliveries_100k": Scenario(
        name="deliveries_100k",
        description="100,000 deliveries over about 15 months; peak RSS compared with 1M.",
        counts={"deliveries": 100_000},
        streams=["messages"],
        config={"start_date": "-460d"},
    ),
    "cpu_deliveries": Scenario(
        name="cpu_deliveries",
        description=(
            "CPU only: 200,000 deliveries with no latency and no rate limit, for tap "
            "CPU seconds per 1000 records against the stock pipeline."
        ),
        counts={"deliveries": 200_000},
        streams=["messages"],
        config={"start_date": "-460d"},
        latency_ms=0.0,
        rate_limit=0.0,
    ),
    "automations_500": Scenario(
        name="automations_500",
        description="500 automations with their actions and metrics.",
        counts={"campaigns": 500},
        streams=["campaigns", "campaign_actions", "campaign_metrics", "campaign_action_metrics"],
    ),
    "people_100k": Scenario(
        name="people_100k",
        description="100,000 people with about 30 attributes each.",
        counts={"people": 100_000},
        streams=["customers"],
    ),
    "everything": Scenario(
        name="everything",
        description="The demo workspace with every stream selected.",
        counts={},
        streams=None,
    ),
}


@dataclass
class Result:
    """Figures of one tap run."""

    scenario: str
    pipeline: str
    requests: int
    rate_limited: int
    lower_bound_s: float
    wall_s: float
    records: int
    cpu_s: float
    peak_rss_mb: float
    exit_code: int
    minimum_requests: int = 0
    repeated_requests: int = 0
    economy: list = field(default_factory=list)

    @property
    def bound_ratio(self) -> float:
        return self.wall_s / self.lower_bound_s if self.lower_bound_s else float("nan")

    @property
    def records_per_s(self) -> float:
        return self.records / self.wall_s if self.wall_s else 0.0

    @property
    def records_per_cpu_s(self) -> float:
        return self.records / self.cpu_s if self.cpu_s else 0.0

    @property
    def cpu_per_1000(self) -> float:
        return 1000 * self.cpu_s / self.records if self.records else float("nan")


class SandboxProcess:
    """A sandbox started with ``python -m sandbox`` on a free loopback port."""

    def __init__(self, scenario: Scenario, *, latency_ms: float, rate_limit: float) -> None:
        command = [
            sys.executable,
            "-m",
            "sandbox",
            "--port",
            "0",
            "--scale",
            "demo",
            "--api-key",
            API_KEY,
            "--latency-ms",
            str(latency_ms),
            "--rate-limit",
            str(rate_limit),
        ]
        for name, value in scenario.counts.items():
            command += ["--count", f"{name}={value}"]
        self.process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline().strip() if self.process.stdout else ""
        if not line.startswith("sandbox serving "):
            self.stop()
            msg = f"the sandbox did not start: {line!r}"
            raise RuntimeError(msg)
        self.url = line.removeprefix("sandbox serving ")
        self.admin = self.url.removesuffix("/v1") + "/_sandbox"

    def economy(self) -> list[dict]:
        with urllib.request.urlopen(f"{self.admin}/requests/economy") as answer:  # noqa: S310
            return json.load(answer)["endpoints"]

    def count(self, status: int | None = None) -> int:
        query = f"?status={status}" if status else ""
        with urllib.request.urlopen(f"{self.admin}/requests{query}") as answer:  # noqa: S310
            return int(json.load(answer)["count"])

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def resolve_config(scenario: Scenario, url: str, rate: float) -> dict:
    """Build the tap config, turning "-Nd" dates into ISO dates N days back."""
    config = {"api_key": API_KEY, "api_url": url, "max_requests_per_second": rate}
    for name, value in scenario.config.items():
        resolved = value
        if isinstance(value, str) and value.startswith("-") and value.endswith("d"):
            days = int(value[1:-1])
            resolved = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - days * 86400))
        config[name] = resolved
    return config


def select(catalog: dict, streams: list[str] | None) -> dict:
    """Mark ``streams`` (every stream when None) selected in a discovered catalog."""
    for entry in catalog["streams"]:
        chosen = streams is None or entry["tap_stream_id"] in streams
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = chosen
    return catalog


def run_tap(command: list[str], config: dict, streams: list[str] | None, workdir: Path) -> tuple:
    """Run one tap process; return (exit code, wall s, records, cpu s, peak RSS MB)."""
    config_path = workdir / "config.json"
    config_path.write_text(json.dumps(config))
    # An installed package has compiled bytecode; without it every start compiles
    # the SDK again, which would count as tap CPU. Discovery writes the cache.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    discovered = subprocess.run(
        [*command, "--config", str(config_path), "--discover"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    catalog_path = workdir / "catalog.json"
    catalog_path.write_text(json.dumps(select(json.loads(discovered.stdout), streams)))
    log_path = workdir / "tap.log"

    records = 0

    def count_records(stream) -> None:
        nonlocal records
        for line in stream:
            if line.startswith(b'{"type":"RECORD"') or line.startswith(b'{"type": "RECORD"'):
                records += 1

    started = time.monotonic()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*command, "--config", str(config_path), "--catalog", str(catalog_path)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=log,
            env=env,
        )
        reader = threading.Thread(target=count_records, args=(process.stdout,))
        reader.start()
        peak_kb = 0
        done = threading.Event()

        def sample_peak() -> None:
            nonlocal peak_kb
            while not done.is_set():
                peak_kb = max(peak_kb, read_peak_rss_kb(process.pid))
                done.wait(0.2)

        sampler = threading.Thread(target=sample_peak)
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.monotonic() - started
        done.set()
        sampler.join()
        reader.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return process.returncode, wall, records, cpu, peak_kb / 1024


def read_peak_rss_kb(pid: int) -> int:
    """Return a live process's peak resident set size (VmHWM) in KiB, 0 once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def measure(scenario: Scenario, pipeline: str, *, latency_ms: float, rate: float) -> Result:
    """Run one scenario through one pipeline (``tap`` or ``stock``) on a new sandbox."""
    command = [sys.executable, "-m", "tap_customerio"]
    if pipeline == "stock":
        command = [sys.executable, str(ROOT / "benchmarks" / "stock_tap.py")]
    sandbox = SandboxProcess(scenario, latency_ms=latency_ms, rate_limit=rate or 0)
    try:
        config = resolve_config(scenario, sandbox.url, rate or 1000.0)
        with tempfile.TemporaryDirectory() as tmp:
            code, wall, records, cpu, rss = run_tap(command, config, scenario.streams, Path(tmp))
            if code != 0:
                sys.stderr.write((Path(tmp) / "tap.log").read_text()[-4000:])
        requests = sandbox.count()
        limited = sandbox.count(429)
        economy = sandbox.economy()
    finally:
        sandbox.stop()
    bound = requests / rate if rate else 0.0
    excess = [e for e in economy if e["requests"] > e["minimum"] or e["repeated"]]
    return Result(
        scenario.name,
        pipeline,
        requests,
        limited,
        bound,
        wall,
        records,
        cpu,
        rss,
        code,
        minimum_requests=sum(e["minimum"] for e in economy),
        repeated_requests=sum(e["repeated"] for e in economy),
        economy=excess,
    )


def describe_machine() -> str:
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}"
    )


def write_report(results: list[Result], command: str, path: Path) -> None:
    """Write the figures as Markdown tables with ratios against the stock pipeline."""
    lines = [
        "# Benchmarks",
        "",
        f"Machine: {describe_machine()}. Command: `{command}`.",
        "",
        "`bound` is requests / rate limit, the least wall time the API allows; CPU-only "
        "scenarios have no rate limit, so no bound. `min requests` is the fewest the "
        "API allows with its documented page sizes; `repeated` counts requests "
        "identical to an earlier one of the same run.",
        "",
        "| scenario | pipeline | requests | min requests | repeated | 429s | bound (s) "
        "| wall (s) | wall / bound | records | records/s | records per CPU s "
        "| CPU s per 1000 records | peak RSS (MB) | exit |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: | ---: | ---: |",
    ]
    for r in results:
        bound = f"{r.lower_bound_s:.1f}" if r.lower_bound_s else "-"
        ratio = f"{r.bound_ratio:.2f}" if r.lower_bound_s else "-"
        lines.append(
            f"| {r.scenario} | {r.pipeline} | {r.requests} | {r.minimum_requests} "
            f"| {r.repeated_requests} | {r.rate_limited} | {bound} | {r.wall_s:.1f} | {ratio} "
            f"| {r.records} | {r.records_per_s:.0f} | {r.records_per_cpu_s:.0f} "
            f"| {r.cpu_per_1000:.4f} | {r.peak_rss_mb:.0f} | {r.exit_code} |"
        )
    lines += _stock_ratios(results) + _memory_ratio(results) + _economy(results)
    path.write_text("\n".join(lines) + "\n")
    raw = path.with_suffix(".json")
    raw.write_text(json.dumps([asdict(r) for r in results], indent=2))


def _stock_ratios(results: list[Result]) -> list[str]:
    stock = {r.scenario: r for r in results if r.pipeline == "stock"}
    pairs = [(r, stock[r.scenario]) for r in results if r.pipeline == "tap" and r.scenario in stock]
    if not pairs:
        return []
    lines = [
        "",
        "## Against the stock SDK pipeline",
        "",
        "| scenario | records per CPU s, tap / stock | peak RSS, tap / stock | wall, stock / tap |",
        "| --- | ---: | ---: | ---: |",
    ]
    for tap, base in pairs:
        lines.append(
            f"| {tap.scenario} | {_ratio(tap.records_per_cpu_s, base.records_per_cpu_s)} "
            f"| {_ratio(tap.peak_rss_mb, base.peak_rss_mb)} | {_ratio(base.wall_s, tap.wall_s)} |"
        )
    return lines


def _memory_ratio(results: list[Result]) -> list[str]:
    taps = {r.scenario: r for r in results if r.pipeline == "tap"}
    small, large = taps.get("deliveries_100k"), taps.get("deliveries_1m")
    if not (small and large):
        return []
    return [
        "",
        "## Peak RSS against data size",
        "",
        f"Deliveries, 100k: {small.peak_rss_mb:.0f} MB; 1M: {large.peak_rss_mb:.0f} MB; "
        f"1M / 100k = {_ratio(large.peak_rss_mb, small.peak_rss_mb)}.",
    ]


def _economy(results: list[Result]) -> list[str]:
    lines = [
        "",
        "## Requests above the minimum",
        "",
        "Endpoints that took more requests than the API's page sizes require, or "
        "were read twice with the same query:",
        "",
        "| scenario | pipeline | endpoint | requests | minimum | repeated |",
        "| --- | --- | --- | ---: | ---: | ---: |",
    ]
    rows = [
        f"| {r.scenario} | {r.pipeline} | `{e['endpoint']}` | {e['requests']} "
        f"| {e['minimum']} | {e['repeated']} |"
        for r in results
        for e in r.economy
    ]
    return lines + (rows or ["| (none) | | | | | |"])


def _ratio(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:.2f}" if denominator else "-"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", action="append", choices=sorted(SCENARIOS))
    parser.add_argument(
        "--baseline",
        nargs="*",
        metavar="SCENARIO",
        help="also run these scenarios (all when none is named) through the stock pipeline",
    )
    parser.add_argument(
        "--output", type=Path, default=ROOT / "benchmarks" / "results" / "latest.md"
    )
    args = parser.parse_args(argv)

    names = args.scenario or [n for n in SCENARIOS if n != "smoke"]
    results = []
    for name in names:
        scenario = SCENARIOS[name]
        stock = args.baseline is not None and (not args.baseline or name in args.baseline)
        pipelines = ["tap", "stock"] if stock else ["tap"]
        for pipeline in pipelines:
            result = measure(
                scenario, pipeline, latency_ms=scenario.latency_ms, rate=scenario.rate_limit
            )
            print(json.dumps(asdict(result)), flush=True)
            results.append(result)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    write_report(results, "python -m benchmarks.run " + " ".join(argv or sys.argv[1:]), args.output)
    return 0 if all(r.exit_code == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
