"""Soak the tap: long runs against a faulty sandbox, checked record by record.

A sandbox process serves a seeded workspace with 100-200 ms latency and the App API's
10 requests per second limit. Throughout the soak a share of requests fails (5xx,
cut and HTML bodies, connection resets, responses slower than the tap's timeout).
Every 45 s a 429 storm begins (with or without Retry-After), and every 5 minutes (at
most twice) an outage longer than the tap's retry budget. The tap CLI runs with every
stream selected: first a full pass from empty STATE, then incremental passes from the
last STATE until the time is up. A run that fails is resumed from its last STATE, and counted.

Every pass compares each stream's emitted primary keys with the sandbox's truth for
the run's config: nothing may be missing and nothing may be foreign. A full pass must
emit every true record; an incremental pass every true record at or after the
bookmark it started from. The tap's RSS is sampled from /proc every few seconds.

    uv run python -m benchmarks.soak          # at least 10 minutes, writes results/soak.md
    uv run python -m benchmarks.soak --quick --output /tmp/soak.md   # under a minute
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
API_KEY = "soak-app-api-key"
#: A pass whose runs keep failing stops after this many resumes.
MAX_RESUMES = 20
RETRY_LINE = re.compile(r"Stream '([^']+)': (.+?) on \S+ \S+; retry \d+ in")

# Faults on for the whole soak: (mode, share of requests). ``slow`` responds after
# the tap's request timeout, so the tap times out.
STEADY_FAULTS = [
    ("500", 0.02),
    ("502", 0.01),
    ("503", 0.01),
    ("truncated", 0.006),
    ("html", 0.006),
    ("reset", 0.006),
    ("empty", 0.003),
    ("slow", 0.004),
]


@dataclass
class Profile:
    """Data sizes, pacing and fault timing of one kind of soak."""

    name: str
    scale: str
    counts: dict[str, int]
    minutes: float
    latency_ms: tuple[float, float] = (100.0, 200.0)
    #: The sandbox's limit and the tap's max_requests_per_second; None leaves the
    #: tap's default (10).
    rate: float | None = None
    request_timeout: float = 5.0
    max_retries: int = 8
    max_retry_seconds: float = 30.0
    #: Days before the soak that start_date lies; fewer days mean fewer metrics rows.
    history_days: int = 365
    #: Seconds between 429 storms, and the length of each storm.
    storm_every: float = 45.0
    storm_seconds: float = 6.0
    #: Seconds between outages of 503s longer than the retry budget, their length,
    #: and how many there are at most (None: no limit).
    outage_every: float = 300.0
    outage_seconds: float = 40.0
    max_outages: int | None = None
    sample_every: float = 2.0


PROFILES = {
    # The demo workspace, about 1,100 requests a pass: a pass takes about 4 minutes.
    # Outages are limited to two, because each resume reads the full-table streams
    # again, so an outage every few minutes can keep a pass from ever finishing.
    "soak": Profile(name="soak", scale="demo", counts={}, minutes=10.0, max_outages=2),
    # A smaller workspace, faster pacing and short events: a correctness check.
    "quick": Profile(
        name="quick",
        scale="small",
        counts={"campaigns": 4, "newsletters": 5, "broadcasts": 2, "objects": 15},
        minutes=0.0,
        latency_ms=(2.0, 8.0),
        rate=40.0,
        request_timeout=2.0,
        max_retries=8,
        max_retry_seconds=4.0,
        history_days=60,
        storm_every=10.0,
        storm_seconds=1.0,
        outage_every=5.0,
        outage_seconds=6.0,
        max_outages=1,
        sample_every=0.5,
    ),
}


# The sandbox process ---------------------------------------------------------------


def serve(argv: list[str]) -> int:
    """Run a sandbox whose latency varies per request; print its URL, serve until killed."""
    import signal  # noqa: PLC0415

    from sandbox.server import Sandbox  # noqa: PLC0415
    from sandbox.workspace import SCALES  # noqa: PLC0415

    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak serve")
    parser.add_argument("--scale", default="demo", choices=sorted(SCALES))
    parser.add_argument("--counts", default="{}", help="JSON object of dataset sizes")
    parser.add_argument("--latency-ms", type=float, nargs=2, default=(100.0, 200.0))
    parser.add_argument("--rate-limit", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    low, high = args.latency_ms
    jitter = random.Random(args.seed)

    class JitteredSandbox(Sandbox):
        def handle(self, *request: Any) -> tuple:
            time.sleep(jitter.uniform(low, high) / 1000.0)
            return super().handle(*request)

    counts = {**SCALES["small"], **SCALES[args.scale], **json.loads(args.counts)}
    sandbox = JitteredSandbox(
        seed=args.seed, scale=counts, api_key=API_KEY, rate_limit=args.rate_limit or None
    ).start()
    print(f"sandbox serving {sandbox.url}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    sandbox.stop()
    return 0


class SandboxProcess:
    """The jittered sandbox in its own process, with its admin endpoints."""

    def __init__(self, profile: Profile, log_path: Path) -> None:
        low, high = profile.latency_ms
        command = [sys.executable, "-m", "benchmarks.soak", "serve", "--scale", profile.scale]
        command += ["--counts", json.dumps(profile.counts), "--latency-ms", str(low), str(high)]
        command += ["--rate-limit", str(profile.rate or 10.0)]
        # The sandbox prints a traceback for each connection the tap closes mid-response.
        with log_path.open("w") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, stdout=subprocess.PIPE, stderr=log, text=True
            )
        line = self.process.stdout.readline().strip() if self.process.stdout else ""
        if not line.startswith("sandbox serving "):
            self.stop()
            msg = f"the sandbox did not start: {log_path.read_text()[-2000:]}"
            raise RuntimeError(msg)
        self.url = line.removeprefix("sandbox serving ")
        self.admin = self.url.removesuffix("/v1") + "/_sandbox"

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(f"{self.admin}/{path}", timeout=120) as answer:  # noqa: S310
            return json.load(answer)

    def add_fault(self, **options: Any) -> None:
        request = urllib.request.Request(  # noqa: S310
            f"{self.admin}/faults", data=json.dumps(options).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=30):  # noqa: S310
            pass

    def count(self, status: int | None = None) -> int:
        query = f"?status={status}" if status is not None else ""
        return int(self.get(f"requests{query}")["count"])

    def truth(self, stream: str, config: dict) -> list[dict]:
        query = urllib.parse.urlencode({"config": json.dumps(config)})
        return self.get(f"truth/{stream}?{query}")["records"]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


# Faults over time ----------------------------------------------------------------


class FaultSchedule(threading.Thread):
    """Switch on the steady faults, then start one storm or outage per interval."""

    def __init__(self, sandbox: SandboxProcess, profile: Profile) -> None:
        super().__init__(daemon=True)
        self.sandbox = sandbox
        self.profile = profile
        self.stopped = threading.Event()
        self.events: Counter[str] = Counter()

    def run(self) -> None:
        p = self.profile
        for mode, share in STEADY_FAULTS:
            options: dict[str, Any] = {"mode": mode, "share": share}
            if mode == "slow":
                options["seconds"] = p.request_timeout + 1.0
            self.sandbox.add_fault(**options)
        storms = itertools.cycle(["429 with Retry-After", "429 without Retry-After"])
        started = time.monotonic()
        next_storm, next_outage = p.storm_every, p.outage_every
        while not self.stopped.wait(min(next_storm, next_outage) - (time.monotonic() - started)):
            now = time.monotonic() - started
            if now >= next_outage:
                next_outage += p.outage_every
                if p.max_outages is None or self.events["503 outage"] < p.max_outages:
                    self.sandbox.add_fault(mode="503", duration=p.outage_seconds)
                    self.events["503 outage"] += 1
            if now >= next_storm:
                next_storm += p.storm_every
                event = next(storms)
                retry_after = 2 if "with " in event else None
                self.sandbox.add_fault(
                    mode="429", retry_after=retry_after, duration=p.storm_seconds
                )
                self.events[event] += 1


# Tap runs ------------------------------------------------------------------------


@dataclass
class StreamInfo:
    """Primary key and replication key of one stream, from the catalog."""

    keys: list[str]
    replication_key: str | None


@dataclass
class RunResult:
    """One tap process."""

    pass_number: int
    kind: str
    exit_code: int
    wall_s: float
    records: int
    peak_rss_mb: float
    retries: Counter[str]
    error: str


@dataclass
class PassResult:
    """One pass: a run and its resumes, with the record check."""

    number: int
    kind: str
    runs: list[RunResult] = field(default_factory=list)
    requests: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    expected: int = 0
    emitted: int = 0
    unique: int = 0
    lost: dict[str, int] = field(default_factory=dict)
    foreign: dict[str, int] = field(default_factory=dict)
    lost_examples: dict[str, list] = field(default_factory=dict)
    completed: bool = False
    final_state: dict = field(default_factory=dict)

    @property
    def resumes(self) -> int:
        return len(self.runs) - 1

    @property
    def ok(self) -> bool:
        return self.completed and not self.lost and not self.foreign


class RssSampler(threading.Thread):
    """Read VmRSS of one process every ``every`` seconds into a shared list.

    ``peak_mb`` is the last VmHWM read. The ``ru_maxrss`` of ``os.wait4`` is no use
    here: on Linux it includes the parent's RSS at the moment the child was spawned,
    and the soak process keeps every emitted key and the truth in memory.
    """

    def __init__(self, pid: int, every: float, samples: list, label: tuple, t0: float) -> None:
        super().__init__(daemon=True)
        self.pid, self.every, self.samples, self.label, self.t0 = pid, every, samples, label, t0
        self.stopped = threading.Event()
        self.peak_mb = 0.0

    def run(self) -> None:
        status = Path(f"/proc/{self.pid}/status")
        while not self.stopped.is_set():
            try:
                text = status.read_text()
            except OSError:
                return
            match = re.search(r"^VmRSS:\s+(\d+) kB", text, re.MULTILINE)
            if match:
                rss_mb = int(match.group(1)) / 1024
                self.samples.append((time.monotonic() - self.t0, *self.label, rss_mb))
            match = re.search(r"^VmHWM:\s+(\d+) kB", text, re.MULTILINE)
            if match:
                self.peak_mb = max(self.peak_mb, int(match.group(1)) / 1024)
            self.stopped.wait(self.every)


def key_of(record: dict, keys: list[str]) -> str:
    return json.dumps([record.get(k) for k in keys])


def run_tap(
    workdir: Path,
    state: dict | None,
    catalog: dict[str, StreamInfo],
    emitted: dict[str, set],
    label: tuple,
    samples: list,
    t0: float,
    every: float,
) -> tuple[RunResult, dict | None]:
    """Run the tap CLI once; add its primary keys to ``emitted``; return its last STATE."""
    command = [sys.executable, "-m", "tap_customerio", "--config", str(workdir / "config.json")]
    command += ["--catalog", str(workdir / "catalog.json")]
    if state:
        state_path = workdir / "state.json"
        state_path.write_text(json.dumps(state))
        command += ["--state", str(state_path)]
    log_path = workdir / f"tap-{label[0]}-{label[1]}.log"
    last_state: dict | None = None
    records = 0

    def read(stream: Any) -> None:
        nonlocal last_state, records
        for line in stream:
            message = json.loads(line)
            kind = message.get("type")
            if kind == "RECORD":
                records += 1
                name = message["stream"]
                emitted[name].add(key_of(message["record"], catalog[name].keys))
            elif kind == "STATE":
                last_state = message["value"]

    started = time.monotonic()
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=log)
        sampler = RssSampler(process.pid, every, samples, label, t0)
        sampler.start()
        reader = threading.Thread(target=read, args=(process.stdout,))
        reader.start()
        process.wait()
        sampler.stopped.set()
        sampler.join()
        reader.join()
    wall = time.monotonic() - started
    text = log_path.read_text(errors="replace")
    retries = Counter(_reason(m.group(2)) for m in RETRY_LINE.finditer(text))
    error = ""
    if process.returncode != 0:
        lines = [line for line in text.splitlines() if line.strip()]
        errors = [line for line in lines if "| ERROR" in line] or lines[-1:] or [""]
        error = errors[-1].rsplit("| ", 1)[-1][:300]
    result = RunResult(
        pass_number=label[0],
        kind=label[2],
        exit_code=process.returncode,
        wall_s=wall,
        records=records,
        peak_rss_mb=sampler.peak_mb,
        retries=retries,
        error=error,
    )
    return result, last_state


def _reason(text: str) -> str:
    if text.startswith("invalid JSON body"):
        return "invalid JSON body"
    return text


# The record check ------------------------------------------------------------------


def to_epoch(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


def expected_keys(
    truth: list[dict], info: StreamInfo, bookmark: dict | None
) -> tuple[set[str], set[str]]:
    """Return (keys that must be emitted, keys that may be emitted) for one stream.

    Without a bookmark every true record must be emitted. With one, records whose
    replication key is at or after the bookmark of their partition must be.
    """
    allowed = {key_of(r, info.keys) for r in truth}
    if not bookmark or not info.replication_key:
        return allowed, allowed
    partitions = bookmark.get("partitions")
    if partitions is None:
        partitions = [{"context": {}, **bookmark}]
    required = set()
    for record in truth:
        floor = None
        for partition in partitions:
            context = partition.get("context") or {}
            if all(record.get(k) == v for k, v in context.items()):
                floor = to_epoch(partition.get("replication_key_value"))
                break
        value = to_epoch(record.get(info.replication_key))
        if floor is None or value is None or value >= floor:
            required.add(key_of(record, info.keys))
    return required, allowed


def check_pass(
    result: PassResult,
    sandbox: SandboxProcess,
    truth_config: dict,
    catalog: dict[str, StreamInfo],
    state_in: dict,
    emitted: dict[str, set],
) -> None:
    """Fill in the record figures and the losses of one pass."""
    bookmarks = state_in.get("bookmarks", {})
    for name, info in sorted(catalog.items()):
        truth = sandbox.truth(name, truth_config)
        required, allowed = expected_keys(truth, info, bookmarks.get(name))
        got = emitted.get(name, set())
        result.expected += len(required)
        result.unique += len(got)
        lost = required - got
        foreign = got - allowed
        if lost:
            result.lost[name] = len(lost)
            result.lost_examples[name] = sorted(lost)[:3]
        if foreign:
            result.foreign[name] = len(foreign)


# The soak ------------------------------------------------------------------------


def discover(workdir: Path) -> dict[str, StreamInfo]:
    """Discover the catalog, select every stream, return keys and replication keys."""
    config = str(workdir / "config.json")
    output = subprocess.run(
        [sys.executable, "-m", "tap_customerio", "--config", config, "--discover"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    catalog = json.loads(output)
    streams = {}
    for entry in catalog["streams"]:
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = True
        streams[entry["tap_stream_id"]] = StreamInfo(
            keys=entry["key_properties"], replication_key=entry.get("replication_key")
        )
    (workdir / "catalog.json").write_text(json.dumps(catalog))
    return streams


def soak(profile: Profile, minutes: float, workdir: Path) -> dict:
    """Run passes until ``minutes`` have passed (at least one full and one incremental)."""
    sandbox = SandboxProcess(profile, workdir / "sandbox.log")
    # A fixed start date keeps the truth the same for the whole soak.
    start_date = time.strftime(
        "%Y-%m-%dT00:00:00Z", time.gmtime(time.time() - profile.history_days * 86400)
    )
    config: dict[str, Any] = {
        "api_key": API_KEY,
        "api_url": sandbox.url,
        "start_date": start_date,
        "request_timeout": profile.request_timeout,
        "max_retries": profile.max_retries,
        "max_retry_seconds": profile.max_retry_seconds,
    }
    if profile.rate:
        config["max_requests_per_second"] = profile.rate
    (workdir / "config.json").write_text(json.dumps(config))

    truth_config = {k: v for k, v in config.items() if k not in ("api_key", "api_url")}
    samples: list[tuple] = []
    passes: list[PassResult] = []
    schedule = FaultSchedule(sandbox, profile)
    t0 = time.monotonic()

    try:
        catalog = discover(workdir)
        schedule.start()
        state: dict = {}
        for number in itertools.count(1):
            kind = "full" if number == 1 else "incremental"
            passes.append(
                run_pass(
                    number,
                    kind,
                    state,
                    sandbox,
                    catalog,
                    truth_config,
                    workdir,
                    samples,
                    t0,
                    profile.sample_every,
                )
            )
            state = passes[-1].final_state
            elapsed = (time.monotonic() - t0) / 60
            if not passes[-1].completed or (number >= 2 and elapsed >= minutes):
                break
        schedule.stopped.set()
        requests = sandbox.count()
        statuses = {str(s): sandbox.count(s) for s in (429, 500, 502, 503, -1)}
    finally:
        schedule.stopped.set()
        sandbox.stop()

    return {
        "profile": profile,
        "minutes": (time.monotonic() - t0) / 60,
        "passes": passes,
        "samples": samples,
        "requests": requests,
        "statuses": statuses,
        "events": dict(schedule.events),
        "streams": len(catalog),
        "config": {k: v for k, v in config.items() if k not in ("api_key", "api_url")},
    }


def run_pass(
    number: int,
    kind: str,
    state_in: dict,
    sandbox: SandboxProcess,
    catalog: dict[str, StreamInfo],
    truth_config: dict,
    workdir: Path,
    samples: list,
    t0: float,
    every: float,
) -> PassResult:
    """Run the tap from ``state_in``, resuming from its last STATE until it succeeds."""
    result = PassResult(number=number, kind=kind)
    emitted: dict[str, set] = defaultdict(set)
    before = {str(s): sandbox.count(s) for s in (None, 429, 500, 502, 503, -1)}
    state = state_in
    for attempt in range(MAX_RESUMES + 1):
        run_kind = kind if attempt == 0 else "resume"
        run, last_state = run_tap(
            workdir, state, catalog, emitted, (number, attempt, run_kind), samples, t0, every
        )
        result.runs.append(run)
        result.emitted += run.records
        print(
            f"pass {number} ({run_kind}): exit {run.exit_code}, {run.records} records, "
            f"{run.wall_s:.0f} s, peak RSS {run.peak_rss_mb:.0f} MB {run.error}",
            flush=True,
        )
        state = last_state if last_state is not None else state
        if run.exit_code == 0:
            result.completed = True
            break
    after = {str(s): sandbox.count(s) for s in (None, 429, 500, 502, 503, -1)}
    result.requests = after["None"] - before["None"]
    result.statuses = {k: after[k] - before[k] for k in after if k != "None"}
    result.final_state = state
    check_pass(result, sandbox, truth_config, catalog, state_in, emitted)
    return result


# The report ----------------------------------------------------------------------


def describe_machine() -> str:
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}"
    )


def rss_growth(samples: list[tuple]) -> dict:
    """Summarize RSS of the longest run: after its first minute, at its end, its peak.

    ``slope_mb_per_min`` is a least-squares fit over the second half of the run, where
    a leak shows as steady growth and start-up allocation no longer does.
    """
    by_run: dict[tuple, list[tuple[float, float]]] = defaultdict(list)
    for at, pass_number, attempt, _, rss in samples:
        by_run[(pass_number, attempt)].append((at, rss))
    if not by_run:
        return {}
    run, points = max(by_run.items(), key=lambda item: item[1][-1][0] - item[1][0][0])
    start = points[0][0]
    warm = [rss for at, rss in points if at - start >= 60] or [points[-1][1]]
    half = points[len(points) // 2 :]
    slope = 0.0
    if len(half) >= 2:
        mean_t = sum(at for at, _ in half) / len(half)
        mean_r = sum(rss for _, rss in half) / len(half)
        spread = sum((at - mean_t) ** 2 for at, _ in half)
        if spread:
            slope = sum((at - mean_t) * (rss - mean_r) for at, rss in half) / spread * 60
    return {
        "run": f"pass {run[0]}, run {run[1] + 1}",
        "duration_min": (points[-1][0] - start) / 60,
        "after_first_minute_mb": warm[0],
        "at_end_mb": points[-1][1],
        "peak_mb": max(rss for _, rss in points),
        "slope_mb_per_min": slope,
    }


def write_report(outcome: dict, command: str, path: Path) -> None:
    """Write the soak's figures and RSS over time as Markdown, the raw data as JSON."""
    profile: Profile = outcome["profile"]
    passes: list[PassResult] = outcome["passes"]
    runs = [run for p in passes for run in p.runs]
    retries: Counter[str] = Counter()
    for run in runs:
        retries.update(run.retries)
    statuses = outcome["statuses"]
    lost = sum(sum(p.lost.values()) for p in passes)
    foreign = sum(sum(p.foreign.values()) for p in passes)
    growth = rss_growth(outcome["samples"])
    outages = "" if profile.max_outages is None else f" (at most {profile.max_outages})"
    events = ", ".join(f"{k}: {v}" for k, v in sorted(outcome["events"].items()))
    low, high = profile.latency_ms
    rate = f"{profile.rate:g}" if profile.rate else "10 (sandbox) and the tap's default"
    steady = ", ".join(f"{mode} {share:.1%}" for mode, share in STEADY_FAULTS)

    lines = [
        "# Soak",
        "",
        f"Machine: {describe_machine()}. Command: `{command}`.",
        "",
        f"Profile `{profile.name}`: the `{profile.scale}` workspace with "
        f"{json.dumps(profile.counts) if profile.counts else 'its own sizes'}, all "
        f"{outcome['streams']} streams, "
        f"latency {low:g}-{high:g} ms per request, rate limit {rate} requests/s. "
        f"Tap settings: request_timeout {profile.request_timeout:g} s, max_retries "
        f"{profile.max_retries}, max_retry_seconds {profile.max_retry_seconds:g}, "
        f"start_date {outcome['config']['start_date']}.",
        "",
        f"Steady faults (share of requests): {steady}; `slow` responds "
        f"{profile.request_timeout + 1:g} s late, after the tap's timeout. Every "
        f"{profile.storm_every:g} s a {profile.storm_seconds:g} s 429 storm begins "
        "(alternately with Retry-After: 2 and without), and every "
        f"{profile.outage_every:g} s a {profile.outage_seconds:g} s 503 outage{outages}, "
        "longer than the retry budget, which fails the run; the soak then resumes "
        "from the run's last STATE.",
        "",
        "## Figures",
        "",
        "| figure | value |",
        "| --- | ---: |",
        f"| wall time (min) | {outcome['minutes']:.1f} |",
        f"| passes (1 full, then incremental from STATE) | {len(passes)} |",
        f"| tap runs / resumes after a failed run | {len(runs)} / "
        f"{sum(p.resumes for p in passes)} |",
        f"| requests received by the sandbox | {outcome['requests']} |",
        f"| 429 responses sent | {statuses['429']} |",
        f"| 500 / 502 / 503 responses sent | {statuses['500']} / {statuses['502']} / "
        f"{statuses['503']} |",
        f"| connections reset mid-body | {statuses['-1']} |",
        f"| retries by the tap | {sum(retries.values())} |",
        f"| records emitted (with re-reads) | {sum(p.emitted for p in passes)} |",
        f"| records expected (sum over passes) | {sum(p.expected for p in passes)} |",
        f"| **records lost** | **{lost}** |",
        f"| records not in the truth | {foreign} |",
        f"| fault events | {events} |",
        "",
        "Retries by reason: "
        + ", ".join(f"{reason} {count}" for reason, count in retries.most_common())
        + ".",
        "",
        "## Passes",
        "",
        "| pass | kind | runs | requests | 429s | 5xx | retries | emitted | unique keys "
        "| expected | lost | not in truth | wall (s) | peak RSS (MB) | completed |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: | ---: | --- |",
    ]
    for p in passes:
        fivexx = p.statuses["500"] + p.statuses["502"] + p.statuses["503"]
        lines.append(
            f"| {p.number} | {p.kind} | {len(p.runs)} | {p.requests} | {p.statuses['429']} "
            f"| {fivexx} | {sum(sum(r.retries.values()) for r in p.runs)} | {p.emitted} "
            f"| {p.unique} | {p.expected} | {sum(p.lost.values())} "
            f"| {sum(p.foreign.values())} | {sum(r.wall_s for r in p.runs):.0f} "
            f"| {max(r.peak_rss_mb for r in p.runs):.0f} | {'yes' if p.completed else 'no'} |"
        )

    failures = [(p.number, r.error) for p in passes for r in p.runs if r.exit_code]
    if failures:
        lines += ["", "Failed runs (each resumed from its last STATE):", ""]
        lines += [f"- pass {number}: `{error}`" for number, error in failures]
    for p in passes:
        for name, count in sorted(p.lost.items()):
            lines.append(f"- pass {p.number} lost {count} of {name}: {p.lost_examples[name]}")

    lines += ["", "## RSS of the tap process", ""]
    if growth:
        lines += [
            f"Longest run ({growth['run']}, {growth['duration_min']:.1f} min): "
            f"{growth['after_first_minute_mb']:.0f} MB after its first minute, "
            f"{growth['at_end_mb']:.0f} MB at its end, peak {growth['peak_mb']:.0f} MB; "
            f"growth over its second half {growth['slope_mb_per_min']:+.2f} MB/min.",
            "",
        ]
    lines += ["| time (s) | pass | run | RSS (MB) |", "| ---: | ---: | ---: | ---: |"]
    samples = outcome["samples"]
    step = max(1, len(samples) // 40)
    rows = samples[::step]
    if samples and (len(samples) - 1) % step:
        rows.append(samples[-1])
    for at, pass_number, attempt, kind, rss in rows:
        lines.append(f"| {at:.0f} | {pass_number} | {attempt + 1} ({kind}) | {rss:.0f} |")
    path.write_text("\n".join(lines) + "\n")

    raw = {
        "profile": asdict(profile),
        "minutes": outcome["minutes"],
        "requests": outcome["requests"],
        "statuses": statuses,
        "events": outcome["events"],
        "retries": dict(retries),
        "lost": lost,
        "foreign": foreign,
        "rss_growth": growth,
        "passes": [
            {
                "number": p.number,
                "kind": p.kind,
                "runs": [{**asdict(r), "retries": dict(r.retries)} for r in p.runs],
                "requests": p.requests,
                "statuses": p.statuses,
                "emitted": p.emitted,
                "unique": p.unique,
                "expected": p.expected,
                "lost": p.lost,
                "lost_examples": p.lost_examples,
                "foreign": p.foreign,
                "completed": p.completed,
            }
            for p in passes
        ],
        "rss_samples": samples,
    }
    path.with_suffix(".json").write_text(json.dumps(raw, indent=1))


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["serve"]:
        return serve(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smaller workspace, 40 requests/s and short faults: under a minute",
    )
    parser.add_argument(
        "--minutes",
        type=float,
        help="keep starting incremental passes until this many minutes have passed "
        "(default 10, or 0 with --quick: one full and one incremental pass)",
    )
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "soak.md")
    args = parser.parse_args(argv)
    profile = PROFILES["quick" if args.quick else "soak"]
    minutes = profile.minutes if args.minutes is None else args.minutes
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        outcome = soak(profile, minutes, Path(tmp))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    write_report(outcome, "python -m benchmarks.soak " + " ".join(argv), args.output)
    passes = outcome["passes"]
    lost = sum(sum(p.lost.values()) for p in passes)
    print(f"wrote {args.output}: {len(passes)} passes, {lost} records lost", flush=True)
    return 0 if all(p.ok for p in passes) else 1


if __name__ == "__main__":
    sys.exit(main())
